/**
 * The record model shared by every stage. One Pinecone vector becomes one `VectorRecord`; the end of a
 * namespace is an explicit `EndOfNamespace` marker so consumers know the log is complete without
 * guessing from timing.
 */

/** Pinecone metadata values: string, number, boolean, list of strings. No nested objects. */
export type MetadataValue = string | number | boolean | string[];
export type Metadata = Record<string, MetadataValue>;

export interface SparseVector {
  /** uint32 indices, kept exact (JS numbers hold every uint32). */
  indices: number[];
  values: Float32Array;
}

export interface VectorRecord {
  kind: 'vector';
  /** '' is the default namespace (Pinecone's `__default__`). */
  namespace: string;
  id: string;
  values: Float32Array | null;
  sparse: SparseVector | null;
  /** Numbers keep their JS value; the codec stores safe integers as long and the rest as double. */
  metadata: Metadata | null;
}

export interface EndOfNamespace {
  kind: 'end';
  namespace: string;
  /** Records the extractor published for this namespace in total (all attempts, deduplicated by page). */
  count: number;
}

export type LogRecord = VectorRecord | EndOfNamespace;

export const DEFAULT_NAMESPACE = '';

/** Pinecone names the default namespace both `""` and `"__default__"`. */
export function canonicalNamespace(ns: string | undefined | null): string {
  return ns === undefined || ns === null || ns === '__default__' ? '' : ns;
}

/** Partition key used on the records topic: namespace + id, so one id always lands in one partition. */
export function recordKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}
