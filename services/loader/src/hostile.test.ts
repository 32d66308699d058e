// Hostile records that the source should never hand out (Pinecone refuses them at upsert) but that
// the loader must still refuse by itself, each with a reason, should one arrive: NaN and infinite
// values, a dimension change between records, metadata keys that clash with the target's fields.
// Accepted look-alikes and case-distinct ids stay distinct records.
import { describe, expect, it } from 'vitest';
import { planCollection, parseJobSpec, rejectionReason, type CollectionPlan, type VectorRecord } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import { dedupeLastWins, planBatches } from './task.ts';

function hybridPlan(sparseOnly = false): CollectionPlan {
  const spec = parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: '127.0.0.1:19530', collection: 'c' } });
  return planCollection({
    spec,
    index: sparseOnly
      ? { name: 'idx', dimension: null, metric: 'dotproduct', vectorType: 'sparse', deployment: 'serverless', host: 'h', ready: true }
      : { name: 'idx', dimension: 4, metric: 'dotproduct', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
    namespaces: [{ name: '', recordCount: 10 }],
    capabilities: fullCapabilities(),
  });
}

const rec = (id: string, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  kind: 'vector',
  namespace: '',
  id,
  values: new Float32Array([1, 2, 3, 4]),
  sparse: { indices: [1], values: new Float32Array([0.5]) },
  metadata: null,
  ...extra,
});

const plan = (p: CollectionPlan, records: VectorRecord[]) =>
  planBatches(
    p,
    records.map((record, i) => ({ record, source: `0:${i}` })),
    1 << 20,
  );

describe('hostile records at the loader', () => {
  it('refuses NaN and infinite dense or sparse values and a dimension change, each with its reason, and loads the rest', () => {
    const p = hybridPlan();
    const { batches, rejected } = plan(p, [
      rec('ok-1'),
      rec('nan', { values: new Float32Array([1, NaN, 3, 4]) }),
      rec('inf', { values: new Float32Array([-Infinity, 2, 3, 4]) }),
      rec('dim-3', { values: new Float32Array([1, 2, 3]) }),
      rec('dim-5', { values: new Float32Array([1, 2, 3, 4, 5]) }),
      rec('sparse-nan', { sparse: { indices: [2], values: new Float32Array([NaN]) } }),
      rec('sparse-inf', { sparse: { indices: [2], values: new Float32Array([Infinity]) } }),
      rec('ok-2'),
    ]);
    expect(rejected.map((r) => [r.record.id, r.code, r.source])).toEqual([
      ['nan', 'RECORD_INVALID', '0:1'],
      ['inf', 'RECORD_INVALID', '0:2'],
      ['dim-3', 'RECORD_INVALID', '0:3'],
      ['dim-5', 'RECORD_INVALID', '0:4'],
      ['sparse-nan', 'RECORD_INVALID', '0:5'],
      ['sparse-inf', 'RECORD_INVALID', '0:6'],
    ]);
    const reasons = rejected.map((r) => r.reason);
    expect(reasons[0]).toBe('dense value 1 is NaN; Milvus stores finite floats only');
    expect(reasons[1]).toBe('dense value 0 is -Infinity; Milvus stores finite floats only');
    expect(reasons[2]).toBe('the dense vector has 3 dimensions but field "vector" has 4');
    expect(reasons[3]).toBe('the dense vector has 5 dimensions but field "vector" has 4');
    expect(reasons[4]).toMatch(/sparse value for index 2 is NaN/);
    expect(reasons[5]).toMatch(/sparse value for index 2 is Infinity/);
    expect(batches.flatMap((b) => b.records.map((r) => r.id))).toEqual(['ok-1', 'ok-2']);
  });

  it('refuses metadata keys named like any field of the collection or the dynamic field, and keeps look-alikes', () => {
    const p = hybridPlan();
    for (const key of [...p.fields.map((f) => f.name), '$meta']) {
      expect(rejectionReason(p, rec('x', { metadata: { [key]: 'v' } })), key).toMatch(new RegExp(`metadata key "${key.replace('$', '\\$')}"`));
    }
    for (const key of ['ID', 'Vector', 'pk', '_default', 'namespace_', 'meta']) {
      expect(rejectionReason(p, rec('x', { metadata: { [key]: 'v' } })), key).toBeNull();
    }
  });

  it('keeps ids that differ only by case as distinct records', () => {
    const p = hybridPlan();
    const { batches, rejected } = plan(p, [rec('Doc-1'), rec('doc-1'), rec('DOC-1')]);
    expect(rejected).toEqual([]);
    const deduped = batches.map((b) => dedupeLastWins(p, b)).flatMap((b) => b.records.map((r) => r.id));
    expect(deduped).toEqual(['Doc-1', 'doc-1', 'DOC-1']);
  });

  it('a record without the sparse vector a sparse-only collection needs is refused with its reason', () => {
    const p = hybridPlan(true);
    expect(rejectionReason(p, rec('none', { values: null, sparse: null }))).toMatch(/no sparse values/);
  });
});
