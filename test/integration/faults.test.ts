// A flaky, throttling source: the emulator answers 10% of its requests (data and control plane)
// with 500/502/503 and enforces request budgets below the job's own, so it answers 429 too.
// Transient errors retry with backoff and never reach the DLQ: the job is SUCCESSFUL, its DLQ is
// empty and the target equals the source exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedCounts, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import type { Runtime } from '@p2m/cli';
import {
  API_KEY,
  expectTargetEqualsSource,
  milvusAddress,
  startPipeline,
  startSeededEmulator,
  uniqueName,
  unloadableBySparseRules,
  waitForStatus,
} from './pipeline-harness.ts';
import { waitForJob } from './processes.ts';

// Hybrid (dense + sparse), 3 namespaces, no edge cases: nothing here may legitimately go to the DLQ.
const DATA: GeneratorOptions = { seed: 51, count: 6_000, dim: 16, namespaces: 3, sparse: true, edgeCases: false };
const COUNTS = expectedCounts(DATA);
const INDEX = 'faults-src';

describe('source faults: 5xx at 10% and 429s', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, { ...DATA, metric: 'dotproduct' });
    // From here on, before the job exists: planning, extraction and verification all see faults.
    emulator.setFaults({ errorRate: 0.1, errorStatuses: [500, 502, 503], controlPlane: true, seed: 5 });
    // Far below what the job asks for (its budgets are 100 fetch/s and 200 list/s, and it fetches
    // each page of 100 ids as 4 parallel calls in 3 namespaces at once): it gets 429s at once and
    // backs off. Once throttled, the limits rise to a level the job can finish at in a test's time.
    emulator.setRateLimits({ fetch: 2, list: 4, describe_index_stats: 10, list_namespaces: 10 });
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 2 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  it('the data has nothing Milvus would refuse', () => {
    expect(unloadableBySparseRules(DATA).size).toBe(0);
  });

  it('retries through 429s and 5xx: SUCCESSFUL, DLQ empty, the target equals the source exactly', async () => {
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('faults') },
      options: { fetchBatchSize: 25 },
    });
    expect(job.plan!.hasSparse).toBe(true);
    expect(job.plan!.source.totalRecords).toBe(DATA.count);
    await waitForJob(runtime, job.id, () => emulator.stats().rateLimited >= 5, 'a burst of 429s');
    emulator.setRateLimits({ fetch: 30, list: 40, describe_index_stats: 10, list_namespaces: 10 });
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);

    // The faults really happened: injected 5xx and rate-limit 429s, and retries that rode them out.
    const stats = emulator.stats();
    const fiveHundreds = ['500', '502', '503'].reduce((n, s) => n + (stats.statuses[s] ?? 0), 0);
    expect(stats.faults.errors).toBeGreaterThan(10);
    expect(fiveHundreds).toBe(stats.faults.errors);
    expect(stats.rateLimited).toBeGreaterThanOrEqual(5);
    expect(stats.statuses['429']).toBe(stats.rateLimited);

    expect((await runtime.jobs!.errors(job.id, { limit: 10 })).total).toBe(0);
    for (const ns of done.report!.namespaces) {
      expect(ns.extracted, `extracted of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
      expect(ns.targetCount, `target count of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
      expect(ns.dlq).toBe(0);
    }
    expect(done.progress.total.failed).toBe(0);
    await expectTargetEqualsSource(done.plan!, DATA);
  });
});
