import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import type { Runtime } from '../../packages/cli/src/runtime.ts';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startPipeline, startSeededEmulator, uniqueName, waitForStatus } from './pipeline-harness.ts';

// 100,000 hybrid records in 3 namespaces (incl. the default one) with the generator's edge cases
// (512-char ids, punctuation, unicode, every metadata type, empty and near-40 KB metadata).
const COUNT = Number(process.env.P2M_TEST_MIGRATE_COUNT ?? 100_000);
const DATA: GeneratorOptions = { seed: 11, count: COUNT, dim: 32, namespaces: 3, sparse: true };
// The generator writes a few ids twice on purpose (an upsert overwrites): count distinct records.
const DISTINCT = new Set(Array.from(generateRecords(DATA), (r) => `${r.namespace}\u0000${r.id}`)).size;

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

  it('partition-key mode: the target equals the source exactly', async () => {
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
    expect(done.report!.namespaces.map((n) => n.targetCount).reduce((a, b) => a + b, 0)).toBe(DISTINCT);
    await expectTargetEqualsSource(done.plan!, DATA);
  });

  it('partitions mode with renamed fields: the target equals the source exactly', async () => {
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
    await expectTargetEqualsSource(done.plan!, DATA);
  });
});
