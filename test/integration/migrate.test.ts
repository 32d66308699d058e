import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords, type Emulator, type GeneratorOptions } from '@p2m/emulator';
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

// 100,000 hybrid records in 3 namespaces (incl. the default one) with the generator's edge cases
// (512-char ids, punctuation, unicode, every metadata type, empty and near-40 KB metadata).
const COUNT = Number(process.env.P2M_TEST_MIGRATE_COUNT ?? 100_000);
const DATA: GeneratorOptions = { seed: 11, count: COUNT, dim: 32, namespaces: 3, sparse: true };
// The generator writes a few ids twice on purpose (an upsert overwrites): count distinct records.
const DISTINCT = new Set(Array.from(generateRecords(DATA), (r) => `${r.namespace}\u0000${r.id}`)).size;
// The generator's edge cases include sparse vectors Milvus refuses (negative weights, index
// 2^32-1): those must land in the DLQ with a reason, and everything else must load exactly.
const UNLOADABLE = unloadableBySparseRules(DATA);

async function expectDlqIsExactlyTheUnloadable(runtime: Runtime, jobId: string): Promise<void> {
  const page = await runtime.jobs!.errors(jobId, { limit: 1000 });
  expect(new Set(page.entries.map((e) => `${e.namespace}\u0000${e.id}`))).toEqual(UNLOADABLE);
  for (const e of page.entries) expect(e.reason).toMatch(/sparse (value|index).*(negative|reserved by Milvus)/);
}

describe('migration end to end (real Kafka, registry, Milvus; emulated Pinecone)', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    emulator = await startSeededEmulator('hybrid-src', { ...DATA, metric: 'dotproduct' });
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 2 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  it('the dataset has records Milvus must refuse, so the DLQ path is exercised', () => {
    expect(UNLOADABLE.size).toBeGreaterThan(0);
  });

  // 100,000 records and a full compare: minutes on a busy 2-core machine.
  it('partition-key mode: the target equals the source exactly', { timeout: 900_000 }, async () => {
    const collection = uniqueName('mig_pk');
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'hybrid-src', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection, description: 'partition key mode' },
    });
    expect(job.status).toBe('IN_PROGRESS');
    expect(job.plan!.namespaceMode).toBe('partitionKey');
    expect(job.plan!.hasSparse).toBe(true);
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    expect(done.report!.namespaces.map((n) => n.targetCount).reduce((a, b) => a + b, 0)).toBe(DISTINCT - UNLOADABLE.size);
    expect(done.report!.namespaces.reduce((a, n) => a + n.dlq, 0)).toBe(UNLOADABLE.size);
    await expectDlqIsExactlyTheUnloadable(runtime, job.id);
    await expectTargetEqualsSource(done.plan!, DATA, UNLOADABLE);
  });

  it('partitions mode with renamed fields: the target equals the source exactly', { timeout: 900_000 }, async () => {
    const collection = uniqueName('mig_parts');
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'hybrid-src', controllerHostUrl: emulator.controllerHostUrl },
      target: {
        address: milvusAddress(),
        collection,
        partitionKey: false,
        fields: { id: 'pk', vector: 'embedding', sparseVector: 'keywords', namespace: 'ns' },
      },
    });
    expect(job.plan!.namespaceMode).toBe('partitions');
    expect(job.plan!.fields.map((f) => f.name).sort()).toEqual(['embedding', 'keywords', 'pk']);
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    await expectDlqIsExactlyTheUnloadable(runtime, job.id);
    await expectTargetEqualsSource(done.plan!, DATA, UNLOADABLE);
  });
});
