import { describe, expect, it } from 'vitest';
import { planCollection, parseJobSpec, type CollectionPlan, type VectorRecord } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import { dedupeLastWins, planBatches } from './task.ts';

function plan(overrides: { partitionKey?: boolean; maxIdLength?: number; sparse?: boolean } = {}): CollectionPlan {
  const spec = parseJobSpec({
    source: { apiKey: 'k', index: 'idx' },
    target: { address: '127.0.0.1:19530', collection: 'c', partitionKey: overrides.partitionKey ?? true, maxIdLength: overrides.maxIdLength ?? 16 },
  });
  return planCollection({
    spec,
    index: {
      name: 'idx',
      dimension: 3,
      metric: overrides.sparse === false ? 'cosine' : 'dotproduct',
      vectorType: 'dense',
      deployment: 'serverless',
      host: 'h',
      ready: true,
    },
    namespaces: [
      { name: '', recordCount: 1 },
      { name: 'a-b', recordCount: 1 },
    ],
    capabilities: fullCapabilities(),
  });
}

const rec = (id: string, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  kind: 'vector',
  namespace: '',
  id,
  values: new Float32Array([1, 2, 3]),
  sparse: null,
  metadata: null,
  ...extra,
});

const reasonsOf = (p: CollectionPlan, records: VectorRecord[]) =>
  planBatches(
    p,
    records.map((record, i) => ({ record, source: `0:${i}` })),
    1 << 20,
  ).rejected.map((r) => r.reason);

describe('planBatches', () => {
  it('rejects records that can never load, each with a reason naming the fix', () => {
    const reasons = reasonsOf(plan(), [
      rec('x'.repeat(17)),
      rec('dim', { values: new Float32Array([1, 2]) }),
      rec('nan', { values: new Float32Array([1, NaN, 3]) }),
      rec('inf', { values: new Float32Array([1, Infinity, 3]) }),
      rec('clash', { metadata: { namespace: 'x' } }),
      rec('meta', { metadata: { $meta: 'x' } }),
      rec('sparse-len', { sparse: { indices: [1, 2], values: new Float32Array([1]) } }),
      rec('sparse-dup', { sparse: { indices: [1, 1], values: new Float32Array([1, 2]) } }),
      rec('sparse-big', { sparse: { indices: [2 ** 32], values: new Float32Array([1]) } }),
      rec('sparse-max', { sparse: { indices: [4294967295], values: new Float32Array([1]) } }),
      rec('sparse-neg', { sparse: { indices: [3], values: new Float32Array([-1]) } }),
      rec('ok', { sparse: { indices: [4294967294], values: new Float32Array([0.5]) }, metadata: { a: 1 } }),
    ]);
    expect(reasons).toHaveLength(11);
    expect(reasons[0]).toMatch(/17 bytes, longer than max_length 16.*target.maxIdLength to at least 17/);
    expect(reasons[1]).toMatch(/2 dimensions but field "vector" has 3/);
    expect(reasons[2]).toMatch(/dense value 1 is NaN/);
    expect(reasons[3]).toMatch(/Infinity/);
    expect(reasons[4]).toMatch(/metadata key "namespace" clashes/);
    expect(reasons[5]).toMatch(/"\$meta"/);
    expect(reasons[6]).toMatch(/2 indices but 1 values/);
    expect(reasons[7]).toMatch(/appears twice/);
    expect(reasons[8]).toMatch(/not a uint32/);
    expect(reasons[9]).toMatch(/reserved by Milvus/);
    expect(reasons[10]).toMatch(/negative/);
  });

  it('refuses sparse values when the collection has no sparse field', () => {
    const reasons = reasonsOf(plan({ sparse: false }), [rec('s', { sparse: { indices: [1], values: new Float32Array([1]) } })]);
    expect(reasons).toEqual(['the record has sparse values but the collection has no sparse vector field']);
  });

  it('cuts batches by bytes and keeps every accepted record exactly once, in order', () => {
    const p = plan();
    const records = Array.from({ length: 50 }, (_, i) => ({ record: rec(`id${i}`), source: `0:${i}` }));
    const { batches, rejected } = planBatches(p, records, 64 * 1024);
    expect(rejected).toEqual([]);
    const small = planBatches(p, records, 1).batches; // never below one record per batch
    expect(small).toHaveLength(50);
    expect(batches.flatMap((b) => b.records.map((r) => r.id))).toEqual(records.map((r) => r.record.id));
  });

  it('splits by partition in partitions mode', () => {
    const p = plan({ partitionKey: false });
    const { batches } = planBatches(
      p,
      [
        { record: rec('a'), source: '0:0' },
        { record: rec('b', { namespace: 'a-b' }), source: '0:1' },
      ],
      1 << 20,
    );
    expect(batches.map((b) => [b.partition, b.records.map((r) => r.id)])).toEqual([
      ['_default', ['a']],
      [p.partitions['a-b'], ['b']],
    ]);
    expect(p.partitions['a-b']).toMatch(/^ns_a_b_[0-9a-f]{12}$/);
  });

  it('rejects a namespace that was not planned in partitions mode', () => {
    expect(reasonsOf(plan({ partitionKey: false }), [rec('a', { namespace: 'other' })])[0]).toMatch(/namespace "other" is not in the job's plan/);
  });
});

describe('dedupeLastWins', () => {
  it('keeps the last write of an id within one request', () => {
    const r1 = rec('a', { metadata: { v: 1 } });
    const r2 = rec('b');
    const r3 = rec('a', { metadata: { v: 2 } });
    const out = dedupeLastWins({ primaryKey: 'id' }, { records: [r1, r2, r3], sources: ['0:0', '0:1', '0:2'], bytes: 3 });
    expect(out.records).toEqual([r2, r3]);
    expect(out.sources).toEqual(['0:1', '0:2']);
  });

  it('keys by the primary key: one id from two namespaces is one row in id mode, two in namespaceAndId mode', () => {
    const a = rec('x', { namespace: 'a' });
    const b = rec('x', { namespace: 'b' });
    const batch = { records: [a, b], sources: ['0:0', '0:1'], bytes: 2 };
    expect(dedupeLastWins({ primaryKey: 'id' }, batch).records).toEqual([b]);
    expect(dedupeLastWins({ primaryKey: 'namespaceAndId' }, batch).records).toEqual([a, b]);
  });
});
