import { canonicalNamespace, type Metadata, type SourceVector, type VectorRecord } from '@p2m/core';

/**
 * The extractor's task (after Kafka Connect's `SourceTask.poll`): one listed page and what fetch
 * returned for it become records. Pure: no I/O, no clock, no policy.
 */

export interface PageRecords {
  /** In the listed order, one per id that fetch returned. */
  records: VectorRecord[];
  /** Listed but not returned by fetch: deleted between list and fetch. Reported, not an error. */
  vanished: string[];
}

function toSparse(sparse: SourceVector['sparseValues']): VectorRecord['sparse'] {
  if (!sparse || sparse.indices.length === 0) return null;
  return { indices: Array.from(sparse.indices), values: Float32Array.from(sparse.values) };
}

function toValues(values: SourceVector['values']): Float32Array | null {
  // A sparse-only index answers `values: []`. The gRPC fetch already gives a Float32Array of its own.
  if (!values || values.length === 0) return null;
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

export function pageToRecords(namespace: string, listedIds: readonly string[], fetched: readonly SourceVector[]): PageRecords {
  const ns = canonicalNamespace(namespace);
  const byId = new Map<string, SourceVector>();
  for (const v of fetched) byId.set(v.id, v);
  const records: VectorRecord[] = [];
  const vanished: string[] = [];
  const seen = new Set<string>();
  for (const id of listedIds) {
    if (seen.has(id)) continue;
    seen.add(id);
    const v = byId.get(id);
    if (!v) {
      vanished.push(id);
      continue;
    }
    records.push({
      kind: 'vector',
      namespace: ns,
      id,
      values: toValues(v.values),
      sparse: toSparse(v.sparseValues),
      // As-is: the loader validates (and dead-letters) what Milvus cannot take.
      metadata: (v.metadata ?? null) as Metadata | null,
    });
  }
  return { records, vanished };
}

/** Well under the 8 KB request-line limit common to proxies and servers. */
export const DEFAULT_MAX_URL_CHARS = 6_000;

/** Bytes one id adds to a fetch URL (`&ids=` plus the encoded id). */
function idUrlCost(id: string): number {
  return 5 + encodeURIComponent(id).length;
}

/**
 * Split a page's ids into fetch calls: at most `maxIds` each and at most `maxUrlChars` of encoded ids,
 * because fetch is a GET with the ids in the query and a page of 512-character ids would not fit one URL.
 */
export function fetchChunks(ids: readonly string[], maxIds: number, maxUrlChars = DEFAULT_MAX_URL_CHARS): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let chars = 0;
  for (const id of ids) {
    const cost = idUrlCost(id);
    if (current.length > 0 && (current.length >= maxIds || chars + cost > maxUrlChars)) {
      chunks.push(current);
      current = [];
      chars = 0;
    }
    current.push(id);
    chars += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
