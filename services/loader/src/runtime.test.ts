import { describe, expect, it, vi } from 'vitest';
import { createLogger, EtlError, parseJobSpec, planCollection, type ConsumerBatch, type LogConsumer, type MilvusSinkPort, type PartitionOffset, type VectorRecord } from '@p2m/core';
import { decodeCounts, PartitionPacer, runLoader } from './runtime.ts';

const plan = planCollection({
  spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: '127.0.0.1:19530', collection: 'c' } }),
  index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
  namespaces: [{ name: '', recordCount: 100 }],
  sparseDetected: false,
});

/** A batch of `count` records of partition 0 starting at `from`. */
function batch(from: number, count: number): ConsumerBatch {
  return {
    topic: 't',
    partition: 0,
    messages: Array.from({ length: count }, (_, i) => ({
      topic: 't',
      partition: 0,
      offset: String(from + i),
      key: null,
      value: Buffer.from(`r${from + i}`),
      headers: {},
      timestamp: '0',
    })),
    heartbeat: async () => undefined,
    isStale: () => false,
  };
}

/** runLoader options around a fake sink and consumer: one partition, default namespace, 2-d records. */
const loaderOptions = (sink: MilvusSinkPort, consumer: LogConsumer, signal: AbortSignal) => ({
  jobId: 'j',
  topic: 't',
  dlqTopic: 'd',
  plan,
  consumer,
  producer: { send: async () => undefined, close: async () => undefined } as never,
  sink,
  decode: async (v: Buffer): Promise<VectorRecord> => ({ kind: 'vector', namespace: '', id: v.toString(), values: new Float32Array([1, 2]), sparse: null, metadata: null }),
  batchBytes: 1 << 20,
  committedMetadata: async () => null,
  sinkDeadlineMs: 1_000,
  signal,
  log: createLogger('test', { level: 'silent' }),
});

describe('runLoader offset-metadata counts', () => {
  it('re-reads the committed counts when another member advanced the partition meanwhile', async () => {
    // What the group coordinator holds for partition 0.
    let committed: PartitionOffset | null = null;
    let metadataReads = 0;
    const deliveries: ((handler: (b: ConsumerBatch) => Promise<void>) => Promise<void>)[] = [
      (h) => h(batch(0, 3)),
      (h) => h(batch(3, 2)),
      // The partition was revoked and handed back: another member loaded offsets 5..9 and committed
      // its counts (5 + 5 = 10) before this member got the partition again.
      async (h) => {
        committed = { partition: 0, offset: '10', metadata: JSON.stringify({ l: 10, d: 0, ns: { '': { l: 10, d: 0 } } }) };
        await h(batch(10, 4));
      },
    ];
    const consumer: LogConsumer = {
      run: async (handler) => {
        for (const deliver of deliveries) await deliver(handler);
      },
      commit: async (_topic, offsets) => {
        committed = offsets[0]!;
      },
      stop: async () => undefined,
    };
    const sink = { upsert: async () => undefined } as unknown as MilvusSinkPort;
    await runLoader({
      jobId: 'j',
      topic: 't',
      dlqTopic: 'd',
      plan,
      consumer,
      producer: { send: async () => undefined, close: async () => undefined },
      sink,
      decode: async (value): Promise<VectorRecord> => ({ kind: 'vector', namespace: '', id: value.toString(), values: new Float32Array([1, 0]), sparse: null, metadata: null }),
      batchBytes: 1 << 20,
      committedMetadata: async () => {
        metadataReads++;
        return committed?.metadata ?? null;
      },
      sinkDeadlineMs: 1_000,
      signal: new AbortController().signal,
      log: createLogger('test', { level: 'silent' }),
    });
    const final = committed as PartitionOffset | null;
    expect(final?.offset).toBe('14');
    expect(decodeCounts(final?.metadata)).toEqual({ loaded: 14, failed: 0, byNamespace: { '': { l: 14, d: 0 } } });
    // Read when first seen and when taken over; the batch continuing its own commit used the cache.
    expect(metadataReads).toBe(2);
  });
});

describe('PartitionPacer', () => {
  it('books each partition its own time: records / rate, one batch after another', () => {
    let now = 1_000;
    const pacer = new PartitionPacer(100, () => now); // 100 records/s per partition
    expect(pacer.book(0, 50)).toBe(0); // the first batch goes at once...
    expect(pacer.book(0, 50)).toBe(500); // ...the next waits for the first one's 0.5 s
    expect(pacer.book(1, 200)).toBe(0); // another partition has a budget of its own
    now += 2_000; // idle longer than booked: no credit piles up beyond "now"
    expect(pacer.book(0, 10)).toBe(0);
    expect(pacer.book(0, 10)).toBe(100);
    expect(pacer.book(1, 10)).toBe(0);
  });

  it('heartbeats through a long wait and gives up when the partition is lost', async () => {
    const pacer = new PartitionPacer(0.1, () => 0); // one record = 10 s
    pacer.book(0, 1);
    let beats = 0;
    let stale = false;
    const waiting = pacer.pace(
      {
        partition: 0,
        heartbeat: async () => {
          beats++;
          stale = true; // the rebalance that revoked the partition is noticed at the heartbeat
        },
        isStale: () => stale,
      },
      1,
      new AbortController().signal,
    );
    expect(await waiting).toBe(false); // after the first 2 s slice, not the whole 10 s
    expect(beats).toBe(1);
  });

  it('pacing slows runLoader to the configured rate per partition', async () => {
    const upserts: number[] = [];
    let clock = 0;
    const sink = {
      upsert: async (_p: unknown, b: { records: unknown[] }) => {
        upserts.push(b.records.length);
      },
      namespacesOf: async () => new Map(),
      close: async () => undefined,
    } as unknown as MilvusSinkPort;
    const consumer = {
      run: async (handler: (b: ConsumerBatch) => Promise<void>) => {
        await handler(batch(0, 4));
        await handler(batch(4, 4));
      },
      commit: async () => undefined,
      stop: async () => undefined,
    } as unknown as LogConsumer;
    const started = performance.now();
    await runLoader({ ...loaderOptions(sink, consumer, new AbortController().signal), partitionRecordsPerSecond: 20 }); // 4 records = 200 ms each batch
    clock = performance.now() - started;
    expect(upserts).toEqual([4, 4]);
    // The second batch waited for the first one's 200 ms (a lower bound, not a timing target).
    expect(clock).toBeGreaterThanOrEqual(190);
  });
});

describe('runLoader with flushBeforeCommit (a target like Milvus Lite)', () => {
  function harness(batches: ConsumerBatch[], opts: { watchesConnection?: boolean } = {}) {
    const events: string[] = [];
    // What the server holds: acknowledged upserts, until `restart` (before a flush) forgets them.
    const unflushed = new Map<string, string>();
    const durable = new Map<string, string>();
    // A restart breaks the connection, which moves the sink's connection epoch (when it can watch it).
    let epoch = 0;
    const lookups = { count: 0 };
    const server = {
      restart: () => {
        unflushed.clear();
        epoch++;
      },
    };
    const sink = {
      upsert: async (_p: unknown, b: { records: VectorRecord[] }) => {
        events.push(`upsert ${b.records.map((r) => r.id).join(',')}`);
        for (const r of b.records) unflushed.set(r.id, r.namespace);
      },
      flush: async () => {
        events.push('flush');
        for (const [id, ns] of unflushed) durable.set(id, ns);
        unflushed.clear();
      },
      namespacesOf: async (_p: unknown, ids: string[]) => {
        lookups.count++;
        return new Map(ids.filter((id) => durable.has(id) || unflushed.has(id)).map((id) => [id, durable.get(id) ?? unflushed.get(id)!]));
      },
      connectionEpoch: () => (opts.watchesConnection === false ? null : epoch),
    } as unknown as MilvusSinkPort;
    let release: () => void = () => undefined;
    const drained = new Promise<void>((r) => (release = r));
    const consumer = {
      run: async (handler: (b: ConsumerBatch) => Promise<void>) => {
        for (const b of batches) await handler(b);
        await drained; // a member stays in the group after the topic is drained
      },
      commit: async (_t: string, offsets: PartitionOffset[]) => void events.push(`commit ${offsets.map((o) => o.offset).join(',')}`),
      stop: async () => release(),
    } as unknown as LogConsumer;
    return { events, sink, consumer, server, lookups, release: () => release() };
  }

  it('never commits an offset before a flush that came after its upsert', async () => {
    const h = harness([batch(0, 2), batch(2, 2)]);
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, h.consumer, stop.signal), flushBeforeCommit: true, flushIntervalMs: 0 });
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await run;
    expect(h.events).toEqual(['upsert r0,r1', 'flush', 'commit 2', 'upsert r2,r3', 'flush', 'commit 4']);
    // The connection stayed up from the upserts to the flushes: no ids read back.
    expect(h.lookups.count).toBe(0);
  });

  it('reads the ids back when the sink cannot tell whether the connection stayed up', async () => {
    const h = harness([batch(0, 2)], { watchesConnection: false });
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, h.consumer, stop.signal), flushBeforeCommit: true, flushIntervalMs: 0 });
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await run;
    expect(h.events).toEqual(['upsert r0,r1', 'flush', 'commit 2']);
    expect(h.lookups.count).toBe(1);
  });

  it('coalesces: one flush for several batches, and the drained topic is still committed by the timer', async () => {
    const h = harness([batch(0, 2), batch(2, 2), batch(4, 1)]);
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, h.consumer, stop.signal), flushBeforeCommit: true, flushIntervalMs: 200 });
    await new Promise((r) => setTimeout(r, 30));
    expect(h.events).toEqual(['upsert r0,r1', 'upsert r2,r3', 'upsert r4']); // nothing committed yet
    for (let i = 0; i < 40 && !h.events.includes('commit 5'); i++) await new Promise((r) => setTimeout(r, 25));
    stop.abort();
    await run;
    // Only the newest offset of the partition is committed, after the one flush.
    expect(h.events).toEqual(['upsert r0,r1', 'upsert r2,r3', 'upsert r4', 'flush', 'commit 5']);
  });

  it('a server restart between the upserts and the flush: the lost records are written again before the commit', async () => {
    const h = harness([batch(0, 2), batch(2, 2)]);
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, h.consumer, stop.signal), flushBeforeCommit: true, flushIntervalMs: 200 });
    await new Promise((r) => setTimeout(r, 30));
    h.server.restart(); // Milvus Lite SIGKILLed and back: r0..r3 were acknowledged, never flushed
    for (let i = 0; i < 40 && !h.events.some((e) => e.startsWith('commit')); i++) await new Promise((r) => setTimeout(r, 25));
    stop.abort();
    await run;
    expect(h.events).toEqual(['upsert r0,r1', 'upsert r2,r3', 'flush', 'upsert r0,r1', 'upsert r2,r3', 'flush', 'commit 4']);
    expect(h.lookups.count).toBe(2); // found r0..r3 missing, then found them all
  });

  it('the same restart on a sink that cannot watch its connection is caught by the read-back too', async () => {
    const h = harness([batch(0, 2), batch(2, 2)], { watchesConnection: false });
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, h.consumer, stop.signal), flushBeforeCommit: true, flushIntervalMs: 200 });
    await new Promise((r) => setTimeout(r, 30));
    h.server.restart();
    for (let i = 0; i < 40 && !h.events.some((e) => e.startsWith('commit')); i++) await new Promise((r) => setTimeout(r, 25));
    stop.abort();
    await run;
    expect(h.events).toEqual(['upsert r0,r1', 'upsert r2,r3', 'flush', 'upsert r0,r1', 'upsert r2,r3', 'flush', 'commit 4']);
  });

  it('a commit refused by a rebalance that took the partition away ends the batch, not the loader', async () => {
    let stale = false;
    const h = harness([{ ...batch(0, 2), isStale: () => stale }, batch(2, 2)]);
    let refused = 0;
    const consumer = {
      ...h.consumer,
      commit: async (t: string, offsets: PartitionOffset[]) => {
        if (refused++ === 0) {
          stale = true; // what the Kafka wrapper does when the commit meets REBALANCE_IN_PROGRESS
          throw new EtlError('TRANSIENT', 'Kafka: commit offsets failed: The group is rebalancing', { retriable: true });
        }
        return h.consumer.commit(t, offsets);
      },
    } as unknown as LogConsumer;
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, consumer, stop.signal), flushBeforeCommit: false });
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await run; // resolves: the refused commit did not fail the loader
    expect(refused).toBe(2);
    expect(h.events).toEqual(['upsert r0,r1', 'upsert r2,r3', 'commit 4']);
  });

  it('commits at once, with no flush, when the target persists acknowledged writes', async () => {
    const h = harness([batch(0, 2)]);
    const stop = new AbortController();
    const run = runLoader({ ...loaderOptions(h.sink, h.consumer, stop.signal), flushBeforeCommit: false });
    await new Promise((r) => setTimeout(r, 30));
    stop.abort();
    await run;
    expect(h.events).toEqual(['upsert r0,r1', 'commit 2']);
  });
});

describe('runLoader stopped before it started', () => {
  it('returns without joining the group when its signal is already aborted', async () => {
    let ran = false;
    const consumer = {
      run: async () => {
        ran = true;
        await new Promise(() => undefined); // a member that is never stopped
      },
      commit: async () => undefined,
      stop: async () => undefined,
    } as unknown as LogConsumer;
    const stopped = new AbortController();
    stopped.abort();
    vi.useFakeTimers();
    try {
      await runLoader({ ...loaderOptions({} as MilvusSinkPort, consumer, stopped.signal), flushBeforeCommit: true });
      expect(ran).toBe(false);
      expect(vi.getTimerCount(), 'no flush timer left behind').toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
