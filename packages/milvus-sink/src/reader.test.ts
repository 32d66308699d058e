import protobuf from 'protobufjs';
import milvusProto from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import { describe, expect, it } from 'vitest';
import { parseJobSpec, planCollection, type CollectionPlan } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import type { MilvusConnection } from './connection.ts';
import { createReader } from './reader.ts';

const root = protobuf.Root.fromJSON(((milvusProto as unknown as { default?: protobuf.INamespace }).default ?? milvusProto) as protobuf.INamespace);
const QueryRequest = root.lookupType('milvus.proto.milvus.QueryRequest');
const QueryResults = root.lookupType('milvus.proto.milvus.QueryResults');

const NAMESPACES = Array.from({ length: 12 }, (_, i) => `ns${i}`);

function partitionsPlan(): CollectionPlan {
  return planCollection({
    spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'h:1', collection: 'coll', partitionKey: false } }),
    index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
    namespaces: NAMESPACES.map((name) => ({ name, recordCount: 2 })),
    capabilities: fullCapabilities(),
  });
}

/** A target that answers every `pk in [...]` query with those keys as rows, after a delay of its own. */
function fakeTarget(o: { delayMs: (partition: string) => number; failOn?: string }) {
  let active = 0;
  const stats = { queries: 0, maxActive: 0, partitions: [] as string[] };
  const channel = {
    async query(request: Buffer): Promise<Buffer> {
      const req = QueryRequest.toObject(QueryRequest.decode(request), { arrays: true }) as { expr: string; partition_names: string[] };
      const partition = req.partition_names[0]!;
      stats.queries++;
      stats.partitions.push(partition);
      stats.maxActive = Math.max(stats.maxActive, ++active);
      await new Promise((r) => setTimeout(r, o.delayMs(partition)));
      active--;
      if (partition === o.failOn) throw Object.assign(new Error('13 INTERNAL: boom'), { code: 13, details: 'boom' });
      const ids = [...req.expr.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
      const fields = [
        { type: 21, field_name: 'id', scalars: { string_data: { data: ids } } },
        { type: 101, field_name: 'vector', vectors: { dim: 2, float_vector: { data: ids.flatMap(() => [1, 0]) } } },
      ];
      return Buffer.from(QueryResults.encode(QueryResults.fromObject({ status: { error_code: 0, code: 0 }, fields_data: fields })).finish());
    },
    close() {},
  };
  const conn = { timeout: 1_000, queries: () => channel } as unknown as MilvusConnection;
  return { reader: createReader(conn), stats };
}

describe('Milvus reader: records looked up by key across partitions', () => {
  const p = partitionsPlan();
  const keys = NAMESPACES.flatMap((namespace) => [
    { namespace, id: `${namespace}-a` },
    { namespace, id: `${namespace}-b` },
  ]);

  it('sends the queries of several partitions at once, and answers in the order asked', async () => {
    // Later partitions answer first: the order of the answer must not follow the order of arrival.
    const { reader, stats } = fakeTarget({ delayMs: (partition) => 60 - Number(/(\d+)$/.exec(partition)?.[1] ?? 0) * 4 });
    const records = await reader.readByKeys(p, keys);
    expect(records.map((r) => `${r.namespace}/${r.id}`)).toEqual(keys.map((k) => `${k.namespace}/${k.id}`));
    expect(stats.queries).toBe(NAMESPACES.length);
    expect(stats.maxActive).toBeGreaterThan(1);
    expect(stats.maxActive).toBeLessThanOrEqual(8);
  });

  it('fails as a whole when one query fails, and sends no more after it', async () => {
    const first = p.partitions['ns0']!;
    const { reader, stats } = fakeTarget({ delayMs: (partition) => (partition === first ? 1 : 50), failOn: first });
    await expect(reader.readByKeys(p, keys)).rejects.toThrow(/boom/);
    // The 8 started together; the one that failed stopped the rest from being sent.
    expect(stats.queries).toBe(8);
  });

  it("asks every partition who holds ids several queries at once, the holders in the plan's order", async () => {
    // Later partitions answer first; 300 ids make two chunks per partition.
    const { reader, stats } = fakeTarget({ delayMs: (partition) => 40 - Number(/(\d+)$/.exec(partition)?.[1] ?? 0) * 3 });
    const ids = Array.from({ length: 300 }, (_, i) => `id${i}`);
    const holders = await reader.holdersOf(p, [...ids, 'id0']);
    expect(stats.queries).toBe(NAMESPACES.length * 2);
    expect(stats.maxActive).toBeGreaterThan(1);
    expect(stats.maxActive).toBeLessThanOrEqual(8);
    expect([...holders.keys()].sort()).toEqual([...ids].sort());
    // This target holds every id in every partition: each id's list is every namespace, in order.
    for (const id of ids) expect(holders.get(id)).toEqual(NAMESPACES);
  });
});

describe('Milvus reader: verification reads at the flush timestamp', () => {
  const p = partitionsPlan();
  const keys = [{ namespace: 'ns0', id: 'a' }];

  /** A target whose flush answers `flushTs` (null: the server sends none), and that records how each query was sent. */
  function target(flushTs: bigint | null) {
    const sent: { consistency_level: string; guarantee_timestamp: string }[] = [];
    const queries = {
      async query(request: Buffer): Promise<Buffer> {
        sent.push(QueryRequest.toObject(QueryRequest.decode(request), { enums: String, longs: String, defaults: true }) as (typeof sent)[number]);
        const fields = [
          { type: 21, field_name: 'id', scalars: { string_data: { data: ['a'] } } },
          { type: 101, field_name: 'vector', vectors: { dim: 2, float_vector: { data: [1, 0] } } },
        ];
        return Buffer.from(QueryResults.encode(QueryResults.fromObject({ status: {}, fields_data: fields })).finish());
      },
      close() {},
    };
    const writeChannel = {
      flush: () => Promise.resolve({ status: { error_code: 'Success', code: 0, reason: '', retriable: false }, segmentIds: [7n], flushTs }),
      flushState: () => Promise.resolve({ status: { error_code: 'Success', code: 0, reason: '', retriable: false }, flushed: true }),
    };
    const conn = { timeout: 1_000, longTimeout: 5_000, writerKind: 'grpc', queries: () => queries, grpc: () => writeChannel } as unknown as MilvusConnection;
    return { reader: createReader(conn), sent };
  }

  it('reads strongly until the collection is flushed, then at the flush timestamp', async () => {
    const { reader, sent } = target(449912345678901299n);
    await reader.readByKeys(p, keys);
    await reader.flush(p);
    await reader.readByKeys(p, keys);
    for await (const page of reader.scanKeys(p)) {
      expect(page).toEqual([{ namespace: 'ns0', id: 'a' }]);
      break; // this target answers every page with the same row: one page is enough
    }
    // Another collection was never flushed through this reader: strong.
    await reader.readByKeys({ ...p, collection: 'other' }, keys);
    expect(sent.map((s) => [s.consistency_level, s.guarantee_timestamp])).toEqual([
      ['Strong', '0'],
      ['Customized', '449912345678901299'],
      ['Customized', '449912345678901299'], // the key walk's page
      ['Strong', '0'],
    ]);
  });

  it('stays strongly consistent when the server gives no flush timestamp', async () => {
    const { reader, sent } = target(null);
    await reader.flush(p);
    await reader.readByKeys(p, keys);
    expect(sent.map((s) => s.consistency_level)).toEqual(['Strong']);
  });
});
