import protobuf from 'protobufjs';
import milvusProto from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { describe, expect, it } from 'vitest';
import { EtlError, parseJobSpec, planCollection, type CollectionPlan, type DurabilityEvent, type SinkReader, type VectorRecord } from '@p2m/core';
import { capability, fullCapabilities, liteCapabilities } from '@p2m/testing';
import type { MilvusConnection } from './connection.ts';
import { checked, type FailureContext } from './errors.ts';
import type { GrpcWriter, MutationResult } from './grpc-writer.ts';
import { createWriter, MAX_REWRITES } from './writer.ts';

const root = protobuf.Root.fromJSON(((milvusProto as unknown as { default?: protobuf.INamespace }).default ?? milvusProto) as protobuf.INamespace);
const UpsertRequest = root.lookupType('milvus.proto.milvus.UpsertRequest');
const DeleteRequest = root.lookupType('milvus.proto.milvus.DeleteRequest');

interface Decoded {
  partition_name: string;
  fields_data: { field_name: string; scalars?: { string_data?: { data: string[] } } }[];
}

/**
 * A Milvus that behaves like Milvus Lite where it matters here: it acknowledges upserts, keeps
 * them in memory until a flush, and forgets the unflushed ones when it restarts (which breaks the
 * connection and so moves the epoch). Requests are decoded from their real bytes.
 */
class FakeServer {
  readonly unflushed = new Map<string, string>();
  readonly durable = new Map<string, string>();
  readonly events: string[] = [];
  epochValue: number | null = 0;
  /** The channel is still connecting (no epoch) until a write waits for it. */
  connecting = false;
  /** Called on every flush, e.g. to restart the server right after it. */
  onFlush: () => void = () => undefined;
  /** The next flush fails half-way: it throws, and what it was flushing is gone (no restart). */
  failNextFlush = false;
  /** A record id Milvus refuses (the request as a whole fails, as Milvus answers bad data). */
  refuse = new Set<string>();
  queries = 0;

  restart(): void {
    this.unflushed.clear();
    if (this.epochValue !== null) this.epochValue++;
    this.events.push('restart');
  }

  upsert(request: Buffer): MutationResult {
    const d = UpsertRequest.toObject(UpsertRequest.decode(request), { defaults: true, arrays: true }) as Decoded;
    const ids = d.fields_data.find((f) => f.field_name === 'id')!.scalars!.string_data!.data;
    const columns = d.fields_data.map((f) => f.field_name).join('+');
    this.events.push(`upsert ${ids.join(',')}${d.partition_name ? ` @${d.partition_name}` : ''} [${columns}]`);
    const bad = ids.find((id) => this.refuse.has(id));
    if (bad) return { status: { error_code: 'IllegalArgument', code: 1100, reason: `bad record ${bad}`, retriable: false }, err_index: [], upsert_cnt: '0' };
    for (const id of ids) this.unflushed.set(id, 'x');
    return { status: { error_code: 'Success', code: 0, reason: '', retriable: false }, err_index: [], upsert_cnt: String(ids.length) };
  }

  /** A delete as the writer sends it on its channel, decoded from the request's bytes. */
  delete(request: Buffer): MutationResult {
    const d = DeleteRequest.toObject(DeleteRequest.decode(request), { defaults: true }) as { collection_name: string; partition_name: string; expr: string };
    const keys = [...d.expr.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    this.events.push(`delete ${keys.join(',')}${d.partition_name ? ` @${d.partition_name}` : ''}`);
    for (const k of keys) this.unflushed.delete(k);
    return { status: { error_code: 'Success', code: 0, reason: '', retriable: false }, err_index: [], upsert_cnt: '0' };
  }

  flush(): void {
    if (this.failNextFlush) {
      this.failNextFlush = false;
      this.events.push('flush failed');
      this.unflushed.clear();
      throw new EtlError('TARGET_UNAVAILABLE', 'flushing "c" failed: segment write failed', { retriable: true });
    }
    this.events.push('flush');
    for (const [k, v] of this.unflushed) this.durable.set(k, v);
    this.unflushed.clear();
    this.onFlush();
  }

  connection(): MilvusConnection {
    const epoch = (): number | null => (this.connecting ? null : this.epochValue);
    const grpc: GrpcWriter = {
      upsert: async (request) => this.upsert(request),
      delete: async (request) => this.delete(request),
      flush: () => Promise.reject(new Error('the writer flushes through its reader')),
      flushState: () => Promise.reject(new Error('the writer flushes through its reader')),
      connectionEpoch: epoch,
      ready: async () => {
        this.events.push('ready');
        this.connecting = false;
      },
      close: () => undefined,
    };
    const client = {
      query: async (req: { filter: string }) => {
        this.queries++;
        const keys = [...req.filter.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
        return { status: { error_code: 'Success', code: 0 }, data: keys.filter((k) => this.durable.has(k) || this.unflushed.has(k)).map((k) => ({ id: k })) };
      },
    } as unknown as MilvusClient;
    return {
      address: 'fake:19530',
      timeout: 1_000,
      longTimeout: 1_000,
      writerKind: 'grpc',
      call: async <T>(ctx: FailureContext, fn: (c: MilvusClient) => Promise<T>) => checked(await fn(client), ctx),
      grpc: () => grpc,
      queries: () => {
        throw new Error('the writer does not query on the verification channel');
      },
      epoch,
      collectionNames: async () => [],
      close: async () => undefined,
    };
  }

  reader(): SinkReader {
    return {
      flush: async () => this.flush(),
      createIndexes: async () => void this.events.push('index'),
      loadCollection: async () => void this.events.push('load'),
      countByNamespace: async () => new Map(),
      listIds: async () => [],
      getRecords: async () => [],
      holdersOf: async () => new Map(),
      countRows: async () => 0,
      readByKeys: async () => [],
      scanKeys: async function* () {},
    };
  }
}

function plan(o: { metric?: 'cosine' | 'dotproduct'; partitionKey?: boolean; capabilities?: ReturnType<typeof fullCapabilities> } = {}): CollectionPlan {
  return planCollection({
    spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'fake:19530', collection: 'c', partitionKey: o.partitionKey ?? true } }),
    index: { name: 'idx', dimension: 2, metric: o.metric ?? 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
    namespaces: ['', 'tenant-a'].map((name) => ({ name, recordCount: 1 })),
    // Lite, but with an upsert that replaces $meta: the tests below are about requests and flushes,
    // the delete before an upsert (Lite's real answer) has its own test.
    capabilities: o.capabilities ?? liteCapabilities({ upsertReplacesDynamicField: capability(true) }),
  });
}

const rec = (id: string, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  kind: 'vector',
  namespace: '',
  id,
  values: Float32Array.from([1, 2]),
  sparse: null,
  metadata: null,
  ...extra,
});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A writer that flushes before every commit (no interval), and the durability events it reports. */
function flushingWriter(server: FakeServer): { writer: ReturnType<typeof createWriter>; events: DurabilityEvent[] } {
  const events: DurabilityEvent[] = [];
  const writer = createWriter(server.connection(), plan(), server.reader(), {
    flushBeforeCommit: true,
    flushIntervalMs: 0,
    onDurability: (e) => events.push(e),
  });
  return { writer, events };
}

describe('SinkWriter.write', () => {
  it('where upsert merges metadata into the old row (Milvus Lite), each request is preceded by a delete of its keys, per partition', async () => {
    const server = new FakeServer();
    const lite = plan({ capabilities: liteCapabilities() });
    expect(lite.deleteBeforeUpsert).toBe(true);
    await createWriter(server.connection(), lite, server.reader(), { flushBeforeCommit: false }).write(
      { records: [rec('a'), rec('b', { values: Float32Array.from([1, 2, 3]) }), rec('c')] },
      0,
    );
    expect(server.events).toEqual(['delete a,c', 'upsert a,c [id+namespace+vector+$meta]']);
    const parts = plan({ partitionKey: false, capabilities: liteCapabilities() });
    const other = new FakeServer();
    await createWriter(other.connection(), parts, other.reader(), { flushBeforeCommit: false }).write(
      { records: [rec('a', { namespace: 'tenant-a' }), rec('b')] },
      0,
    );
    expect(other.events).toEqual([
      `delete a @${parts.partitions['tenant-a']}`,
      `upsert a @${parts.partitions['tenant-a']} [id+vector+$meta]`,
      'delete b',
      'upsert b [id+vector+$meta]',
    ]);
    // A target whose upsert replaces the row is not asked to delete.
    const full = new FakeServer();
    await createWriter(full.connection(), plan({ capabilities: fullCapabilities() }), full.reader(), { flushBeforeCommit: false }).write(
      { records: [rec('a')] },
      0,
    );
    expect(full.events).toEqual(['upsert a [id+namespace+vector+$meta]']);
  });

  it('answers per record: invalid ones are never sent, the rest are acknowledged', async () => {
    const server = new FakeServer();
    const writer = createWriter(server.connection(), plan(), server.reader(), { flushBeforeCommit: false });
    const result = await writer.write({ records: [rec('a'), rec('b', { values: Float32Array.from([1, 2, 3]) }), rec('c')] }, 0);
    expect(result.rejected).toEqual([{ index: 1, code: 'RECORD_INVALID', reason: expect.stringMatching(/3 dimensions/) as string }]);
    expect(server.events).toEqual(['upsert a,c [id+namespace+vector+$meta]']);
  });

  it('finds the record Milvus refuses by sending each on its own, no halving', async () => {
    const server = new FakeServer();
    server.refuse.add('b');
    const writer = createWriter(server.connection(), plan(), server.reader(), { flushBeforeCommit: false });
    const result = await writer.write({ records: [rec('a'), rec('b'), rec('c')] }, 0);
    expect(result.rejected.map((r) => [r.index, r.code])).toEqual([[1, 'RECORD_REJECTED']]);
    expect(result.rejected[0]!.reason).toMatch(/bad record b/);
    expect(server.events.slice(1)).toEqual([
      'upsert a [id+namespace+vector+$meta]',
      'upsert b [id+namespace+vector+$meta]',
      'upsert c [id+namespace+vector+$meta]',
    ]);
    expect([...server.unflushed.keys()].sort()).toEqual(['a', 'c']);
  });

  it('a batch whose every record Milvus refuses alone fails the job at once, not the DLQ', async () => {
    const server = new FakeServer();
    for (const id of ['a', 'b']) server.refuse.add(id);
    const writer = createWriter(server.connection(), plan(), server.reader(), { flushBeforeCommit: false });
    const failed = await writer.write({ records: [rec('a'), rec('b')] }, 0).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(EtlError);
    expect((failed as EtlError).retriable).toBe(false);
    expect((failed as EtlError).message).toMatch(/refuses every record of a batch of 2/);
  });

  it('a hybrid record without sparse values goes in a request that leaves the nullable sparse field out', async () => {
    const server = new FakeServer();
    const writer = createWriter(server.connection(), plan({ metric: 'dotproduct' }), server.reader(), { flushBeforeCommit: false });
    const sparse = { indices: [3], values: Float32Array.from([0.5]) };
    const result = await writer.write(
      { records: [rec('a', { sparse }), rec('b'), rec('c', { sparse: { indices: [], values: new Float32Array(0) } }), rec('d', { sparse })] },
      0,
    );
    expect(result.rejected).toEqual([]);
    expect(server.events).toEqual(['upsert a,d [id+namespace+vector+sparse_vector+$meta]', 'upsert b,c [id+namespace+vector+$meta]']);
  });

  it('in partitions mode one request per partition', async () => {
    const server = new FakeServer();
    const p = plan({ partitionKey: false });
    const writer = createWriter(server.connection(), p, server.reader(), { flushBeforeCommit: false });
    await writer.write({ records: [rec('a', { namespace: 'tenant-a' }), rec('b'), rec('c', { namespace: 'tenant-a' })] }, 0);
    expect(server.events).toEqual([`upsert a,c @${p.partitions['tenant-a']} [id+vector+$meta]`, 'upsert b [id+vector+$meta]']);
  });
});

describe('SinkWriter.preCommit', () => {
  it('a target with a write-ahead log: everything acknowledged is durable, no flush', async () => {
    const server = new FakeServer();
    const writer = createWriter(server.connection(), plan({ capabilities: fullCapabilities() }), server.reader(), { flushBeforeCommit: false });
    await writer.write({ records: [rec('a')] }, 0);
    expect(await writer.preCommit([{ partition: 0, offset: '1' }])).toEqual([{ partition: 0, offset: '1' }]);
    expect(server.events).not.toContain('flush');
  });

  it('flush before commit: nothing is durable before a flush that came after the write, at most one flush per interval', async () => {
    const server = new FakeServer();
    const writer = createWriter(server.connection(), plan(), server.reader(), { flushBeforeCommit: true, flushIntervalMs: 100 });
    await writer.write({ records: [rec('a')] }, 0);
    expect(await writer.preCommit([{ partition: 0, offset: '1' }])).toEqual([]);
    await writer.write({ records: [rec('b')] }, 1);
    await wait(110);
    expect(
      await writer.preCommit([
        { partition: 0, offset: '1' },
        { partition: 1, offset: '1' },
      ]),
    ).toHaveLength(2);
    expect(server.events.filter((e) => e === 'flush')).toHaveLength(1);
    // The connection stayed up from the writes to the flush: nothing was read back.
    expect(server.queries).toBe(0);
    expect([...server.durable.keys()]).toEqual(['a', 'b']);
  });

  it('a write on a channel still connecting waits for it, so the flush confirms it by the epoch: nothing is written twice', async () => {
    const server = new FakeServer();
    server.connecting = true;
    const { writer, events } = flushingWriter(server);
    await writer.write({ records: [rec('a'), rec('b')] }, 0);
    await writer.write({ records: [rec('c')] }, 1);
    expect(await writer.preCommit([{ partition: 0, offset: '2' }])).toEqual([{ partition: 0, offset: '2' }]);
    expect(server.events).toEqual(['ready', 'upsert a,b [id+namespace+vector+$meta]', 'upsert c [id+namespace+vector+$meta]', 'flush']);
    expect(events).toEqual([]);
    expect(server.queries).toBe(0);
  });

  it('a restart between the write and the flush: what it lost is written again, then flushed, before anything is durable', async () => {
    const server = new FakeServer();
    const { writer, events } = flushingWriter(server);
    await writer.write({ records: [rec('a'), rec('b')] }, 0);
    await writer.write({ records: [rec('c')] }, 3);
    server.restart();
    expect(await writer.preCommit([{ partition: 0, offset: '2' }])).toEqual([{ partition: 0, offset: '2' }]);
    expect(server.events).toEqual([
      'upsert a,b [id+namespace+vector+$meta]',
      'upsert c [id+namespace+vector+$meta]',
      'restart',
      'flush',
      'upsert a,b [id+namespace+vector+$meta]',
      'upsert c [id+namespace+vector+$meta]',
      'flush',
    ]);
    expect([...server.durable.keys()].sort()).toEqual(['a', 'b', 'c']);
    // Reported once, naming the topic partitions; the rewrite itself was confirmed by the epoch.
    expect(events).toEqual([{ kind: 'rewrite', records: 3, partitions: [0, 3], round: 0, reason: 'epoch-changed', firstId: 'a' }]);
  });

  it('a flush that failed may have lost its rows without a restart: they are written again before anything is durable', async () => {
    const server = new FakeServer();
    const { writer, events } = flushingWriter(server);
    await writer.write({ records: [rec('a'), rec('b')] }, 0);
    server.failNextFlush = true;
    await expect(writer.preCommit([{ partition: 0, offset: '2' }])).rejects.toThrow(/segment write failed/);
    expect(events).toEqual([{ kind: 'flush-failed', records: 2, partitions: [0], error: 'flushing "c" failed: segment write failed' }]);
    expect(await writer.preCommit([{ partition: 0, offset: '2' }])).toEqual([{ partition: 0, offset: '2' }]);
    expect(events.slice(1)).toEqual([{ kind: 'rewrite', records: 2, partitions: [0], round: 0, reason: 'unconfirmed', firstId: 'a' }]);
    expect(server.events).toEqual(['upsert a,b [id+namespace+vector+$meta]', 'flush failed', 'flush', 'upsert a,b [id+namespace+vector+$meta]', 'flush']);
    expect([...server.durable.keys()].sort()).toEqual(['a', 'b']);
  });

  it('on a target whose upsert merges metadata, a rewrite after a restart deletes the keys first too', async () => {
    const server = new FakeServer();
    const writer = createWriter(server.connection(), plan({ capabilities: liteCapabilities() }), server.reader(), {
      flushBeforeCommit: true,
      flushIntervalMs: 0,
    });
    await writer.write({ records: [rec('a'), rec('b')] }, 0);
    server.restart();
    await writer.preCommit([{ partition: 0, offset: '2' }]);
    expect(server.events).toEqual([
      'delete a,b',
      'upsert a,b [id+namespace+vector+$meta]',
      'restart',
      'flush',
      'delete a,b',
      'upsert a,b [id+namespace+vector+$meta]',
      'flush',
    ]);
  });

  it('where no connection epoch can be read, the keys are read back and only the lost ones written again', async () => {
    const server = new FakeServer();
    server.epochValue = null;
    const { writer, events } = flushingWriter(server);
    await writer.write({ records: [rec('a')] }, 0);
    await server.reader().flush(plan());
    await writer.write({ records: [rec('b')] }, 0);
    server.restart(); // b was acknowledged, never flushed
    expect(await writer.preCommit([{ partition: 0, offset: '2' }])).toHaveLength(1);
    expect(server.events.slice(-3)).toEqual(['flush', 'upsert b [id+namespace+vector+$meta]', 'flush']);
    expect(server.queries).toBeGreaterThan(0);
    expect([...server.durable.keys()].sort()).toEqual(['a', 'b']);
    expect(events).toEqual([{ kind: 'rewrite', records: 1, partitions: [0], round: 0, reason: 'not-read-back', firstId: 'b' }]);
  });

  it('a server that loses the writes every time: preCommit gives up after a bounded number of rewrites, with the reason', async () => {
    const server = new FakeServer();
    server.onFlush = () => server.restart(); // loses everything acknowledged, right after each flush
    server.unflushed.clear();
    const writer = createWriter(server.connection(), plan(), server.reader(), { flushBeforeCommit: true, flushIntervalMs: 0 });
    await writer.write({ records: [rec('a')] }, 0);
    const started = performance.now();
    const failed = await writer.preCommit([{ partition: 0, offset: '1' }]).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(EtlError);
    expect((failed as EtlError).retriable).toBe(false);
    expect((failed as EtlError).message).toMatch(new RegExp(`could not be confirmed stored after writing them again ${MAX_REWRITES} times`));
    expect(server.events.filter((e) => e.startsWith('upsert'))).toHaveLength(1 + MAX_REWRITES);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a lost partition is forgotten: its writes are neither confirmed nor written again', async () => {
    const server = new FakeServer();
    const writer = createWriter(server.connection(), plan(), server.reader(), { flushBeforeCommit: true, flushIntervalMs: 0 });
    await writer.write({ records: [rec('a')] }, 0);
    await writer.write({ records: [rec('b')] }, 1);
    server.restart();
    writer.forget([1]);
    await writer.preCommit([{ partition: 0, offset: '1' }]);
    expect(server.events.filter((e) => e.startsWith('upsert'))).toEqual([
      'upsert a [id+namespace+vector+$meta]',
      'upsert b [id+namespace+vector+$meta]',
      'upsert a [id+namespace+vector+$meta]',
    ]);
  });

  it('a flush that fails keeps the writes for the next attempt', async () => {
    const server = new FakeServer();
    const reader = server.reader();
    let fail = true;
    const flaky: SinkReader = {
      ...reader,
      flush: async (p) => {
        if (fail) {
          fail = false;
          throw new EtlError('TARGET_UNAVAILABLE', 'flush failed: connection refused', { retriable: true });
        }
        await reader.flush(p);
      },
    };
    const writer = createWriter(server.connection(), plan({ capabilities: liteCapabilities({ queryNeedsLoad: capability(false) }) }), flaky, {
      flushBeforeCommit: true,
      flushIntervalMs: 0,
    });
    await writer.write({ records: [rec('a')] }, 0);
    await expect(writer.preCommit([{ partition: 0, offset: '1' }])).rejects.toThrow(/flush failed/);
    server.restart();
    expect(await writer.preCommit([{ partition: 0, offset: '1' }])).toHaveLength(1);
    expect([...server.durable.keys()]).toEqual(['a']);
  });
});
