// The Milvus sink against the test stack's real Milvus (Lite): what it answers to the capability
// probe, both namespace modes, hybrid with and without sparse values per record, sparse-only and
// renamed fields, namespaceAndId keys, exact readback, idempotent upserts, refused records, and a
// Milvus restart under a live writer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseJobSpec,
  planCollection,
  type CollectionPlan,
  type IndexDescription,
  type MilvusTarget,
  type NamespaceInfo,
  type TargetCapabilities,
  type VectorRecord,
  type WriteResult,
} from '@p2m/core';
import { createMilvusSink } from '@p2m/milvus-sink';
import { etlErrorOf } from '@p2m/testing';
import { getTestStack, killComponent, startComponent } from './stack.ts';

const RUN = `p2m_it_${process.pid}_${Date.now().toString(36)}`;
let sink: MilvusTarget;
let capabilities: TargetCapabilities;
const made: string[] = [];

interface PlanOptions {
  collection: string;
  partitionKey?: boolean;
  dimension?: number | null;
  metric?: IndexDescription['metric'];
  vectorType?: IndexDescription['vectorType'];
  sparse?: boolean;
  namespaces?: string[];
  maxIdLength?: number;
  fields?: Record<string, string>;
  primaryKey?: 'id' | 'namespaceAndId';
}

function plan(o: PlanOptions): CollectionPlan {
  const collection = `${RUN}_${o.collection}`;
  if (!made.includes(collection)) made.push(collection);
  const spec = parseJobSpec({
    source: { apiKey: 'test', index: 'test-index' },
    target: {
      address: getTestStack().milvus.address,
      collection,
      partitionKey: o.partitionKey ?? true,
      ...(o.maxIdLength ? { maxIdLength: o.maxIdLength } : {}),
      ...(o.fields ? { fields: o.fields } : {}),
      ...(o.primaryKey ? { primaryKey: o.primaryKey } : {}),
    },
  });
  const index: IndexDescription = {
    name: 'test-index',
    dimension: o.dimension === undefined ? 8 : o.dimension,
    metric: o.metric ?? (o.sparse || o.vectorType === 'sparse' ? 'dotproduct' : 'cosine'),
    vectorType: o.vectorType ?? 'dense',
    deployment: 'serverless',
    host: 'localhost',
    ready: true,
  };
  const namespaces: NamespaceInfo[] = (o.namespaces ?? ['', 'ns-a']).map((name) => ({ name, recordCount: 0 }));
  return planCollection({ spec, index, namespaces, capabilities });
}

/** Writes a batch the way a loader does (acknowledged writes, no flush before commit). */
function write(p: CollectionPlan, records: VectorRecord[], partition?: string): Promise<WriteResult> {
  return sink.writer(p, { flushBeforeCommit: false }).write({ partition, records }, 0);
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = seeded(42);

/** Float32 values of every kind: tiny, huge, subnormal, negative, exact integers. */
function dense(dim: number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4));
  v[0] = 3.4028234663852886e38;
  if (dim > 1) v[1] = 1.401298464324817e-45;
  if (dim > 2) v[2] = -1.1754943508222875e-38;
  return v;
}

function record(namespace: string, id: string, extra: Partial<VectorRecord> = {}): VectorRecord {
  return { kind: 'vector', namespace, id, values: dense(8), sparse: null, metadata: null, ...extra };
}

const METADATA = {
  genre: 'drama',
  year: 1994,
  rating: 8.7,
  negative: -0.125,
  big: 9_007_199_254_740_991,
  released: true,
  archived: false,
  tags: ['a', 'b "quoted"', 'c\\d', ''],
  unicode: 'ünïcødé — 中文 — 🚀',
  empty: '',
  none: [] as string[],
};

const TAGS: Record<string, string> = { '': '', 'ns-a': 'a:', 'we"ird\\ns': 'w:' };
const WEIRD_IDS = ['quote"in"id', 'back\\slash', 'both\\"mix', "single'quote", 'end\\', 'tab\tand\nnewline', 'ünï-🚀'];

function expectSameRecord(got: VectorRecord | undefined, want: VectorRecord): void {
  expect(got, `record ${want.id}`).toBeDefined();
  expect(got!.id).toBe(want.id);
  expect(got!.namespace).toBe(want.namespace);
  if (want.values) {
    expect(got!.values).toBeInstanceOf(Float32Array);
    // Exact float32 equality, element by element.
    expect(Array.from(got!.values!)).toEqual(Array.from(want.values));
  } else {
    expect(got!.values).toBeNull();
  }
  if (want.sparse && want.sparse.indices.length > 0) {
    const order = want.sparse.indices.map((_, i) => i).sort((a, b) => want.sparse!.indices[a]! - want.sparse!.indices[b]!);
    expect(got!.sparse!.indices).toEqual(order.map((i) => want.sparse!.indices[i]));
    expect(Array.from(got!.sparse!.values)).toEqual(order.map((i) => want.sparse!.values[i]));
  } else {
    expect(got!.sparse).toBeNull();
  }
  expect(got!.metadata).toEqual(want.metadata && Object.keys(want.metadata).length > 0 ? want.metadata : null);
}

async function allIds(p: CollectionPlan, ns: string, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null as string | null;
  for (;;) {
    const page = await sink.listIds(p, ns, after, pageSize);
    if (page.length === 0) return ids;
    ids.push(...page);
    after = page[page.length - 1]!;
  }
}

beforeAll(async () => {
  sink = createMilvusSink({ address: getTestStack().milvus.address });
  capabilities = await sink.capabilities();
});

afterAll(async () => {
  for (const name of made) await sink.dropCollection(name).catch(() => undefined);
  await sink.close();
});

describe('Milvus sink: the capability probe against Milvus Lite', () => {
  it('finds what Lite can do by trying it, and that it does not persist acknowledged writes', async () => {
    expect(capabilities.serverVersion).toMatch(/lite/i);
    expect(capabilities.milvusVersion).toBeNull();
    expect(capabilities.sparseVectors).toMatchObject({ value: true, how: 'probed' });
    expect(capabilities.nullableVectors).toMatchObject({ value: true, how: 'probed' });
    // Lite 3 refuses an empty sparse row ("at least one nonzero float32 weight").
    expect(capabilities.emptySparseRows).toMatchObject({ value: false, how: 'probed' });
    expect(capabilities.partitionKey).toMatchObject({ value: true, how: 'probed' });
    expect(capabilities.upsertHonoursPartitionKey).toMatchObject({ value: true, how: 'probed' });
    expect(capabilities.queryNeedsLoad).toMatchObject({ value: false, how: 'probed' });
    expect(capabilities.persistsAcknowledgedWrites).toMatchObject({ value: false, how: 'probed' });
    // Lite's upsert merges $meta into the old row's: a key the new copy lacks stays.
    expect(capabilities.upsertReplacesDynamicField).toMatchObject({ value: false, how: 'probed' });
  });

  it('an id written again keeps only the metadata of its latest copy (the plan deletes before upserting on Lite)', async () => {
    const p = plan({ collection: 'rewrite', namespaces: ['', 'other'] });
    expect(p.deleteBeforeUpsert).toBe(true);
    await sink.createCollection(p);
    expect((await write(p, [record('', 'x', { metadata: { keep: 1, gone: 'old' } }), record('', 'y', { metadata: { a: 1 } })])).rejected).toEqual([]);
    // The same id again, then the same id from another namespace (id mode: one row), without metadata.
    expect((await write(p, [record('', 'x', { metadata: { keep: 2 } })])).rejected).toEqual([]);
    expect((await write(p, [record('other', 'y', {})])).rejected).toEqual([]);
    await sink.flush(p);
    await sink.createIndexes(p);
    await sink.loadCollection(p);
    const rows = await sink.readByKeys(p, [
      { namespace: '', id: 'x' },
      { namespace: 'other', id: 'y' },
    ]);
    expect(rows.find((r) => r.id === 'x')?.metadata).toEqual({ keep: 2 });
    const y = rows.find((r) => r.id === 'y');
    expect(y?.namespace).toBe('other');
    expect(y?.metadata ?? {}).toEqual({});
    expect(await sink.countRows(p)).toBe(2);
  });
});

describe('Milvus sink: partition-key mode, hybrid dense + sparse', () => {
  const p = (): CollectionPlan => plan({ collection: 'hybrid', sparse: true, namespaces: ['', 'ns-a', 'we"ird\\ns'] });
  const records: VectorRecord[] = [];

  it('creates the collection from the plan and detects that it exists', async () => {
    expect(p().fields.map((f) => f.name)).toEqual(['namespace', 'id', 'vector', 'sparse_vector']);
    expect(await sink.collectionExists(p().collection)).toBe(false);
    expect(await sink.collectionExists(`${RUN}_never_made`)).toBe(false);
    await sink.createCollection(p());
    expect(await sink.collectionExists(p().collection)).toBe(true);
    // Same schema again (a resumed job): accepted.
    await sink.createCollection(p());
    // Same name, another schema: refused.
    const err = await etlErrorOf(sink.createCollection(plan({ collection: 'hybrid', dimension: 16 })));
    expect(err.code).toBe('TARGET_COLLECTION_EXISTS');
    expect(err.retriable).toBe(false);
  });

  it('upserts records and reads them back field by field, exactly', async () => {
    const namespaces = ['', 'ns-a', 'we"ird\\ns'];
    for (const ns of namespaces) {
      // A Milvus primary key is unique in the whole collection, a Pinecone id only in its namespace:
      // ids here differ across namespaces (see README.md, "Ids across namespaces").
      const tag = TAGS[ns]!;
      for (let i = 0; i < 5; i++) {
        records.push(
          record(ns, `${tag}doc-${i}`, {
            sparse: { indices: [4_294_967_294, 7, 0, 1_000_003], values: Float32Array.from([0.5, 1.25, 3.1415927, 1e-7]) },
            metadata: { ...METADATA, n: i },
          }),
        );
      }
      for (const id of WEIRD_IDS) records.push(record(ns, `${tag}${id}`, { sparse: { indices: [3], values: Float32Array.from([2]) }, metadata: { ns } }));
      records.push(record(ns, `${tag}no-metadata`, { sparse: { indices: [1], values: Float32Array.from([1]) } }));
    }
    expect((await write(p(), records)).rejected).toEqual([]);

    // A hybrid record without sparse values is stored with a NULL sparse vector (Lite 3 has
    // nullable vector fields), in the same batch as records with sparse values.
    const denseOnly = namespaces.map((ns) => record(ns, `${TAGS[ns]!}dense-only`, { metadata: { kind: 'dense-only' } }));
    expect(p().sparseRows).toBe('nullable');
    const withSparse = record('ns-a', 'a:with-sparse', { sparse: { indices: [5], values: Float32Array.from([0.5]) } });
    expect((await write(p(), [...denseOnly, withSparse])).rejected).toEqual([]);
    records.push(...denseOnly, withSparse);
    await sink.flush(p());
    await sink.createIndexes(p());
    await sink.createIndexes(p()); // already there: accepted
    await sink.loadCollection(p());

    const counts = await sink.countByNamespace(p(), [...namespaces, 'missing']);
    const perNs = (ns: string): number => records.filter((r) => r.namespace === ns).length;
    expect(perNs('')).toBe(5 + WEIRD_IDS.length + 2);
    expect(Object.fromEntries(counts)).toEqual({ '': perNs(''), 'ns-a': perNs('') + 1, 'we"ird\\ns': perNs(''), missing: 0 });

    for (const ns of namespaces) {
      const want = records.filter((r) => r.namespace === ns);
      const got = await sink.getRecords(
        p(),
        ns,
        want.map((r) => r.id),
      );
      expect(got.map((r) => r.id)).toEqual(want.map((r) => r.id));
      for (const w of want)
        expectSameRecord(
          got.find((g) => g.id === w.id),
          w,
        );
    }
    // Ids that do not exist are simply absent.
    expect((await sink.getRecords(p(), 'ns-a', ['nope', 'a:doc-1', 'doc-1'])).map((r) => r.id)).toEqual(['a:doc-1']);
  });

  it('keeps the largest sparse index Milvus stores (2^32-2) exact', async () => {
    const [got] = await sink.getRecords(p(), 'ns-a', ['a:doc-0']);
    expect(got!.sparse!.indices).toEqual([0, 7, 1_000_003, 4_294_967_294]);
    expect(Array.from(got!.sparse!.values)).toEqual(Array.from(Float32Array.from([3.1415927, 1.25, 1e-7, 0.5])));
  });

  it('is idempotent: the same batch twice leaves the counts unchanged', async () => {
    const before = await sink.countByNamespace(p(), ['', 'ns-a', 'we"ird\\ns']);
    await write(p(), records);
    await write(p(), records.slice(0, 7));
    const after = await sink.countByNamespace(p(), ['', 'ns-a', 'we"ird\\ns']);
    expect(after).toEqual(before);
  });

  it('lists every id of a namespace in a stable order, page by page', async () => {
    for (const ns of ['', 'we"ird\\ns']) {
      const want = records
        .filter((r) => r.namespace === ns)
        .map((r) => r.id)
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(await allIds(p(), ns, 3)).toEqual(want);
      expect(await allIds(p(), ns, 1000)).toEqual(want);
    }
    expect(await sink.listIds(p(), 'missing', null, 10)).toEqual([]);
  });

  it('answers per record: the ones Milvus cannot store come back with the reason, the rest are written', async () => {
    const one = (indices: number[], values: number[]) => ({ sparse: { indices, values: Float32Array.from(values) } });
    const result = await write(p(), [
      record('ns-a', 'x'.repeat(513)),
      record('ns-a', 'ok-1', one([1], [1])),
      record('ns-a', 'max-index', one([4_294_967_295], [1])),
      record('ns-a', 'neg', one([1], [-1])),
      record('ns-a', 'meta-clash', { metadata: { namespace: 'x' } }),
    ]);
    expect(result.rejected.map((r) => [r.index, r.code])).toEqual([
      [0, 'RECORD_INVALID'],
      [2, 'RECORD_INVALID'],
      [3, 'RECORD_INVALID'],
      [4, 'RECORD_INVALID'],
    ]);
    expect(result.rejected[0]!.reason).toMatch(/max_length 512/);
    expect(result.rejected[1]!.reason).toMatch(/reserved/);
    expect((await sink.getRecords(p(), 'ns-a', ['ok-1', 'max-index', 'neg'])).map((r) => r.id)).toEqual(['ok-1']);
  });

  it('a batch the server refuses as a whole, record by record too, fails instead of filling the DLQ', async () => {
    // The plan says 16 dimensions, the collection has 8: only the server can tell.
    const wrong = { ...p(), dimension: 16, fields: p().fields.map((f) => (f.dim ? { ...f, dim: 16 } : f)) };
    const err = await etlErrorOf(
      write(wrong, [
        { ...record('ns-a', 'wrong-dim'), values: dense(16) },
        { ...record('ns-a', 'wrong-dim-2'), values: dense(16) },
      ]),
    );
    expect(err.code).toBe('TARGET_UNSUPPORTED');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/refuses every record of a batch of 2/);
    // One such record alone is a record problem: it comes back refused, with Milvus's answer.
    const single = await write(wrong, [{ ...record('ns-a', 'wrong-dim'), values: dense(16) }]);
    expect(single.rejected.map((r) => r.code)).toEqual(['RECORD_REJECTED']);
  });
});

describe('Milvus sink: partitions mode, renamed fields, dense only', () => {
  const namespaces = ['', 'books', 'we"ird\\ns/é'];
  const p = (): CollectionPlan =>
    plan({ collection: 'parts', partitionKey: false, metric: 'euclidean', namespaces, maxIdLength: 64, fields: { id: 'pk', vector: 'embedding' } });
  const records: VectorRecord[] = [];

  it('creates one partition per namespace', async () => {
    expect(p().partitions['']).toBe('_default');
    expect(p().partitions['books']).toBe('books');
    expect(p().partitions['we"ird\\ns/é']).toMatch(/^ns_/);
    await sink.createCollection(p());
    await sink.createCollection(p());
    expect(await sink.collectionExists(p().collection)).toBe(true);
  });

  it('writes each namespace into its partition and counts them apart', async () => {
    for (const ns of namespaces) {
      for (let i = 0; i < 4 + namespaces.indexOf(ns); i++) records.push(record(ns, `${ns || 'default'}-${i}`, { metadata: { ...METADATA, i } }));
      records.push(record(ns, `${ns || 'default'}-${WEIRD_IDS[0]}`, { metadata: { tag: 'weird' } }));
    }
    // A mixed batch (grouped by partition here) and a batch for one partition.
    await write(
      p(),
      records.filter((r) => r.namespace !== 'books'),
    );
    await write(
      p(),
      records.filter((r) => r.namespace === 'books'),
      'books',
    );
    await write(
      p(),
      records.filter((r) => r.namespace === 'books'),
      'books',
    );

    await sink.flush(p());
    await sink.createIndexes(p());
    await sink.loadCollection(p());
    const counts = await sink.countByNamespace(p(), namespaces);
    expect(Object.fromEntries(counts)).toEqual({ '': 5, books: 6, 'we"ird\\ns/é': 7 });
    expect(Object.fromEntries(await sink.countByNamespace(p(), ['not-planned']))).toEqual({ 'not-planned': 0 });

    for (const ns of namespaces) {
      const want = records.filter((r) => r.namespace === ns);
      const got = await sink.getRecords(
        p(),
        ns,
        want.map((r) => r.id),
      );
      expect(got).toHaveLength(want.length);
      for (const w of want)
        expectSameRecord(
          got.find((g) => g.id === w.id),
          w,
        );
      expect(await allIds(p(), ns, 2)).toEqual(want.map((r) => r.id).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
    // A namespace's records are not visible from another namespace's partition.
    expect(await sink.getRecords(p(), 'books', ['default-0'])).toEqual([]);
  });

  it('checks the id against the planned max_length', async () => {
    const result = await write(p(), [record('books', 'y'.repeat(65))]);
    expect(result.rejected.map((r) => r.code)).toEqual(['RECORD_INVALID']);
  });
});

describe('Milvus sink: sparse-only index with a renamed sparse field', () => {
  const p = (): CollectionPlan =>
    plan({ collection: 'sparse', vectorType: 'sparse', dimension: null, fields: { sparseVector: 'splade', namespace: 'tenant' } });

  it('stores and reads back sparse vectors', async () => {
    expect(p().fields.map((f) => [f.name, f.dataType])).toEqual([
      ['tenant', 'VarChar'],
      ['id', 'VarChar'],
      ['splade', 'SparseFloatVector'],
    ]);
    await sink.createCollection(p());
    const records = Array.from({ length: 20 }, (_, i) =>
      record(i % 2 ? 'ns-a' : '', `s-${i}`, {
        values: null,
        sparse: { indices: [i, 100 + i, 4_000_000_000 + i], values: Float32Array.from([i + 1, 0.25, 1e-3]) },
        metadata: { i },
      }),
    );
    await write(p(), records);
    const noSparse = await write(p(), [record('', 'no-sparse', { values: null })]);
    expect(noSparse.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/no sparse values/)]);
    await sink.createIndexes(p());
    await sink.loadCollection(p());
    expect(Object.fromEntries(await sink.countByNamespace(p(), ['', 'ns-a']))).toEqual({ '': 10, 'ns-a': 10 });
    const got = await sink.getRecords(
      p(),
      'ns-a',
      records.filter((r) => r.namespace === 'ns-a').map((r) => r.id),
    );
    for (const w of records.filter((r) => r.namespace === 'ns-a'))
      expectSameRecord(
        got.find((g) => g.id === w.id),
        w,
      );
  });
});

describe('Milvus sink: vector index per source metric', () => {
  it.each([
    ['cosine', 'euclidean'],
    ['euclidean', 'dotproduct'],
    ['dotproduct', 'cosine'],
  ] as const)('builds AUTOINDEX for %s and notices an index of another metric', async (metric, other) => {
    const p = plan({ collection: `metric_${metric}`, metric });
    await sink.createCollection(p);
    await write(p, [record('', 'a'), record('ns-a', 'b')]);
    await sink.createIndexes(p);
    await sink.loadCollection(p);
    const err = await etlErrorOf(sink.createIndexes(plan({ collection: `metric_${metric}`, metric: other })));
    expect(err.code).toBe('TARGET_UNSUPPORTED');
    expect(err.message).toContain(p.indexes[0]!.metricType);
    await sink.dropCollection(p.collection);
    expect(await sink.collectionExists(p.collection)).toBe(false);
    await sink.dropCollection(p.collection); // already gone: fine
  });
});

describe('Milvus sink: several callers at once', () => {
  it('all create the collection, its partitions and its indexes without an error (controllers, loaders’ read-backs)', async () => {
    const others = [1, 2, 3].map(() => createMilvusSink({ address: getTestStack().milvus.address }));
    try {
      for (let round = 0; round < 4; round++) {
        const p = plan({ collection: `race_${round}`, partitionKey: false, sparse: true, namespaces: ['', 'ns-a', 'ns-b', 'ns-c'] });
        const failures = async (calls: Promise<unknown>[]): Promise<string[]> =>
          (await Promise.allSettled(calls)).filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
        expect(await failures([sink, ...others].map((s) => s.createCollection(p)))).toEqual([]);
        expect(await failures([sink, ...others].map((s) => s.createIndexes(p)))).toEqual([]);
        // The plan's indexes are there: asking for them again is accepted.
        await sink.createIndexes(p);
        expect(await sink.collectionExists(p.collection)).toBe(true);
      }
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });
});

describe('Milvus sink: namespaceAndId keys', () => {
  it('stores the same id in every namespace as rows of their own, read back per namespace', async () => {
    for (const partitionKey of [true, false]) {
      const p = plan({ collection: `nsid_${String(partitionKey)}`, primaryKey: 'namespaceAndId', partitionKey, namespaces: ['', 'tenant-a', 'Tenant_B.2024'] });
      await sink.createCollection(p);
      const records = ['', 'tenant-a', 'Tenant_B.2024'].flatMap((ns) =>
        ['r0', 'r1', 'r2'].map((id) => record(ns, id, { metadata: { owner: ns || 'default' } })),
      );
      expect((await write(p, records)).rejected).toEqual([]);
      await sink.flush(p);
      await sink.createIndexes(p);
      await sink.loadCollection(p);
      expect(Object.fromEntries(await sink.countByNamespace(p, ['', 'tenant-a', 'Tenant_B.2024']))).toEqual({ '': 3, 'tenant-a': 3, 'Tenant_B.2024': 3 });
      for (const ns of ['', 'tenant-a', 'Tenant_B.2024']) {
        const got = await sink.getRecords(p, ns, ['r0', 'r1', 'r2']);
        for (const want of records.filter((r) => r.namespace === ns))
          expectSameRecord(
            got.find((g) => g.id === want.id),
            want,
          );
        expect(await allIds(p, ns, 2)).toEqual(['r0', 'r1', 'r2']);
      }
      expect(Object.fromEntries(await sink.holdersOf(p, ['r1']))).toEqual({ r1: expect.arrayContaining(['', 'tenant-a', 'Tenant_B.2024']) as string[] });
    }
  });
});

describe('Milvus sink: Milvus restarts', () => {
  it('reports a down Milvus as retriable, and a flush-before-commit writer writes again what the restart lost', async () => {
    const p = plan({ collection: 'restart' });
    await sink.createCollection(p);
    const writer = sink.writer(p, { flushBeforeCommit: true, flushIntervalMs: 0 });
    await writer.write({ records: [record('', 'before')] }, 0);
    expect(await writer.preCommit([{ partition: 0, offset: '1' }])).toEqual([{ partition: 0, offset: '1' }]);
    // Acknowledged, not flushed — then Lite is SIGKILLed, which forgets it.
    await writer.write({ records: [record('', 'unflushed')] }, 0);

    await killComponent('milvus');
    const down = await etlErrorOf(writer.write({ records: [record('', 'during')] }, 0));
    expect(down.retriable).toBe(true);
    expect(down.code).toBe('TARGET_UNAVAILABLE');
    // A sink made while Milvus is down must recover too (the SDK's first connect would poison it).
    const late = createMilvusSink({ address: getTestStack().milvus.address, timeoutMs: 5_000 });
    const lateErr = await etlErrorOf(late.collectionExists(p.collection));
    expect(lateErr.retriable).toBe(true);

    await startComponent('milvus');
    await writer.write({ records: [record('', 'after')] }, 0);
    // The restart broke the connection the unflushed write went over: preCommit writes it again.
    expect(await writer.preCommit([{ partition: 0, offset: '3' }])).toEqual([{ partition: 0, offset: '3' }]);
    expect(await late.collectionExists(p.collection)).toBe(true);
    await late.close();
    await sink.createIndexes(p);
    await sink.loadCollection(p);
    expect((await sink.getRecords(p, '', ['before', 'unflushed', 'after'])).map((r) => r.id)).toEqual(['before', 'unflushed', 'after']);
  });
});
