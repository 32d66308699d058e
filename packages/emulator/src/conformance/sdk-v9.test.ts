// The official SDK v9 (X-Pinecone-Api-Version 2026-07), unmodified, against the emulator.

import { Errors, Pinecone } from '@pinecone-database/pinecone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../index.ts';
import type { Emulator } from '../index.ts';
import {
  DENSE,
  HYBRID,
  SPARSE,
  asStored,
  byteOrder,
  datasetByNamespace,
  expectRejection,
  expectedCounts,
  float32,
  upsertBatches,
  vectorOf,
} from './harness.ts';
import type { Vector } from './harness.ts';

const KEY = 'v9-conformance-key';
const DENSE_INDEX = 'v9-dense';
const HYBRID_INDEX = 'v9-hybrid';
const SPARSE_INDEX = 'v9-sparse';
const POD_INDEX = 'v9-pod';

let emulator: Emulator;
let pc: Pinecone;
const dense = datasetByNamespace(DENSE);
const hybrid = datasetByNamespace(HYBRID);
const sparse = datasetByNamespace(SPARSE);

/** The SDK's deprecated `spec` accessor, typed loosely (it is a union of spec shapes). */
function legacySpec(model: { spec: unknown }): { serverless?: unknown; pod?: unknown } {
  return model.spec as { serverless?: unknown; pod?: unknown };
}

async function upsertAll(index: string, data: Map<string, Vector[]>): Promise<void> {
  for (const [namespace, records] of data) {
    const idx = pc.index({ name: index, namespace });
    for (const batch of upsertBatches(records)) await idx.upsert({ records: batch as never });
  }
}

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, apiKey: KEY });
  pc = new Pinecone({ apiKey: KEY, controllerHostUrl: emulator.controllerHostUrl });
  const spec = { serverless: { cloud: 'aws' as const, region: 'us-east-1' } };
  await pc.createIndex({ name: DENSE_INDEX, dimension: DENSE.dim, metric: 'cosine', spec, waitUntilReady: true });
  await pc.createIndex({ name: HYBRID_INDEX, dimension: HYBRID.dim, metric: 'dotproduct', spec });
  await pc.createIndex({ name: SPARSE_INDEX, vectorType: 'sparse', metric: 'dotproduct', spec });
  await emulator.createIndex({ name: POD_INDEX, dimension: 8, metric: 'euclidean', pod: true });
  await upsertAll(DENSE_INDEX, dense);
  await upsertAll(HYBRID_INDEX, hybrid);
  await upsertAll(SPARSE_INDEX, sparse);
}, 120_000);

afterAll(async () => {
  await emulator?.close();
});

describe('SDK v9: control plane', () => {
  it('creates and describes serverless indexes in the 2026-07 shape', async () => {
    const model = await pc.describeIndex(DENSE_INDEX);
    expect(model.name).toBe(DENSE_INDEX);
    expect(model.host).toBe(emulator.indexHost(DENSE_INDEX));
    expect(model.host).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(model.status).toEqual({ ready: true, state: 'Ready' });
    expect(model.deployment).toEqual({ deploymentType: 'managed', cloud: 'aws', region: 'us-east-1' });
    expect(model.schema.fields._values).toMatchObject({ type: 'dense_vector', dimension: 32, metric: 'cosine' });
    // The SDK's legacy accessors, derived from schema and deployment.
    expect(model.dimension).toBe(32);
    expect(model.metric).toBe('cosine');
    expect(model.vectorType).toBe('dense');
    expect(legacySpec(model).serverless).toMatchObject({ cloud: 'aws', region: 'us-east-1' });

    const sparseModel = await pc.describeIndex(SPARSE_INDEX);
    expect(sparseModel.vectorType).toBe('sparse');
    expect(sparseModel.metric).toBe('dotproduct');
    expect(sparseModel.dimension).toBeUndefined();
  });

  it('lists indexes', async () => {
    const { indexes } = await pc.listIndexes();
    expect(indexes?.map((i) => i.name).sort()).toEqual([DENSE_INDEX, HYBRID_INDEX, POD_INDEX, SPARSE_INDEX].sort());
  });

  it('describes a pod index as pod-based (which the migration must refuse)', async () => {
    const model = await pc.describeIndex(POD_INDEX);
    expect(model.deployment).toMatchObject({ deploymentType: 'pod', podType: 'p1.x1', environment: 'us-east1-gcp' });
    expect(legacySpec(model).pod).toMatchObject({ podType: 'p1.x1', replicas: 1, shards: 1 });
    expect(legacySpec(model).serverless).toBeUndefined();
    expect(model.dimension).toBe(8);
  });

  it('refuses to create a pod index on 2026-07 and a duplicate name', async () => {
    await expectRejection(
      pc.createIndex({ name: 'v9-newpod', dimension: 4, spec: { pod: { environment: 'us-east1-gcp', podType: 'p1.x1' } } as never }),
      Errors.PineconeArgumentError,
      /Pod-based indexes cannot be created/,
    );
    await expectRejection(
      pc.createIndex({ name: DENSE_INDEX, dimension: 32, spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } }),
      Errors.PineconeConflictError,
      /already exists/,
    );
  });

  it('answers 404 for an unknown index, on both planes', async () => {
    await expectRejection(pc.describeIndex('no-such-index'), Errors.PineconeNotFoundError, /404/);
    await expectRejection(pc.index({ name: 'no-such-index' }).describeIndexStats(), Errors.PineconeNotFoundError, /404/);
    await expectRejection(pc.deleteIndex('no-such-index'), Errors.PineconeNotFoundError);
  });

  it('answers 401 for a bad API key, on both planes', async () => {
    const bad = new Pinecone({ apiKey: 'not-the-key', controllerHostUrl: emulator.controllerHostUrl });
    await expectRejection(bad.describeIndex(DENSE_INDEX), Errors.PineconeAuthorizationError, /API key you provided was rejected/);
    const host = emulator.indexHost(DENSE_INDEX)!;
    await expectRejection(bad.index({ name: DENSE_INDEX, host }).fetch({ ids: ['x'] }), Errors.PineconeAuthorizationError);
  });

  it('creates and deletes an index', async () => {
    await pc.createIndex({ name: 'v9-temp', dimension: 4, spec: { serverless: { cloud: 'gcp', region: 'us-central1' } } });
    expect((await pc.describeIndex('v9-temp')).deployment).toMatchObject({ cloud: 'gcp', region: 'us-central1' });
    await pc.deleteIndex('v9-temp');
    await expectRejection(pc.describeIndex('v9-temp'), Errors.PineconeNotFoundError);
  });
});

describe('SDK v9: data plane', () => {
  it('reports stats and namespace counts for 10,000 upserted records', async () => {
    const counts = expectedCounts(DENSE);
    const idx = pc.index({ name: DENSE_INDEX });
    const stats = await idx.describeIndexStats();
    expect(stats.totalRecordCount).toBe(10_000);
    expect(stats.dimension).toBe(32);
    expect(stats.namespaces).toEqual({
      '': { recordCount: counts['']! },
      'ns-1': { recordCount: counts['ns-1']! },
      'ns-2': { recordCount: counts['ns-2']! },
    });
    const list = await idx.listNamespaces();
    expect(list.namespaces).toEqual([
      expect.objectContaining({ name: '__default__', recordCount: String(counts['']) }),
      expect.objectContaining({ name: 'ns-1', recordCount: String(counts['ns-1']) }),
      expect.objectContaining({ name: 'ns-2', recordCount: String(counts['ns-2']) }),
    ]);
    expect(list.totalCount).toBe(3);
    expect((await idx.describeNamespace('ns-2')).recordCount).toBe(String(counts['ns-2']));
    expect((await idx.describeNamespace('__default__')).recordCount).toBe(String(counts['']));
  });

  it('lists every id exactly once, in byte order, 100 a page, no token on the last page', async () => {
    for (const [namespace, records] of dense) {
      const idx = pc.index({ name: DENSE_INDEX, namespace });
      const ids: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await idx.listPaginated(token ? { paginationToken: token } : {});
        const got = page.vectors?.map((v) => v.id!) ?? [];
        expect(got.length).toBeLessThanOrEqual(100);
        ids.push(...got);
        token = page.pagination?.next;
        pages++;
        if (token) expect(got.length).toBe(100);
      } while (token);
      expect(pages).toBe(Math.ceil(records.length / 100));
      expect(ids).toEqual(records.map((r) => r.id).sort(byteOrder));
    }
  });

  it('lists by prefix', async () => {
    const idx = pc.index({ name: DENSE_INDEX, namespace: 'ns-1' });
    const page = await idx.listPaginated({ prefix: 'doc-10#', limit: 5 });
    const expected = dense
      .get('ns-1')!
      .map((r) => r.id)
      .filter((id) => id.startsWith('doc-10#'))
      .sort(byteOrder);
    expect(page.vectors?.map((v) => v.id)).toEqual(expected.slice(0, 5));
  });

  it('fetches 1,000 ids, edge cases included, with exact float32 values and metadata', async () => {
    const records = dense.get('')!;
    const wanted = records.slice(0, 999);
    const idx = pc.index({ name: DENSE_INDEX });
    const { records: got } = await idx.fetch({ ids: [...wanted.map((r) => r.id), 'no-such-id'] }); // 1,000 ids
    expect(Object.keys(got).sort(byteOrder)).toEqual(wanted.map((r) => r.id).sort(byteOrder));
    for (const r of wanted) {
      const f = got[r.id]!;
      expect(f.id).toBe(r.id);
      expect(float32(f.values)).toEqual(r.values);
      expect(f.metadata).toEqual(r.metadata);
    }
  });

  it('round-trips ids with punctuation, URL metacharacters and 512 characters in every namespace', async () => {
    for (const [namespace, records] of dense) {
      const odd = records.filter((r) => !/^doc-\d+#chunk-\d$/.test(r.id));
      expect(odd.length).toBeGreaterThan(0);
      const { records: got } = await pc.index({ name: DENSE_INDEX, namespace }).fetch({ ids: odd.map((r) => r.id) });
      for (const r of odd) expect(asStored(got[r.id]!), r.id).toEqual({ id: r.id, values: r.values, ...(r.metadata ? { metadata: r.metadata } : {}) });
    }
  });

  it('treats "" and __default__ as the default namespace', async () => {
    const first = dense.get('')![20]!;
    const viaEmpty = await pc.index({ name: DENSE_INDEX, namespace: '' }).fetch({ ids: [first.id] });
    const viaName = await pc.index({ name: DENSE_INDEX, namespace: '__default__' }).fetch({ ids: [first.id] });
    const viaDefault = await pc.index({ name: DENSE_INDEX }).fetch({ ids: [first.id] });
    expect(float32(viaEmpty.records[first.id]!.values)).toEqual(first.values);
    expect(viaName.records).toEqual(viaEmpty.records);
    expect(viaDefault.records).toEqual(viaEmpty.records);
  });

  it('stores hybrid (dense + sparse) and sparse-only records exactly', async () => {
    for (const [index, data] of [
      [HYBRID_INDEX, hybrid],
      [SPARSE_INDEX, sparse],
    ] as const) {
      for (const [namespace, records] of data) {
        const { records: got } = await pc.index({ name: index, namespace }).fetch({ ids: records.slice(0, 50).map((r) => r.id) });
        for (const r of records.slice(0, 50)) {
          expect(asStored(got[r.id]!).sparseValues).toEqual(r.sparseValues);
          expect(float32(got[r.id]!.values)).toEqual(r.values ?? []);
        }
      }
    }
    const stats = await pc.index({ name: SPARSE_INDEX }).describeIndexStats();
    expect(stats.totalRecordCount).toBe(SPARSE.count);
    expect(stats.dimension).toBeUndefined();
  });

  it('queries, updates and deletes', async () => {
    const idx = pc.index({ name: 'v9-crud' });
    await pc.createIndex({ name: 'v9-crud', dimension: 4, metric: 'dotproduct', spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } });
    await idx.upsert({
      records: [
        { id: 'a', values: [1, 0, 0, 0], metadata: { color: 'red', n: 1 } },
        { id: 'b', values: [0, 1, 0, 0], metadata: { color: 'blue', n: 2 } },
        { id: 'c', values: [0.9, 0.1, 0, 0], sparseValues: { indices: [7], values: [2] } },
      ],
    });
    const q = await idx.query({ vector: [1, 0, 0, 0], topK: 2, includeMetadata: true });
    expect(q.matches.map((m) => m.id)).toEqual(['a', 'c']);
    expect(q.matches[0]!.metadata).toEqual({ color: 'red', n: 1 });
    const filtered = await idx.query({ vector: [1, 0, 0, 0], topK: 3, filter: { color: { $eq: 'blue' } } });
    expect(filtered.matches.map((m) => m.id)).toEqual(['b']);

    await idx.update({ id: 'b', metadata: { n: 3, extra: true } });
    await idx.update({ id: 'a', values: [0, 0, 1, 0] });
    const { records } = await idx.fetch({ ids: ['a', 'b'] });
    expect(records.b!.metadata).toEqual({ color: 'blue', n: 3, extra: true });
    expect(records.a!.values).toEqual([0, 0, 1, 0]);

    await idx.deleteOne({ id: 'a' });
    await idx.deleteMany({ ids: ['b'] });
    expect(Object.keys((await idx.fetch({ ids: ['a', 'b', 'c'] })).records)).toEqual(['c']);
    await idx.namespace('other').upsert({ records: [{ id: 'x', values: [1, 1, 1, 1] }] });
    expect((await idx.describeIndexStats()).namespaces).toEqual({ '': { recordCount: 1 }, other: { recordCount: 1 } });
    await idx.deleteNamespace('other');
    await expectRejection(idx.describeNamespace('other'), Errors.PineconeNotFoundError);
    await idx.deleteAll();
    expect((await idx.describeIndexStats()).totalRecordCount).toBe(0);
  });
});

describe('SDK v9: validation errors', () => {
  const idx = (): ReturnType<Pinecone['index']> => pc.index({ name: DENSE_INDEX, namespace: 'errors' });
  const values = vectorOf(32);

  it('refuses an empty id before sending (SDK) and an id over 512 characters (server)', async () => {
    await expectRejection(idx().upsert({ records: [{ id: '', values }] }), Errors.PineconeArgumentError, /id/);
    await expectRejection(idx().upsert({ records: [{ id: 'x'.repeat(513), values }] }), Errors.PineconeBadRequestError, /513 characters.*512/);
    await idx().upsert({ records: [{ id: 'y'.repeat(512), values }] });
  });

  it('refuses a wrong dimension', async () => {
    await expectRejection(
      idx().upsert({ records: [{ id: 'dim', values: [0.1, 0.2, 0.3] }] }),
      Errors.PineconeBadRequestError,
      /Vector dimension 3 does not match the dimension of the index 32/,
    );
  });

  it('refuses nested-object metadata and metadata over 40 KB', async () => {
    await expectRejection(
      idx().upsert({ records: [{ id: 'nested', values, metadata: { inner: { a: 1 } } as never }] }),
      Errors.PineconeBadRequestError,
      /Metadata value must be a string, number, boolean or list of strings.*'inner'/,
    );
    await expectRejection(
      idx().upsert({ records: [{ id: 'big', values, metadata: { blob: 'x'.repeat(41_000) } }] }),
      Errors.PineconeBadRequestError,
      /metadata size is 41011 bytes, which exceeds the limit of 40960 bytes/,
    );
  });

  it('refuses sparse vectors with mismatched lengths or more than 2,048 entries', async () => {
    const h = pc.index({ name: HYBRID_INDEX, namespace: 'errors' });
    const v16 = vectorOf(16);
    await expectRejection(
      h.upsert({ records: [{ id: 's', values: v16, sparseValues: { indices: [1, 2, 3], values: [0.5, 0.5] } }] }),
      Errors.PineconeBadRequestError,
      /indices and values must have the same length/,
    );
    const many = Array.from({ length: 2049 }, (_, i) => i);
    await expectRejection(
      h.upsert({ records: [{ id: 's', values: v16, sparseValues: { indices: many, values: many.map(() => 1) } }] }),
      Errors.PineconeBadRequestError,
      /2049 non-zero values.*2048/,
    );
    await expectRejection(
      idx().upsert({ records: [{ id: 's', values, sparseValues: { indices: [1], values: [1] } }] }),
      Errors.PineconeBadRequestError,
      /dotproduct/,
    );
  });

  it('refuses more than 1,000 vectors, or more than 2 MB, in one upsert', async () => {
    const records = Array.from({ length: 1001 }, (_, i) => ({ id: `r${i}`, values }));
    await expectRejection(idx().upsert({ records }), Errors.PineconeBadRequestError, /1001 vectors.*1000/);
    const heavy = Array.from({ length: 60 }, (_, i) => ({ id: `h${i}`, values, metadata: { blob: 'x'.repeat(40_000) } }));
    await expectRejection(idx().upsert({ records: heavy }), Errors.PineconeBadRequestError, /2MB/);
  });

  it('refuses more than 1,000 ids in one fetch and a list limit over 100', async () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `f${i}`);
    await expectRejection(idx().fetch({ ids }), Errors.PineconeBadRequestError, /1001 ids.*1000/);
    await expectRejection(idx().listPaginated({ limit: 101 }), Errors.PineconeBadRequestError, /limit/);
  });

  it('answers 404 for a namespace that does not exist', async () => {
    await expectRejection(pc.index({ name: DENSE_INDEX }).describeNamespace('no-such-namespace'), Errors.PineconeNotFoundError);
    await expectRejection(pc.index({ name: DENSE_INDEX }).deleteNamespace('no-such-namespace'), Errors.PineconeNotFoundError);
  });
});

// Where a run of Pinecone's own client test suites found the emulator different from Pinecone.
describe('SDK v9: as Pinecone answers its own client tests', () => {
  const spec = { serverless: { cloud: 'aws' as const, region: 'us-east-1' } };

  it('writes values as the shortest decimal of the float32: [0.5, 0.4], in fetch and in query', async () => {
    await pc.createIndex({ name: 'v9-floats', dimension: 2, metric: 'dotproduct', spec });
    const idx = pc.index({ name: 'v9-floats', namespace: 'f' });
    await idx.upsert({ records: [{ id: 'r', values: [0.1, 0.2], sparseValues: { indices: [3], values: [0.7] } }] });
    await idx.update({ id: 'r', values: [0.5, 0.4], sparseValues: { indices: [0, 1], values: [0.5, 0.4] } });
    const { records } = await idx.fetch({ ids: ['r'] });
    expect(records.r!.values).toEqual([0.5, 0.4]);
    expect(records.r!.sparseValues).toEqual({ indices: [0, 1], values: [0.5, 0.4] });
    const q = await idx.query({ vector: [1, 0], topK: 1, includeValues: true });
    expect(q.matches[0]).toMatchObject({ id: 'r', score: 0.5, values: [0.5, 0.4], sparseValues: { indices: [0, 1], values: [0.5, 0.4] } });
    // A sparse index the same way (Pinecone's test updates one with values [0.5, 0.4]).
    const s = pc.index({ name: SPARSE_INDEX });
    const id = sparse.get('')![0]!.id;
    await s.update({ id, sparseValues: { indices: [0, 1], values: [0.5, 0.4] } });
    expect((await s.fetch({ ids: [id] })).records[id]!.sparseValues).toEqual({ indices: [0, 1], values: [0.5, 0.4] });
  });

  it('keeps a namespace when its last record is deleted; deleting there again succeeds', async () => {
    await pc.createIndex({ name: 'v9-emptied', dimension: 2, metric: 'cosine', spec });
    const idx = pc.index({ name: 'v9-emptied', namespace: 'tenant' });
    await idx.upsert({
      records: [
        { id: 'a', values: [1, 0] },
        { id: 'b', values: [0, 1] },
      ],
    });
    await idx.deleteMany({ ids: ['a', 'b'] });
    await idx.deleteOne({ id: 'a' }); // Pinecone: 200; the namespace is still there
    await idx.deleteAll();
    const root = pc.index({ name: 'v9-emptied' });
    expect((await root.listNamespaces()).namespaces).toEqual([expect.objectContaining({ name: 'tenant', recordCount: '0' })]);
    expect((await root.describeNamespace('tenant')).recordCount).toBe('0');
    const stats = await root.describeIndexStats();
    expect(stats.namespaces).toEqual({ tenant: { recordCount: 0 } });
    expect(stats.totalRecordCount).toBe(0);
    await idx.upsert({ records: [{ id: 'c', values: [1, 1] }] });
    expect((await root.describeNamespace('tenant')).recordCount).toBe('1');
    // Until it is deleted as a namespace.
    await root.deleteNamespace('tenant');
    await expectRejection(root.describeNamespace('tenant'), Errors.PineconeNotFoundError);
    await expectRejection(idx.deleteOne({ id: 'c' }), Errors.PineconeNotFoundError);
    expect((await root.listNamespaces()).namespaces ?? []).toEqual([]);
  });

  it('answers an all-zero query vector on euclidean and dotproduct indexes, and refuses it on cosine', async () => {
    const records = [
      { id: 'near', values: [1, 0] },
      { id: 'far', values: [0, 3] },
    ];
    for (const metric of ['euclidean', 'dotproduct'] as const) {
      await pc.createIndex({ name: `v9-zero-${metric}`, dimension: 2, metric, spec });
      const idx = pc.index({ name: `v9-zero-${metric}` });
      await idx.upsert({ records });
      const q = await idx.query({ vector: [0, 0], topK: 2 });
      if (metric === 'euclidean')
        expect(q.matches.map((m) => [m.id, m.score])).toEqual([
          ['near', 1],
          ['far', 9],
        ]);
      else expect(q.matches.map((m) => m.score)).toEqual([0, 0]);
    }
    const cosine = pc.index({ name: DENSE_INDEX });
    await expectRejection(cosine.query({ vector: new Array<number>(32).fill(0), topK: 1 }), Errors.PineconeBadRequestError, /only zeros.*cosine/);
  });

  it('keeps a namespace metadata schema and returns it in create, describe and list', async () => {
    const idx = pc.index({ name: DENSE_INDEX });
    const created = await idx.createNamespace({ name: 'with-schema', schema: { fields: { genre: { filterable: true }, year: { filterable: true } } } });
    expect(created.name).toBe('with-schema');
    expect(created.schema?.fields?.genre?.filterable).toBe(true);
    const described = await idx.describeNamespace('with-schema');
    expect(described.schema).toEqual({ fields: { genre: { filterable: true }, year: { filterable: true } } });
    expect(described.indexedFields?.fields).toEqual(['genre', 'year']);
    const listed = (await idx.listNamespaces()).namespaces?.find((n) => n.name === 'with-schema');
    expect(listed?.schema).toEqual(described.schema);
    await expectRejection(
      idx.createNamespace({ name: 'not-filterable', schema: { fields: { genre: { filterable: false } } } }),
      Errors.PineconeBadRequestError,
      /Field 'genre' is set to filterable: false/,
    );
    await idx.deleteNamespace('with-schema');
  });

  it('keeps a Dedicated read capacity from create and configure, and returns it in describe', async () => {
    await pc.createIndex({
      name: 'v9-dedicated',
      dimension: 4,
      metric: 'cosine',
      spec,
      readCapacity: { mode: 'Dedicated', dedicated: { nodeType: 't1', scaling: 'Manual', manual: { replicas: 2, shards: 1 } } },
    });
    const model = await pc.describeIndex('v9-dedicated');
    expect(model.readCapacity).toEqual({
      mode: 'Dedicated',
      dedicated: { nodeType: 't1', scaling: 'Manual', manual: { replicas: 2, shards: 1 } },
      status: { state: 'Ready', currentReplicas: 2, currentShards: 1 },
    });
    await pc.configureIndex({ name: 'v9-dedicated', readCapacity: { nodeType: 'b1', manual: { replicas: 3, shards: 2 } } });
    expect((await pc.describeIndex('v9-dedicated')).readCapacity).toMatchObject({
      mode: 'Dedicated',
      dedicated: { nodeType: 'b1', manual: { replicas: 3, shards: 2 } },
    });
    await pc.configureIndex({ name: 'v9-dedicated', readCapacity: { mode: 'OnDemand' } });
    expect((await pc.describeIndex('v9-dedicated')).readCapacity).toEqual({ mode: 'OnDemand', status: { state: 'Ready' } });
    await expectRejection(
      pc.configureIndex({ name: POD_INDEX, readCapacity: { mode: 'OnDemand' } }),
      Errors.PineconeBadRequestError,
      /serverless indexes only/,
    );
  });
});
