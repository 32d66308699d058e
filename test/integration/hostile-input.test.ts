// Hostile and malformed source data through the real pipeline: metadata keys that clash with the
// target's field names (and look-alikes that do not), ids that differ only by case, and what the
// source itself refuses at upsert, as Pinecone does (400 for NaN or infinite values, a dimension
// change, an empty sparse vector); the pipeline's own refusal of such records, should one arrive, is
// in services/loader/src/hostile.test.ts. Every record ends loaded exactly or in the DLQ with a
// reason; the job succeeds and its verification report accounts for every record. (Spec refusals:
// bad-specs.test.ts, packages/core/src/spec.test.ts and services/controller/src/http/server.test.ts;
// the same id in two namespaces: id-collision.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMilvusSink } from '@p2m/milvus-sink';
import type { Emulator } from '@p2m/emulator';
import { startEmulator } from '@p2m/emulator';
import type { Runtime } from '@p2m/cli';
import { API_KEY, milvusAddress, startPipeline, uniqueName, waitForStatus } from './pipeline-harness.ts';

const INDEX = 'hostile-src';
const DIM = 4;
const v = (x: number) => [x, x + 0.25, x + 0.5, x + 0.75];
const sp = (x: number) => ({ indices: [x, 100 + x], values: [0.5, 0.25] });

interface Input {
  namespace: string;
  id: string;
  values: number[];
  sparseValues?: { indices: number[]; values: number[] };
  metadata?: Record<string, unknown>;
}

// Loadable records, including hostile-but-legal ones.
const GOOD: Input[] = [
  { namespace: '', id: 'Doc-1', values: v(1), sparseValues: sp(1), metadata: { title: 'upper' } },
  { namespace: '', id: 'doc-1', values: v(2), sparseValues: sp(2), metadata: { title: 'lower' } },
  { namespace: '', id: 'DOC-1', values: v(3), sparseValues: sp(3), metadata: { title: 'shout' } },
  { namespace: 'ns-a', id: 'sparse', values: v(5), sparseValues: { indices: [7, 3], values: [0.5, 0.25] } },
  // Keys that look like Milvus internals but are not schema fields stay metadata.
  { namespace: 'ns-a', id: 'lookalike', values: v(6), sparseValues: sp(6), metadata: { ID: 'x', Vector: 'y', pk: 1, _default: true } },
];
// Metadata keys that clash with the target's field names (id, vector, sparse_vector, namespace).
const CLASHING: (Input & { key: string })[] = [
  { namespace: '', id: 'meta-id', values: v(7), sparseValues: sp(7), metadata: { id: 'other' }, key: 'id' },
  { namespace: '', id: 'meta-vector', values: v(8), sparseValues: sp(8), metadata: { vector: 'x' }, key: 'vector' },
  { namespace: 'ns-a', id: 'meta-ns', values: v(9), sparseValues: sp(9), metadata: { namespace: 'ns-b' }, key: 'namespace' },
  { namespace: 'ns-a', id: 'meta-sparse', values: v(10), sparseValues: sp(10), metadata: { sparse_vector: 'x' }, key: 'sparse_vector' },
];
// A record without sparse values in a hybrid index (legal in Pinecone): it goes to Milvus with an
// empty sparse vector, which Milvus stores and Milvus Lite 3 refuses ("at least one nonzero
// weight"). Either way it is accounted for: loaded exactly, or in the DLQ with that reason.
const DENSE_ONLY: Input = { namespace: 'ns-a', id: 'dense-only', values: v(11), metadata: { kind: 'dense-only' } };

describe('hostile source data through the pipeline', () => {
  let emulator: Emulator;
  let runtime: Runtime;
  let dataUrl: string;

  const upsert = (body: unknown) =>
    fetch(`${dataUrl}/vectors/upsert`, {
      method: 'POST',
      headers: { 'api-key': API_KEY, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, apiKey: API_KEY, rateLimits: false });
    await emulator.createIndex({ name: INDEX, dimension: DIM, metric: 'dotproduct' });
    dataUrl = emulator.indexHost(INDEX)!;
    if (!dataUrl.startsWith('http')) dataUrl = `http://${dataUrl}`;
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 1 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  it('the source refuses NaN, infinite values, a dimension change and an empty sparse vector at upsert (400), and stores nothing of them', async () => {
    const nan = await upsert(`{"vectors":[{"id":"nan","values":[1,NaN,2,3]}],"namespace":""}`);
    expect(nan.status).toBe(400);
    const inf = await upsert(`{"vectors":[{"id":"inf","values":[1,Infinity,2,3]}],"namespace":""}`);
    expect(inf.status).toBe(400);
    const huge = await upsert(`{"vectors":[{"id":"huge","values":[1,1e39,2,3]}],"namespace":""}`);
    expect(huge.status).toBe(400);
    const dim = await upsert({ vectors: [{ id: 'dim', values: [1, 2, 3] }], namespace: '' });
    expect(dim.status).toBe(400);
    expect(await dim.text()).toMatch(/dimension/i);
    // Pinecone (and so the emulator) refuses an empty sparse vector: one can never reach the pipeline.
    const emptySparse = await upsert({ vectors: [{ id: 'empty-sparse', values: v(4), sparseValues: { indices: [], values: [] } }], namespace: '' });
    expect(emptySparse.status).toBe(400);
    expect(await emptySparse.text()).toMatch(/at least one non-zero/);
    expect(emulator.stats().indexes[INDEX]?.records ?? 0).toBe(0);
  });

  it('hostile records load exactly or go to the DLQ with a reason; the report accounts for every record', async () => {
    const all = [...GOOD, DENSE_ONLY, ...CLASHING.map(({ key: _key, ...r }) => r)];
    for (const ns of new Set(all.map((r) => r.namespace))) {
      const res = await upsert({ vectors: all.filter((r) => r.namespace === ns).map(({ namespace: _n, ...r }) => r), namespace: ns });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    expect(emulator.stats().indexes[INDEX]!.records).toBe(all.length);

    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('hostile') },
    });
    expect(job.plan!.hasSparse).toBe(true);
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);

    // The DLQ: exactly the clashing records, each naming the key (and the dense-only record if the
    // target refuses empty sparse vectors).
    const errors = await runtime.jobs!.errors(job.id, { limit: 100 });
    const byId = new Map(errors.entries.map((e) => [`${e.namespace}/${e.id}`, e]));
    const denseOnlyRefused = byId.get(`${DENSE_ONLY.namespace}/${DENSE_ONLY.id}`);
    if (denseOnlyRefused) {
      expect(denseOnlyRefused.code).toBe('RECORD_REJECTED');
      expect(denseOnlyRefused.reason).toMatch(/sparse.*(nonzero|empty)/i);
    }
    const loaded = denseOnlyRefused ? GOOD : [...GOOD, DENSE_ONLY];
    const dead = (ns: string) => CLASHING.filter((r) => r.namespace === ns).length + (denseOnlyRefused && DENSE_ONLY.namespace === ns ? 1 : 0);
    expect(errors.total, JSON.stringify(errors.entries.map((e) => [e.namespace, e.id, e.code, e.reason]))).toBe(CLASHING.length + (denseOnlyRefused ? 1 : 0));
    for (const c of CLASHING) {
      const e = byId.get(`${c.namespace}/${c.id}`);
      expect(e, `${c.namespace}/${c.id} in the DLQ`).toBeDefined();
      expect(e!.code).toBe('RECORD_INVALID');
      expect(e!.reason).toContain(`metadata key "${c.key}" clashes`);
    }
    // The report: every record extracted is in the target or the DLQ.
    for (const ns of done.report!.namespaces) {
      const want = all.filter((r) => r.namespace === ns.namespace).length;
      expect(ns.extracted, `extracted of "${ns.namespace}"`).toBe(want);
      expect(ns.dlq, `dlq of "${ns.namespace}"`).toBe(dead(ns.namespace));
      expect(ns.targetCount, `target of "${ns.namespace}"`).toBe(want - dead(ns.namespace));
      expect(ns.missing).toBe(0);
    }

    // The loaded records, exactly: case-distinct ids stay distinct.
    const sink = createMilvusSink({ address: milvusAddress() });
    try {
      for (const ns of ['', 'ns-a']) {
        const want = loaded.filter((r) => r.namespace === ns);
        const ids = await sink.listIds(done.plan!, ns, null, 100);
        expect([...ids].sort()).toEqual(want.map((r) => r.id).sort());
        const got = await sink.getRecords(done.plan!, ns, ids);
        for (const w of want) {
          const have = got.find((g) => g.id === w.id)!;
          expect(Array.from(have.values ?? []), w.id).toEqual(Array.from(Float32Array.from(w.values)));
          const sparse = have.sparse ? have.sparse.indices.map((i, j) => [i, have.sparse!.values[j]]).sort((a, b) => a[0]! - b[0]!) : [];
          const wantSparse = w.sparseValues ? w.sparseValues.indices.map((i, j) => [i, w.sparseValues!.values[j]]).sort((a, b) => a[0]! - b[0]!) : [];
          expect(sparse, `sparse of ${w.id}`).toEqual(wantSparse);
          expect(have.metadata ?? {}, `metadata of ${w.id}`).toEqual(w.metadata ?? {});
        }
      }
    } finally {
      await sink.close();
    }
  });
});
