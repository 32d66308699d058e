import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@p2m/emulator';
import { createMilvusSink } from '@p2m/milvus-sink';
import type { Runtime } from '@p2m/cli';
import { API_KEY, milvusAddress, startPipeline, uniqueName, waitForStatus } from './pipeline-harness.ts';

// Pinecone ids are unique per namespace; multi-tenant indexes reuse them in every namespace. With
// target.primaryKey "id" the id alone is the Milvus primary key: whichever copy of a reused id the
// loader wrote last is the one row (partition-key mode), and verification sends every other copy
// to the DLQ naming both namespaces, points to "namespaceAndId", and passes (every record is
// accounted for). In partitions mode the server decides: Milvus Lite keeps one row per partition,
// so every copy is in the target. With "namespaceAndId" every (namespace, id) pair is a row.
describe('the same id in several namespaces', () => {
  let emulator: Emulator;
  let runtime: Runtime;
  const NAMESPACES = ['a', 'b', 'c'];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, apiKey: API_KEY, rateLimits: false });
    await emulator.createIndex({ name: 'collide', dimension: 4, metric: 'cosine' });
    const v = (x: number) => [x, 1, 2, 3];
    emulator.load('collide', [
      ...NAMESPACES.map((ns, i) => ({ namespace: ns, id: 'shared', values: v(i + 1), metadata: { from: ns } })),
      { namespace: 'a', id: 'pair', values: v(7), metadata: { from: 'a' } },
      { namespace: 'b', id: 'pair', values: v(8), metadata: { from: 'b' } },
      ...Array.from({ length: 60 }, (_, i) => ({ namespace: NAMESPACES[i % 3]!, id: `own-${i}`, values: v(i) })),
    ]);
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 1 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  async function migrate(target: Record<string, unknown>) {
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'collide', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('collide'), ...target },
    });
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    return { done, errors: await runtime.jobs!.errors(job.id, {}) };
  }

  it('partition-key mode, id keys: one copy of each reused id is the row, every other copy is in the DLQ naming both namespaces', async () => {
    const { done, errors } = await migrate({});
    // 'shared' in 3 namespaces leaves 2 copies out, 'pair' in 2 leaves 1.
    expect(errors.total).toBe(3);
    expect(errors.entries.map((e) => e.id).sort()).toEqual(['pair', 'shared', 'shared']);
    const sink = createMilvusSink({ address: milvusAddress() });
    try {
      for (const id of ['shared', 'pair']) {
        const holders = (await sink.holdersOf(done.plan!, [id])).get(id)!;
        expect(holders).toHaveLength(1);
        const [row] = await sink.getRecords(done.plan!, holders[0]!, [id]);
        expect(row?.metadata).toEqual({ from: holders[0] }); // the row is one namespace's copy, whole
        const lost = errors.entries.filter((e) => e.id === id);
        const everyone = id === 'shared' ? NAMESPACES : ['a', 'b'];
        expect([...lost.map((e) => e.namespace), holders[0]].sort()).toEqual(everyone);
        for (const e of lost) {
          expect(e.code).toBe('ID_COLLISION');
          expect(e.reason).toContain(`namespace "${e.namespace}"`);
          expect(e.reason).toContain(`namespace "${holders[0]}"`);
          expect(e.reason).toContain('target.primaryKey: "namespaceAndId"');
        }
      }
      expect(await sink.countRows(done.plan!)).toBe(62);
    } finally {
      await sink.close();
    }
    const report = done.report!;
    expect(report.idCollisions!.map((c) => c.id).sort()).toEqual(['pair', 'shared', 'shared']);
    expect(report.advice!.join(' ')).toMatch(/3 records share their id.*target\.primaryKey: "namespaceAndId"/);
    expect(report.namespaces.reduce((s, n) => s + n.dlq, 0)).toBe(3);
    expect(report.namespaces.reduce((s, n) => s + n.targetCount, 0)).toBe(62);
    expect(done.progress.total.failed).toBe(3);
  });

  it('partitions mode, id keys: every copy is accounted for, in its partition or in the DLQ', async () => {
    const { done, errors } = await migrate({ partitionKey: false });
    const sink = createMilvusSink({ address: milvusAddress() });
    try {
      const holders = await sink.holdersOf(done.plan!, ['shared', 'pair']);
      const stored = [...holders.values()].reduce((s, h) => s + h.length, 0);
      // Whatever the server does with one id in several partitions, rows + DLQ = the 5 copies.
      expect(stored + errors.total).toBe(5);
      for (const e of errors.entries) expect(e.code).toBe('ID_COLLISION');
      // Rows per partition, as verification counted them (Milvus Lite's count(*) of the whole
      // collection counts an id kept in two partitions once, a query per partition finds both).
      expect(done.report!.namespaces.reduce((s, n) => s + n.targetCount, 0)).toBe(60 + stored);
      expect(done.report!.namespaces.reduce((s, n) => s + n.dlq, 0)).toBe(errors.total);
      if (errors.total > 0) expect(done.report!.advice!.join(' ')).toMatch(/namespaceAndId/);
    } finally {
      await sink.close();
    }
  });

  it('namespaceAndId keys, in both namespace modes: every (namespace, id) pair is its own row, nothing in the DLQ', async () => {
    for (const partitionKey of [true, false]) {
      const { done, errors } = await migrate({ primaryKey: 'namespaceAndId', partitionKey });
      expect(errors.total).toBe(0);
      expect(done.report!.idCollisions).toEqual([]);
      expect(done.report!.reconciliation!.targetRows).toBe(65);
      const sink = createMilvusSink({ address: milvusAddress() });
      try {
        for (const ns of NAMESPACES) {
          const [row] = await sink.getRecords(done.plan!, ns, ['shared']);
          expect(row?.metadata).toEqual({ from: ns });
        }
      } finally {
        await sink.close();
      }
    }
  });
});
