// One namespace per tenant, the common serverless layout: thousands of namespaces of one to three
// records (the corpus shape many-namespaces), migrated and VERIFIED under Pinecone's rate limits
// (the emulator's defaults: list 200/s, fetch 100/s per index), in partition-key mode. Extraction,
// planning and verification's sampled fetch all share one rate budget per index: a 429 slows them,
// it never fails the job.
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { QUIET_KEEPALIVE } from '@p2m/milvus-sink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, expectedCounts, generateRecords, shapeOptions, startEmulator, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import type { JobView } from '@p2m/core';
import type { Runtime } from '@p2m/cli';
import { API_KEY, milvusAddress, startPipeline, uniqueName, waitForStatus } from './pipeline-harness.ts';

const TENANTS = 5_000;
// The corpus shape: 5,000 namespaces (the default one among them) of 1 to 3 records each.
const DATA: GeneratorOptions = shapeOptions('many-namespaces', { namespaces: TENANTS });
const INDEX = 'tenants-5000';
const SMALL: GeneratorOptions = { seed: 17, count: 300, dim: 4, namespaces: 300, edgeCases: false };
const SMALL_INDEX = 'tenants-throttled';

/** Every (namespace, id) of the collection, read with one query (the test's own check, not the report's). */
async function targetPairs(collection: string, idField: string, nsField: string): Promise<Set<string>> {
  const client = new MilvusClient({
    address: milvusAddress(),
    logLevel: 'error',
    channelOptions: QUIET_KEEPALIVE,
  });
  try {
    await client.connectPromise;
    const res = await client.query({ collection_name: collection, filter: `${idField} != ""`, output_fields: [idField, nsField], limit: 16_384 });
    return new Set(res.data.map((row) => `${String(row[nsField])}\u0000${String(row[idField])}`));
  } finally {
    await client.closeConnection();
  }
}

function sourcePairs(data: GeneratorOptions): Set<string> {
  return new Set(Array.from(generateRecords(data), (r) => `${r.namespace}\u0000${r.id}`));
}

/** Polls the job until `done` says so, writing when extraction finished and when verification began. */
async function follow(runtime: Runtime, id: string, done: (view: JobView) => boolean, timeoutMs: number, marks: Record<string, number>): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  const mark = (name: string, view: JobView): void => {
    if (marks[name] !== undefined) return;
    marks[name] = performance.now();
    process.stderr.write(
      `${JSON.stringify({ test: 'many-namespaces', [name]: Math.round((marks[name] - marks['created']!) / 100) / 10, status: view.status })}\n`,
    );
  };
  for (;;) {
    const view = await runtime.jobs!.get(id);
    if (view.progress.namespaces.length > 0 && view.progress.namespaces.every((n) => n.extractionDone)) mark('extracted_s', view);
    if (view.status !== 'PENDING' && view.status !== 'IN_PROGRESS') mark('loaded_s', view);
    if (['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(view.status)) mark('ended_s', view);
    if (done(view)) return view;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${view.status} after ${timeoutMs / 1000} s: ${JSON.stringify(view.progress.total)}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

describe('many namespaces (one per tenant)', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    // Pinecone's serverless limits per index; seeded in memory (load() bypasses them).
    emulator = await startEmulator({ port: 0, apiKey: API_KEY });
    await emulator.createIndex({ name: INDEX, dimension: DATA.dim, metric: 'cosine' });
    expect(emulator.load(INDEX, generateRecords(DATA))).toBe(DATA.count);
    await emulator.createIndex({ name: SMALL_INDEX, dimension: 4, metric: 'cosine' });
    expect(emulator.load(SMALL_INDEX, generateRecords(SMALL))).toBe(SMALL.count);
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 2 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  // One job, two steps: everything up to verification, then verification itself.
  let jobId = '';
  const marks: Record<string, number> = {};
  let before: ReturnType<Emulator['stats']>;

  it('extracts and loads 5,000 namespaces of 1–3 records under the default rate limits (partition-key mode)', async () => {
    before = emulator.stats();
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('tenants') },
    });
    marks['created'] = performance.now();
    jobId = job.id;
    expect(job.plan!.namespaceMode).toBe('partitionKey');
    expect(job.plan!.source.namespaces).toHaveLength(TENANTS);
    expect(job.plan!.source.totalRecords).toBe(DATA.count);

    const loaded = await follow(runtime, job.id, (v) => v.status !== 'PENDING' && v.status !== 'IN_PROGRESS', 300_000, marks);
    expect(loaded.error).toBeUndefined();
    expect(loaded.progress.total).toMatchObject({ sourceCount: DATA.count, extracted: DATA.count, loaded: DATA.count, failed: 0 });

    // Every (namespace, id) of the source is in the target, and nothing else.
    const names = loaded.plan!.names;
    expect(await targetPairs(loaded.plan!.collection, names.id, names.namespace)).toEqual(sourcePairs(DATA));

    // Namespaces were listed page by page (100 a page), never from describe_index_stats. Requests
    // the emulator refused with 429 count too, and were retried.
    const stats = emulator.stats();
    const calls = (op: string): number => (stats.requests[op] ?? 0) - (before.requests[op] ?? 0);
    const refused = stats.rateLimited - before.rateLimited;
    expect(calls('list_namespaces')).toBeGreaterThanOrEqual(TENANTS / 100);
    expect(calls('list_namespaces')).toBeLessThanOrEqual(TENANTS / 100 + refused);
    expect(calls('describe_index_stats')).toBe(0);
    // One list and one fetch per namespace.
    expect(calls('list')).toBeGreaterThanOrEqual(TENANTS);
    expect(calls('list')).toBeLessThanOrEqual(TENANTS + refused);
    expect(calls('fetch')).toBeGreaterThanOrEqual(TENANTS);
  }, 300_000);

  it('verifies the 5,000 namespaces: every one counted and reconciled, the sampled fetch within the rate limits', async () => {
    expect(jobId).not.toBe('');
    const done = await follow(runtime, jobId, (v) => ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(v.status), 600_000, marks);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    // Every namespace checked; the report lists the ones with a problem (none) and the first 1,000
    // of the others, so a job of 100,000 namespaces still has a job record of a sane size.
    expect(done.report!.namespacesTotal).toBe(TENANTS);
    expect(done.report!.namespaces).toHaveLength(1_000);
    const counts = expectedCounts(DATA);
    for (const ns of done.report!.namespaces) {
      expect(ns.ok).toBe(true);
      expect(ns.targetCount, `namespace "${ns.namespace}"`).toBe(counts[ns.namespace]);
    }
    expect(done.report!.sample.compared).toBe(1000);
    expect(done.report!.sample.mismatches).toEqual([]);
    const after = emulator.stats();
    // The extraction's fetch per namespace and the verification's sampled fetches, none of them lost to a 429.
    expect((after.requests['fetch'] ?? 0) - (before.requests['fetch'] ?? 0)).toBeGreaterThan(TENANTS);
  }, 600_000);

  it('a source that allows fewer fetches than the job asks for slows the job down (429s) and the job still verifies', async () => {
    // 20 fetches/s where the job's budget says 100: every phase meets 429s, verification's fetch
    // of one sampled record per namespace (300 namespaces) included.
    emulator.setRateLimits({ list: 200, fetch: 20, describe_index_stats: 100 });
    try {
      const before = emulator.stats();
      const job = await runtime.jobs!.create({
        source: { apiKey: API_KEY, index: SMALL_INDEX, controllerHostUrl: emulator.controllerHostUrl },
        target: { address: milvusAddress(), collection: uniqueName('throttled') },
      });
      const done = await waitForStatus(runtime, job.id, undefined, 600_000);
      const after = emulator.stats();
      expect(done.error).toBeUndefined();
      expect(done.status).toBe('SUCCESSFUL');
      expect(done.report!.passed).toBe(true);
      expect(done.report!.sample.compared).toBe(SMALL.count);
      expect(after.rateLimited - before.rateLimited).toBeGreaterThan(0);
      // Both the extraction's and the verification's fetches got through: 300 + 300 at least.
      expect((after.requests['fetch'] ?? 0) - (before.requests['fetch'] ?? 0)).toBeGreaterThanOrEqual(2 * SMALL.count);
    } finally {
      emulator.setRateLimits({ ...DEFAULT_RATE_LIMITS });
    }
  }, 600_000);
});
