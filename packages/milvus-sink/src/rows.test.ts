import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type CollectionPlan, type VectorRecord } from '@p2m/core';
import { buildRow, buildRows, outputFields, rejectionReason, rowToRecord } from './rows.ts';
import { collectionFields, schemaMismatch } from './admin.ts';
import { fullCapabilities } from '@p2m/testing';

function plan(
  o: {
    partitionKey?: boolean;
    sparse?: boolean;
    emptyRows?: boolean;
    vectorType?: 'dense' | 'sparse';
    fields?: Record<string, string>;
    namespaces?: string[];
  } = {},
): CollectionPlan {
  const spec = parseJobSpec({
    source: { apiKey: 'k', index: 'idx' },
    target: { address: '127.0.0.1:19530', collection: 'c', partitionKey: o.partitionKey ?? true, maxIdLength: 16, ...(o.fields ? { fields: o.fields } : {}) },
  });
  return planCollection({
    spec,
    index: {
      name: 'idx',
      dimension: o.vectorType === 'sparse' ? null : 4,
      metric: o.sparse || o.vectorType === 'sparse' ? 'dotproduct' : 'cosine',
      vectorType: o.vectorType ?? 'dense',
      deployment: 'serverless',
      host: 'h',
      ready: true,
    },
    namespaces: (o.namespaces ?? ['', 'ns']).map((name) => ({ name, recordCount: 1 })),
    capabilities: fullCapabilities(
      o.emptyRows
        ? { nullableVectors: { value: false, how: 'documented', detail: 'test' }, emptySparseRows: { value: true, how: 'documented', detail: 'test' } }
        : {},
    ),
  });
}

const rec = (extra: Partial<VectorRecord> = {}): VectorRecord => ({
  kind: 'vector',
  namespace: 'ns',
  id: 'a',
  values: Float32Array.from([0.1, -2.5, 3.4028234663852886e38, 1.401298464324817e-45]),
  sparse: null,
  metadata: null,
  ...extra,
});

describe('buildRow', () => {
  it('maps a hybrid record to schema fields and spreads metadata for the dynamic field', () => {
    const p = plan({ sparse: true });
    const metadata = { genre: 'drama', year: 1994, score: 0.5, ok: true, tags: ['a', 'b'], empty: '' };
    const row = buildRow(p, rec({ sparse: { indices: [9, 4_294_967_294, 2], values: Float32Array.from([0.5, 1, 2]) }, metadata }));
    expect(row).toEqual({
      ...metadata,
      id: 'a',
      namespace: 'ns',
      vector: [0.1, -2.5, 3.4028234663852886e38, 1.401298464324817e-45].map(Math.fround),
      // Sorted by index, as Milvus requires; object form, never an array of pairs.
      sparse_vector: { indices: [2, 9, 4_294_967_294], values: [2, 0.5, 1] },
    });
    expect(Array.isArray(row['vector'])).toBe(true);
    // The SDK deep-copies rows through JSON: every float32 must survive it exactly.
    const copied = JSON.parse(JSON.stringify(row)) as { vector: number[] };
    expect(Float32Array.from(copied.vector)).toEqual(rec().values);
  });

  it('uses renamed fields, leaves the namespace out in partitions mode and fills an empty sparse vector', () => {
    const p = plan({ partitionKey: false, sparse: true, emptyRows: true, fields: { id: 'pk', vector: 'emb', sparseVector: 'sp', namespace: 'tenant' } });
    const row = buildRow(p, rec({ metadata: { k: 'v' } }));
    expect(Object.keys(row).sort()).toEqual(['emb', 'k', 'pk', 'sp']);
    expect(row['sp']).toEqual({ indices: [], values: [] });
  });

  it('lists the fields to read back', () => {
    expect(outputFields(plan({ sparse: true }))).toEqual(['id', 'namespace', 'vector', 'sparse_vector', '$meta']);
    expect(outputFields(plan({ partitionKey: false }))).toEqual(['id', 'vector', '$meta']);
  });
});

describe('rejectionReason', () => {
  const p = plan({ sparse: true });
  const cases: [string, Partial<VectorRecord>, RegExp][] = [
    ['empty id', { id: '' }, /empty/],
    ['id over max_length (bytes)', { id: 'é'.repeat(9) }, /18 bytes, longer than max_length 16/],
    ['lone surrogate', { id: 'a\uD800' }, /Unicode/],
    ['dimension', { values: Float32Array.from([1, 2]) }, /2 dimensions/],
    ['no dense', { values: null }, /no dense values/],
    ['NaN', { values: Float32Array.from([1, Number.NaN, 1, 1]) }, /finite/],
    ['sparse 2^32-1', { sparse: { indices: [4_294_967_295], values: Float32Array.from([1]) } }, /reserved/],
    ['sparse not uint32', { sparse: { indices: [-1], values: Float32Array.from([1]) } }, /not a uint32/],
    ['sparse duplicate', { sparse: { indices: [3, 3], values: Float32Array.from([1, 2]) } }, /twice/],
    ['sparse negative', { sparse: { indices: [3], values: Float32Array.from([-0.5]) } }, /negative/],
    ['sparse lengths', { sparse: { indices: [3, 4], values: Float32Array.from([1]) } }, /2 indices but 1 values/],
    ['metadata clash', { metadata: { vector: 'x' } }, /clashes/],
    ['metadata $meta', { metadata: { $meta: 'x' } }, /dynamic field/],
    ['metadata Infinity', { metadata: { n: Number.POSITIVE_INFINITY } }, /finite/],
    ['metadata object', { metadata: { o: { a: 1 } as never } }, /object/],
    ['metadata list of numbers', { metadata: { l: [1, 2] as never } }, /non-string/],
    ['metadata too big', { metadata: { s: 'x'.repeat(70_000) } }, /dynamic field holds at most/],
  ];
  it.each(cases)('refuses %s', (_, extra, reason) => {
    expect(rejectionReason(p, rec(extra))).toMatch(reason);
  });

  it('accepts the largest sparse index Milvus stores and zero weights', () => {
    expect(rejectionReason(p, rec({ sparse: { indices: [0, 4_294_967_294], values: Float32Array.from([0, 1]) } }))).toBeNull();
  });

  it('refuses a namespace without a partition in partitions mode', () => {
    expect(rejectionReason(plan({ partitionKey: false }), rec({ namespace: 'other' }))).toMatch(/no partition/);
  });

  it('wants sparse values in a sparse-only collection', () => {
    expect(rejectionReason(plan({ vectorType: 'sparse' }), rec({ values: null }))).toMatch(/no sparse values/);
  });

  it('remembers a loadable record only for the plan it was checked against', () => {
    const r = rec({ namespace: 'other' });
    const keyMode = plan({ namespaces: ['', 'ns', 'other'] });
    const partitions = plan({ partitionKey: false });
    expect(rejectionReason(keyMode, r)).toBeNull();
    expect(rejectionReason(keyMode, r)).toBeNull();
    // Loadable in one collection says nothing about another: no partition for "other" here.
    expect(rejectionReason(partitions, r)).toMatch(/no partition/);
    // A refusal is made anew each time, never turned into an acceptance.
    expect(rejectionReason(partitions, r)).toMatch(/no partition/);
    expect(rejectionReason(keyMode, r)).toBeNull();
  });

  it('splits a batch into rows and named rejections', () => {
    const { rows, rejected } = buildRows(p, [rec({ id: 'ok' }), rec({ id: '' }), rec({ id: 'ok2' })]);
    expect(rows.map((r) => r['id'])).toEqual(['ok', 'ok2']);
    expect(rejected).toEqual([{ index: 1, namespace: 'ns', id: '', reason: 'the id is empty' }]);
  });
});

describe('rowToRecord', () => {
  it('reads a row as the SDK returns it back into the record model', () => {
    const p = plan({ sparse: true });
    const row = {
      id: 'a',
      namespace: 'ns',
      vector: [0.10000000149011612, -2.5, 3.4028234663852886e38, 1.401298464324817e-45],
      sparse_vector: { '4294967294': 1, '2': 2 },
      $meta: { genre: 'drama', tags: ['x'], n: 1 },
    };
    const r = rowToRecord(p, 'ignored', row);
    expect(r.values).toEqual(rec().values);
    expect(r.values).toBeInstanceOf(Float32Array);
    expect(r.sparse).toEqual({ indices: [2, 4_294_967_294], values: Float32Array.from([2, 1]) });
    expect(r.metadata).toEqual({ genre: 'drama', tags: ['x'], n: 1 });
    expect(r.namespace).toBe('ns');
  });

  it('maps an empty sparse vector and empty metadata to null, and takes the namespace asked for in partitions mode', () => {
    const p = plan({ partitionKey: false, sparse: true });
    const r = rowToRecord(p, 'ns', { id: 'a', vector: [1, 2, 3, 4], sparse_vector: {}, $meta: {} });
    expect(r).toMatchObject({ namespace: 'ns', sparse: null, metadata: null });
  });

  it('round-trips through buildRow', () => {
    const p = plan({ sparse: true });
    const original = rec({ sparse: { indices: [1, 5], values: Float32Array.from([0.25, 3]) }, metadata: { a: 'b', n: 2.5, t: true, l: ['x', ''] } });
    const row = buildRow(p, original);
    const { id, namespace, vector, sparse_vector: sv, ...meta } = row;
    const sparse = sv as { indices: number[]; values: number[] };
    const back = rowToRecord(p, 'ns', {
      id,
      namespace,
      vector,
      sparse_vector: Object.fromEntries(sparse.indices.map((i, k) => [String(i), sparse.values[k]])),
      $meta: meta,
    });
    expect(back).toEqual(original);
  });
});

describe('collection schema', () => {
  it('creates the plan fields exactly', () => {
    expect(collectionFields(plan({ sparse: true }))).toEqual([
      { name: 'namespace', data_type: 21, is_partition_key: true, max_length: 4096 },
      { name: 'id', data_type: 21, is_primary_key: true, autoID: false, max_length: 16 },
      { name: 'vector', data_type: 101, dim: 4 },
      { name: 'sparse_vector', data_type: 104, nullable: true },
    ]);
  });

  it('in namespaceAndId mode the key is its own field and the Pinecone id a plain one', () => {
    const spec = parseJobSpec({
      source: { apiKey: 'k', index: 'idx' },
      target: { address: 'a', collection: 'c', primaryKey: 'namespaceAndId', maxIdLength: 16 },
    });
    const p = planCollection({
      spec,
      index: { name: 'idx', dimension: 4, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
      namespaces: [{ name: 'a', recordCount: 1 }],
      capabilities: fullCapabilities(),
    });
    expect(collectionFields(p)).toEqual([
      { name: 'namespace', data_type: 21, is_partition_key: true, max_length: 4096 },
      { name: 'pk', data_type: 21, is_primary_key: true, autoID: false, max_length: 4 + 2 + 4096 + 16 },
      { name: 'id', data_type: 21, max_length: 16 },
      { name: 'vector', data_type: 101, dim: 4 },
    ]);
    expect(buildRow(p, rec({ namespace: 'tenant-a', id: 'r0' }))).toMatchObject({ pk: '8:tenant-a:r0', id: 'r0', namespace: 'tenant-a' });
  });

  it('compares an existing collection with the plan', () => {
    const p = plan();
    const described = [
      { name: 'namespace', data_type: 'VarChar', is_partition_key: true, type_params: [{ key: 'max_length', value: '4096' }] },
      { name: 'id', data_type: 'VarChar', is_primary_key: true, autoID: false, max_length: '16' },
      { name: 'vector', data_type: 'FloatVector', dim: '4' },
    ];
    expect(schemaMismatch(p, described, true)).toBeNull();
    expect(schemaMismatch(p, described, false)).toMatch(/dynamic/);
    expect(schemaMismatch(p, [...described.slice(0, 2), { name: 'vector', data_type: 'FloatVector', dim: '8' }], true)).toMatch(/dim 8/);
    expect(schemaMismatch(p, [...described, { name: 'extra', data_type: 'Int64' }], true)).toMatch(/extra/);
    expect(schemaMismatch(p, described.slice(1), true)).toMatch(/no field "namespace"/);
  });
});
