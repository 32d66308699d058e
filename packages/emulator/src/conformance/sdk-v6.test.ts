// The official SDK v6 (alias pinecone-v6, X-Pinecone-Api-Version 2025-04), unmodified, against
// the emulator: the legacy index model (`dimension`, `metric`, `spec`) and its error handling.

import { Errors, Pinecone } from 'pinecone-v6';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../index.ts';
import type { Emulator } from '../index.ts';
import { DENSE, SPARSE, asStored, byteOrder, datasetByNamespace, expectRejection, expectedCounts, float32, upsertBatches, vectorOf } from './harness.ts';

const KEY = 'v6-conformance-key';
const DENSE_INDEX = 'v6-dense';
const SPARSE_INDEX = 'v6-sparse';
const POD_INDEX = 'v6-pod';

let emulator: Emulator;
let pc: Pinecone;
const dense = datasetByNamespace(DENSE);
const sparse = datasetByNamespace(SPARSE);

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, apiKey: KEY });
  pc = new Pinecone({ apiKey: KEY, controllerHostUrl: emulator.controllerHostUrl });
  await pc.createIndex({
    name: DENSE_INDEX,
    dimension: DENSE.dim,
    metric: 'cosine',
    spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
    waitUntilReady: true,
  });
  await pc.createIndex({ name: SPARSE_INDEX, vectorType: 'sparse', metric: 'dotproduct', spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } });
  // 2025-04 can still create pod indexes, so v6 makes the pod index the migration must refuse.
  await pc.createIndex({ name: POD_INDEX, dimension: 8, metric: 'euclidean', spec: { pod: { environment: 'us-east1-gcp', podType: 'p1.x1', pods: 1 } } });
  for (const [name, data] of [
    [DENSE_INDEX, dense],
    [SPARSE_INDEX, sparse],
  ] as const) {
    for (const [namespace, records] of data) {
      const idx = pc.index(name).namespace(namespace);
      for (const batch of upsertBatches(records)) await idx.upsert(batch as never);
    }
  }
}, 120_000);

afterAll(async () => {
  await emulator?.close();
});

describe('SDK v6: control plane', () => {
  it('describes indexes in the 2025-04 shape', async () => {
    const model = await pc.describeIndex(DENSE_INDEX);
    expect(model).toMatchObject({
      name: DENSE_INDEX,
      dimension: 32,
      metric: 'cosine',
      host: emulator.indexHost(DENSE_INDEX),
      deletionProtection: 'disabled',
      spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
      status: { ready: true, state: 'Ready' },
      vectorType: 'dense',
    });
    expect(await pc.describeIndex(SPARSE_INDEX)).toMatchObject({ vectorType: 'sparse', metric: 'dotproduct', dimension: undefined });
  });

  it('describes the pod index with spec.pod', async () => {
    const model = await pc.describeIndex(POD_INDEX);
    expect(model.spec.pod).toMatchObject({ environment: 'us-east1-gcp', podType: 'p1.x1', pods: 1, replicas: 1, shards: 1 });
    expect(model.spec.serverless).toBeUndefined();
  });

  it('lists indexes and answers 404, 401 and 409', async () => {
    expect((await pc.listIndexes()).indexes?.map((i) => i.name).sort()).toEqual([DENSE_INDEX, POD_INDEX, SPARSE_INDEX]);
    await expectRejection(pc.describeIndex('no-such-index'), Errors.PineconeNotFoundError, /404/);
    await expectRejection(pc.index('no-such-index').describeIndexStats(), Errors.PineconeNotFoundError);
    const bad = new Pinecone({ apiKey: 'wrong-key', controllerHostUrl: emulator.controllerHostUrl });
    await expectRejection(bad.listIndexes(), Errors.PineconeAuthorizationError);
    await expectRejection(bad.index(DENSE_INDEX, emulator.indexHost(DENSE_INDEX)).fetch(['x']), Errors.PineconeAuthorizationError);
    await expectRejection(
      pc.createIndex({ name: DENSE_INDEX, dimension: 32, spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } }),
      Errors.PineconeConflictError,
      /already exists/,
    );
  });
});

describe('SDK v6: data plane', () => {
  it('reports stats and namespace counts', async () => {
    const counts = expectedCounts(DENSE);
    const idx = pc.index(DENSE_INDEX);
    const stats = await idx.describeIndexStats();
    expect(stats).toMatchObject({ dimension: 32, totalRecordCount: 10_000 });
    expect(stats.namespaces).toEqual({
      '': { recordCount: counts[''] },
      'ns-1': { recordCount: counts['ns-1'] },
      'ns-2': { recordCount: counts['ns-2'] },
    });
    const { namespaces } = await idx.listNamespaces();
    expect(namespaces).toEqual([
      { name: '__default__', recordCount: counts[''] },
      { name: 'ns-1', recordCount: counts['ns-1'] },
      { name: 'ns-2', recordCount: counts['ns-2'] },
    ]);
    expect(await idx.describeNamespace('ns-1')).toEqual({ name: 'ns-1', recordCount: counts['ns-1'] });
  });

  it('lists every id exactly once, in byte order', async () => {
    for (const [namespace, records] of dense) {
      const idx = pc.index(DENSE_INDEX).namespace(namespace);
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await idx.listPaginated({ limit: 100, ...(token ? { paginationToken: token } : {}) });
        ids.push(...(page.vectors ?? []).map((v) => v.id!));
        token = page.pagination?.next;
      } while (token);
      expect(ids).toEqual(records.map((r) => r.id).sort(byteOrder));
    }
  });

  it('fetches 1,000 ids with exact values, metadata and odd ids', async () => {
    const records = dense.get('ns-1')!.slice(0, 1000);
    const { records: got } = await pc
      .index(DENSE_INDEX)
      .namespace('ns-1')
      .fetch(records.map((r) => r.id));
    expect(Object.keys(got).length).toBe(1000);
    for (const r of records) expect(asStored(got[r.id]!), r.id).toEqual({ id: r.id, values: r.values, ...(r.metadata ? { metadata: r.metadata } : {}) });
  });

  it('uses the default namespace when none is given', async () => {
    const r = dense.get('')![3]!;
    const { records } = await pc.index(DENSE_INDEX).fetch([r.id]);
    expect(records[r.id]!.metadata).toEqual(r.metadata);
    expect((await pc.index(DENSE_INDEX).namespace('').fetch([r.id])).records).toEqual(records);
  });

  it('stores sparse-only records exactly', async () => {
    const records = sparse.get('')!.slice(0, 100);
    const { records: got } = await pc.index(SPARSE_INDEX).fetch(records.map((r) => r.id));
    for (const r of records) {
      expect(asStored(got[r.id]!).sparseValues).toEqual(r.sparseValues);
      expect(got[r.id]!.values).toEqual([]);
    }
  });

  it('serves a pod index except for list', async () => {
    const idx = pc.index(POD_INDEX);
    await idx.upsert([{ id: 'p1', values: vectorOf(8) }]);
    expect(float32((await idx.fetch(['p1'])).records.p1!.values)).toEqual(vectorOf(8));
    await expectRejection(idx.listPaginated(), Errors.PineconeBadRequestError, /serverless/);
  });
});

describe('SDK v6: validation errors', () => {
  const idx = (): ReturnType<Pinecone['index']> => pc.index(DENSE_INDEX).namespace('errors');
  const values = vectorOf(32);

  it('refuses bad ids, dimensions and metadata with 400', async () => {
    await expectRejection(idx().upsert([{ id: '', values }]), Errors.PineconeArgumentError);
    await expectRejection(idx().upsert([{ id: 'z'.repeat(600), values }]), Errors.PineconeBadRequestError, /600 characters.*512/);
    await expectRejection(
      idx().upsert([{ id: 'd', values: [1, 2] }]),
      Errors.PineconeBadRequestError,
      /Vector dimension 2 does not match the dimension of the index 32/,
    );
    await expectRejection(
      idx().upsert([{ id: 'm', values, metadata: { deep: { er: true } } as never }]),
      Errors.PineconeBadRequestError,
      /Metadata value must be a string, number, boolean or list of strings/,
    );
    await expectRejection(
      idx().upsert([{ id: 'm', values, metadata: { blob: 'é'.repeat(20_500) } }]),
      Errors.PineconeBadRequestError,
      /metadata size is 41011 bytes, which exceeds the limit of 40960 bytes per vector/,
    );
  });

  it('refuses bad sparse vectors and oversized requests with 400', async () => {
    const s = pc.index(SPARSE_INDEX).namespace('errors');
    await expectRejection(s.upsert([{ id: 's', sparseValues: { indices: [1, 2], values: [1] } }]), Errors.PineconeBadRequestError, /same length/);
    const big = Array.from({ length: 3000 }, (_, i) => i * 3);
    await expectRejection(s.upsert([{ id: 's', sparseValues: { indices: big, values: big.map(() => 0.5) } }]), Errors.PineconeBadRequestError, /2048/);
    await expectRejection(s.upsert([{ id: 's', sparseValues: { indices: [4294967296], values: [1] } }]), Errors.PineconeBadRequestError, /4294967295/);
    const many = Array.from({ length: 1500 }, (_, i) => ({ id: `n${i}`, values }));
    await expectRejection(idx().upsert(many), Errors.PineconeBadRequestError, /1500 vectors.*1000/);
  });
});
