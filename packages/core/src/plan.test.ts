import { describe, expect, it } from 'vitest';
import { capability, fullCapabilities, liteCapabilities } from '@p2m/testing';
import { milvusRelease } from './capabilities.ts';
import { EtlError } from './errors.ts';
import { namespaceAndIdKey, parseNamespaceAndIdKey, planCollection, primaryKeyOf, type CollectionPlan } from './plan.ts';
import type { IndexDescription } from './source-model.ts';
import { parseJobSpec, type JobSpecInput } from './spec.ts';
import { rejectionReason } from './validate.ts';

const index = (o: Partial<IndexDescription> = {}): IndexDescription => ({
  name: 'idx',
  dimension: 4,
  metric: 'cosine',
  vectorType: 'dense',
  deployment: 'serverless',
  host: 'h',
  ready: true,
  ...o,
});
const spec = (target: Partial<JobSpecInput['target']> = {}, options: JobSpecInput['options'] = {}) =>
  parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'm:19530', collection: 'c', ...target }, options });
const plan = (
  o: {
    target?: Partial<JobSpecInput['target']>;
    options?: JobSpecInput['options'];
    index?: Partial<IndexDescription>;
    caps?: ReturnType<typeof fullCapabilities>;
    namespaces?: number;
  } = {},
): CollectionPlan =>
  planCollection({
    spec: spec(o.target, o.options),
    index: index(o.index),
    namespaces: Array.from({ length: o.namespaces ?? 2 }, (_, i) => ({ name: i === 0 ? '' : `ns-${i}`, recordCount: 1 })),
    capabilities: o.caps ?? fullCapabilities(),
  });
const refusal = (fn: () => unknown): EtlError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EtlError);
    return err as EtlError;
  }
  throw new Error('the plan was not refused');
};
const sparse = (indices: number[]) => ({ indices, values: Float32Array.from(indices, () => 0.5) });

describe('planCollection: sparse values per record, decided from the description', () => {
  it('every dense dotproduct index gets a sparse field, nullable where the target has nullable vectors', () => {
    const p = plan({ index: { metric: 'dotproduct' } });
    expect(p.hasSparse).toBe(true);
    expect(p.sparseRows).toBe('nullable');
    expect(p.fields.find((f) => f.role === 'sparseVector')).toEqual({
      role: 'sparseVector',
      name: 'sparse_vector',
      dataType: 'SparseFloatVector',
      nullable: true,
    });
    // A record without sparse values is stored, whether sparse is absent or present with no entries.
    const rec = { kind: 'vector' as const, namespace: '', id: 'a', values: Float32Array.from([1, 2, 3, 4]), metadata: null };
    expect(rejectionReason(p, { ...rec, sparse: null })).toBeNull();
    expect(rejectionReason(p, { ...rec, sparse: sparse([]) })).toBeNull();
    expect(rejectionReason(p, { ...rec, sparse: sparse([3]) })).toBeNull();
  });

  it('an empty sparse row where the target accepts one and has no nullable vectors', () => {
    const p = plan({ index: { metric: 'dotproduct' }, caps: fullCapabilities({ nullableVectors: capability(false), emptySparseRows: capability(true) }) });
    expect(p.sparseRows).toBe('emptyRow');
    expect(p.fields.find((f) => f.role === 'sparseVector')?.nullable).toBeUndefined();
  });

  it('a cosine index has no sparse field; a sparse index needs sparse values on every record', () => {
    expect(plan().sparseRows).toBe('none');
    const s = plan({ index: { vectorType: 'sparse', dimension: null, metric: 'dotproduct' } });
    expect(s.sparseRows).toBe('required');
    expect(rejectionReason(s, { kind: 'vector', namespace: '', id: 'a', values: null, sparse: null, metadata: null })).toMatch(/no sparse values/);
  });

  it('refuses before anything is created what the target cannot hold, with the reason and what to do', () => {
    const noSparse = fullCapabilities({ sparseVectors: capability(false), nullableVectors: capability(false) });
    const e = refusal(() => plan({ index: { metric: 'dotproduct' }, caps: noSparse }));
    expect(e.code).toBe('TARGET_UNSUPPORTED');
    expect(e.message).toMatch(/dense dotproduct index.*has no sparse vectors/);
    expect(e.hint).toMatch(/Milvus 2\.4 or later/);
    expect(
      refusal(() =>
        plan({ index: { metric: 'dotproduct' }, caps: fullCapabilities({ nullableVectors: capability(false), emptySparseRows: capability(false) }) }),
      ).message,
    ).toMatch(/accepts neither/);
    // A cosine index needs no sparse vectors: the same target takes it.
    expect(plan({ caps: noSparse }).hasSparse).toBe(false);
  });

  it('partition-key mode is refused where upsert ignores the partition key; partitions mode is not', () => {
    const caps = fullCapabilities({ upsertHonoursPartitionKey: capability(false) });
    const e = refusal(() => plan({ caps }));
    expect(e.field).toBe('target.partitionKey');
    expect(e.hint).toMatch(/partitionKey: false/);
    expect(plan({ caps, target: { partitionKey: false } }).namespaceMode).toBe('partitions');
  });

  it("partitions mode is refused past the target's partition limit", () => {
    expect(refusal(() => plan({ target: { partitionKey: false }, namespaces: 1025 })).message).toMatch(/1025 namespaces.*at most 1024 partitions/);
  });
});

describe('planCollection: durability is asked of the target, not guessed', () => {
  it('creates the vector indexes with the collection where the server builds apart from the load, or does not say; after the load otherwise', () => {
    const decision = (p: ReturnType<typeof plan>) => p.target?.decisions.find((d) => d.capability === 'indexNodesApart')?.decision;
    // Zilliz Cloud does not describe itself: with the collection (its index builds are its own).
    const unknown = plan({ caps: fullCapabilities() });
    expect(unknown.indexesWithCollection).toBe(true);
    expect(decision(unknown)).toMatch(/created with the collection/);
    expect(plan({ caps: fullCapabilities({ indexNodesApart: capability<boolean | null>(true) }) }).indexesWithCollection).toBe(true);
    // A standalone server: the build would take the load's CPU.
    const standalone = plan({ caps: fullCapabilities({ indexNodesApart: capability<boolean | null>(false) }) });
    expect(standalone.indexesWithCollection).toBe(false);
    expect(decision(standalone)).toMatch(/after the load: a build during it would take the load's CPU/);
    // Milvus Lite, even if it were to say it builds apart.
    const lite = plan({ caps: liteCapabilities({ indexNodesApart: capability<boolean | null>(true) }) });
    expect(lite.indexesWithCollection).toBe(false);
    expect(lite.target?.decisions.find((d) => d.capability === 'queryNeedsLoad')?.decision).toMatch(/creates the indexes after the load/);
    // A plan made from capabilities without the answer (an older probe) does not assume.
    const { indexNodesApart: _, ...older } = fullCapabilities();
    expect(plan({ caps: older }).indexesWithCollection).toBe(true);
  });

  it('options.indexBuild overrides what the target says', () => {
    const standalone = fullCapabilities({ indexNodesApart: capability<boolean | null>(false) });
    const during = plan({ caps: standalone, options: { indexBuild: 'duringLoad' } });
    expect(during.indexesWithCollection).toBe(true);
    expect(during.target?.decisions.find((d) => d.capability === 'indexNodesApart')?.decision).toMatch(/options\.indexBuild is "duringLoad"/);
    expect(plan({ options: { indexBuild: 'afterLoad' } }).indexesWithCollection).toBe(false);
    const lite = refusal(() => plan({ caps: liteCapabilities(), options: { indexBuild: 'duringLoad' } }));
    expect(lite.code).toBe('TARGET_UNSUPPORTED');
    expect(lite.field).toBe('options.indexBuild');
    expect(lite.hint).toMatch(/"auto" or "afterLoad"/);
  });

  it('flushes before committing where acknowledged writes are not kept, or unknown; not where a WAL keeps them', () => {
    expect(plan({ caps: liteCapabilities() }).flushBeforeCommit).toBe(true);
    expect(plan({ caps: fullCapabilities() }).flushBeforeCommit).toBe(false);
    expect(plan({ caps: fullCapabilities({ persistsAcknowledgedWrites: { value: null, how: 'unknown', detail: 'refused' } }) }).flushBeforeCommit).toBe(true);
  });

  it('an explicit flushBeforeCommit overrides the probe, and /plan says so', () => {
    const p = plan({ caps: liteCapabilities(), options: { flushBeforeCommit: 'never' } });
    expect(p.flushBeforeCommit).toBe(false);
    expect(p.target?.decisions.find((d) => d.capability === 'persistsAcknowledgedWrites')?.decision).toMatch(/options\.flushBeforeCommit is "never"/);
    expect(plan({ options: { flushBeforeCommit: 'always' } }).flushBeforeCommit).toBe(true);
  });

  it('the plan keeps the capabilities it was made from, each with what the job does about it', () => {
    const p = plan({ index: { metric: 'dotproduct' } });
    expect(p.target?.capabilities.serverVersion).toBe('v2.6.4');
    expect(p.target?.decisions.map((d) => d.capability)).toEqual([
      'sparseVectors',
      'nullableVectors',
      'dynamicField',
      'partitionKey',
      'upsertHonoursPartitionKey',
      'persistsAcknowledgedWrites',
      'queryNeedsLoad',
      'indexNodesApart',
      'upsertReplacesDynamicField',
    ]);
  });
});

describe('primaryKey: namespaceAndId', () => {
  it('the key is the namespace length in UTF-8 bytes, the namespace and the id', () => {
    expect(namespaceAndIdKey('tenant-a', 'doc-1')).toBe('8:tenant-a:doc-1');
    expect(namespaceAndIdKey('', 'doc-1')).toBe('0::doc-1');
    expect(namespaceAndIdKey('ü:x', 'a:b')).toBe('4:ü:x:a:b');
  });

  it('is unambiguous: every pair reads back as itself, and different pairs never share a key', () => {
    const pairs: [string, string][] = [
      ['', 'a:b'],
      [':', 'a'],
      ['a:', 'b'],
      ['a', ':b'],
      ['1:x', 'y'],
      ['ü', 'é'],
      ['tenant', ''],
    ];
    const keys = pairs.map(([ns, id]) => namespaceAndIdKey(ns, id));
    expect(new Set(keys).size).toBe(pairs.length);
    expect(keys.map(parseNamespaceAndIdKey)).toEqual(pairs.map(([namespace, id]) => ({ namespace, id })));
    expect(parseNamespaceAndIdKey('doc-1')).toBeNull();
    expect(parseNamespaceAndIdKey('9:short')).toBeNull();
  });

  it('gives the collection a key field beside the id field, sized for any namespace and id', () => {
    const p = plan({ target: { primaryKey: 'namespaceAndId', maxIdLength: 100 } });
    expect(p.primaryKeyField).toBe('pk');
    expect(p.fields.filter((f) => f.isPrimaryKey).map((f) => f.name)).toEqual(['pk']);
    expect(p.fields.find((f) => f.role === 'id')).toEqual({ role: 'id', name: 'id', dataType: 'VarChar', maxLength: 100 });
    expect(primaryKeyOf(p, 'a', 'r0')).toBe('1:a:r0');
    expect(primaryKeyOf(plan(), 'a', 'r0')).toBe('r0');
  });
});

describe('milvusRelease', () => {
  it('reads the Milvus release from what a server reports, and nothing from what it does not', () => {
    expect(milvusRelease('v2.3.5-lite')).toEqual([2, 3, 5]);
    expect(milvusRelease('2.4.13')).toEqual([2, 4, 13]);
    expect(milvusRelease('v2.6.0-rc.1')).toEqual([2, 6, 0]);
    expect(milvusRelease('milvus_lite-3.2.2')).toBeNull();
    expect(milvusRelease('')).toBeNull();
  });
});
