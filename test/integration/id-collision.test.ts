import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@p2m/emulator';
import { createMilvusSink } from '@p2m/milvus-sink';
import type { Runtime } from '@p2m/cli';
import { API_KEY, milvusAddress, startPipeline, uniqueName, waitForStatus } from './pipeline-harness.ts';

// Pinecone ids are unique per namespace; a Milvus primary key is unique per collection. The same
// id in two namespaces must not silently replace a record: one loads, the other goes to the DLQ
// with the reason, and the report accounts for both.
describe('the same id in two namespaces', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, apiKey: API_KEY, rateLimits: false });
    await emulator.createIndex({ name: 'collide', dimension: 4, metric: 'cosine' });
    const v = (x: number) => [x, 1, 2, 3];
    emulator.load('collide', [
      { namespace: 'a', id: 'shared', values: v(1), metadata: { from: 'a' } },
      { namespace: 'b', id: 'shared', values: v(2), metadata: { from: 'b' } },
      ...Array.from({ length: 50 }, (_, i) => ({ namespace: i % 2 ? 'a' : 'b', id: `own-${i}`, values: v(i) })),
    ]);
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 1 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  for (const partitionKey of [true, false]) {
    it(`${partitionKey ? 'partition-key' : 'partitions'} mode: one copy loads, the other is in the DLQ with the reason`, async () => {
      const job = await runtime.jobs!.create({
        source: { apiKey: API_KEY, index: 'collide', controllerHostUrl: emulator.controllerHostUrl },
        target: { address: milvusAddress(), collection: uniqueName('collide'), partitionKey },
      });
      const done = await waitForStatus(runtime, job.id);
      expect(done.status).toBe('SUCCESSFUL');
      const errors = await runtime.jobs!.errors(job.id, {});
      expect(errors.total).toBe(1);
      const [entry] = errors.entries;
      expect(entry!.id).toBe('shared');
      expect(entry!.reason).toMatch(/already stored for namespace "(a|b)".*unique across the collection/);
      const kept = entry!.namespace === 'a' ? 'b' : 'a';
      const sink = createMilvusSink({ address: milvusAddress() });
      try {
        const [record] = await sink.getRecords(done.plan!, kept, ['shared']);
        expect(record?.metadata).toEqual({ from: kept });
        expect(await sink.getRecords(done.plan!, entry!.namespace, ['shared'])).toEqual([]);
        const counts = await sink.countByNamespace(done.plan!, ['a', 'b']);
        expect((counts.get('a') ?? 0) + (counts.get('b') ?? 0)).toBe(51);
      } finally {
        await sink.close();
      }
      expect(done.report!.namespaces.reduce((s, n) => s + n.dlq, 0)).toBe(1);
    });
  }
});
