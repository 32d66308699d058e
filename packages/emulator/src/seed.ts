// seedIndex: creates an index if absent and fills it with generated records over plain HTTP,
// the way any Pinecone client would (it works against the emulator or a real index), within
// Pinecone's request limits (1,000 records and 2 MB a request) and backing off on 429 and 5xx.

import { expectedCounts, generateRecords } from './generator.ts';
import type { GeneratorOptions } from './generator.ts';
import type { Metric } from './validation.ts';

export interface SeedOptions extends GeneratorOptions {
  index: string;
  /** Control plane URL (default http://127.0.0.1:5080). */
  url?: string;
  /** Default "pclocal". */
  apiKey?: string;
  /** Default cosine, or dotproduct for sparse and hybrid data. */
  metric?: Metric;
  /** Create a pod-based index instead of a serverless one. */
  pod?: boolean;
  /** Parallel upsert requests (default 4). */
  concurrency?: number;
  /** Called with progress lines. */
  log?: (line: string) => void;
}

export interface SeedResult {
  index: string;
  host: string;
  created: boolean;
  upserted: number;
  /** Records written per namespace (`""` is the default namespace). */
  namespaces: Record<string, number>;
}

const API_VERSION = '2025-04';
const MAX_BATCH_RECORDS = 1000;
const MAX_BATCH_BYTES = 2 * 1024 * 1024 - 4096;

export async function seedIndex(options: SeedOptions): Promise<SeedResult> {
  const base = (options.url ?? 'http://127.0.0.1:5080').replace(/\/+$/, '');
  const apiKey = options.apiKey ?? 'pclocal';
  const log = options.log ?? (() => undefined);
  const headers = { 'Api-Key': apiKey, 'X-Pinecone-Api-Version': API_VERSION, 'Content-Type': 'application/json' };
  const sparseOnly = options.sparse === 'only';
  const metric: Metric = options.metric ?? (options.sparse ? 'dotproduct' : 'cosine');

  let created = false;
  let described = await call(`${base}/indexes/${encodeURIComponent(options.index)}`, { headers });
  if (described.status === 404) {
    const body: Record<string, unknown> = {
      name: options.index,
      metric,
      vector_type: sparseOnly ? 'sparse' : 'dense',
      spec: options.pod
        ? { pod: { environment: 'us-east1-gcp', pod_type: 'p1.x1', pods: 1, replicas: 1, shards: 1 } }
        : { serverless: { cloud: 'aws', region: 'us-east-1' } },
    };
    if (!sparseOnly) body.dimension = options.dim;
    const res = await call(`${base}/indexes`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (res.status === 409) described = await call(`${base}/indexes/${encodeURIComponent(options.index)}`, { headers });
    else {
      if (res.status !== 201) throw new Error(`creating index ${options.index} failed: ${res.status} ${res.text}`);
      described = res;
      created = true;
      log(`created index ${options.index}`);
    }
  }
  if (described.status !== 200 && described.status !== 201) throw new Error(`describing index ${options.index} failed: ${described.status} ${described.text}`);
  const model = JSON.parse(described.text) as { host: string; dimension?: number; vector_type?: string };
  if (!sparseOnly && model.dimension !== options.dim) {
    throw new Error(`index ${options.index} has dimension ${model.dimension}, not ${options.dim}`);
  }
  const host = model.host.startsWith('http') ? model.host : `https://${model.host}`;

  const pending = new Map<string, { parts: string[]; bytes: number }>();
  const inFlight = new Set<Promise<void>>();
  const concurrency = options.concurrency ?? 4;
  let upserted = 0;
  let failure: unknown;

  const send = (namespace: string, parts: string[]): Promise<void> => {
    const body = `{"vectors":[${parts.join(',')}],"namespace":${JSON.stringify(namespace)}}`;
    const p = (async () => {
      const res = await call(`${host}/vectors/upsert`, { method: 'POST', headers, body });
      if (res.status !== 200) throw new Error(`upsert into ${options.index} failed: ${res.status} ${res.text}`);
      upserted += parts.length;
      if (upserted % 10_000 < parts.length) log(`upserted ${upserted} records`);
    })().catch((err: unknown) => {
      failure ??= err;
    });
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    return tracked;
  };

  const flush = async (namespace: string): Promise<void> => {
    const batch = pending.get(namespace);
    if (!batch || batch.parts.length === 0) return;
    pending.delete(namespace);
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) throw failure;
    void send(namespace, batch.parts);
  };

  for (const record of generateRecords(options)) {
    const { namespace, ...vector } = record;
    if (vector.values instanceof Float32Array) vector.values = Array.from(vector.values);
    const json = JSON.stringify(vector);
    let batch = pending.get(namespace);
    if (batch && (batch.parts.length >= MAX_BATCH_RECORDS || batch.bytes + json.length + 1 > MAX_BATCH_BYTES)) {
      await flush(namespace);
      batch = undefined;
    }
    if (!batch) {
      batch = { parts: [], bytes: 64 + namespace.length };
      pending.set(namespace, batch);
    }
    batch.parts.push(json);
    batch.bytes += Buffer.byteLength(json) + 1;
    if (failure) throw failure;
  }
  for (const namespace of [...pending.keys()]) await flush(namespace);
  await Promise.all(inFlight);
  if (failure) throw failure;
  log(`seeded ${upserted} records into ${options.index}`);
  return { index: options.index, host, created, upserted, namespaces: expectedCounts(options) };
}

interface Reply {
  status: number;
  text: string;
}

/** fetch with retries on 429, 5xx and connection errors (capped exponential backoff, jitter). */
async function call(url: string, init: RequestInit): Promise<Reply> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      if ((res.status === 429 || res.status >= 500) && attempt < 12) {
        await sleep(backoff(attempt));
        continue;
      }
      return { status: res.status, text };
    } catch (err) {
      if (attempt >= 12) throw err;
      await sleep(backoff(attempt));
    }
  }
}

function backoff(attempt: number): number {
  return Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
