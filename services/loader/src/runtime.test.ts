import { describe, expect, it, vi } from 'vitest';
import { EtlError, type LogConsumer, type PartitionOffset } from '@p2m/core';
import { decodeCounts, runLoader, type CommittedPosition } from './runtime.ts';
import { batch, fast, options, plan, RecordingProducer, RecordingWriter, runUntil, ScriptedConsumer } from './runtime.fixture.ts';

describe('runLoader', () => {
  it('poll → write → DLQ → preCommit → commit, in that order, per batch', async () => {
    const events: string[] = [];
    const writer = new RecordingWriter(events);
    writer.refuse.add('r1');
    const producer = new RecordingProducer();
    const consumer = new ScriptedConsumer([(h) => h(batch(0, 3))], events);
    await runUntil(
      (signal) => options(consumer, writer, signal, { producer }),
      () => consumer.committed.length > 0,
    );
    expect(events).toEqual(['write r0,r1,r2', 'preCommit 0:3 -> 1', 'commit 0:3']);
    // The refused record is in the DLQ with the writer's reason, acknowledged before the commit.
    expect(producer.sent).toHaveLength(1);
    expect(JSON.parse(producer.sent[0]!.messages[0]!.value!.toString())).toMatchObject({
      id: 'r1',
      code: 'RECORD_REJECTED',
      reason: 'refused r1',
      source: '0:1',
    });
    expect(decodeCounts(consumer.committed[0]!.metadata)).toEqual({ loaded: 2, failed: 1, byNamespace: { '': { l: 2, d: 1 } } });
  });

  it('commits only what the writer says is durable; the rest is committed later by the timer, newest offset only', async () => {
    const events: string[] = [];
    const writer = new RecordingWriter(events);
    let durableNow = false;
    writer.durable = (c) => (durableNow ? c : []);
    const consumer = new ScriptedConsumer([(h) => h(batch(0, 2)), (h) => h(batch(2, 2))], events);
    const stop = new AbortController();
    const run = runLoader(options(consumer, writer, stop.signal));
    await new Promise((r) => setTimeout(r, 50));
    expect(consumer.committed).toEqual([]);
    durableNow = true; // e.g. the writer's flush interval passed
    for (let i = 0; i < 50 && consumer.committed.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await run;
    expect(consumer.committed.map((o) => o.offset)).toEqual(['4']);
  });

  it('a permanent write error fails the loader at once, committing nothing', async () => {
    const events: string[] = [];
    const writer = new RecordingWriter(events);
    writer.failWith = new EtlError('TARGET_UNSUPPORTED', 'Milvus refuses every record', { retriable: false });
    const consumer = new ScriptedConsumer([(h) => h(batch(0, 2))], events);
    const started = performance.now();
    const failed = await runLoader(options(consumer, writer, new AbortController().signal)).catch((e: unknown) => e);
    expect((failed as Error).message).toBe('Milvus refuses every record');
    expect(consumer.committed).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a transient write error that outlasts its policy fails the loader naming the system, within the deadline', async () => {
    const events: string[] = [];
    const writer = new RecordingWriter(events);
    writer.failWith = new EtlError('TARGET_UNAVAILABLE', 'connection refused', { retriable: true });
    const consumer = new ScriptedConsumer([(h) => h(batch(0, 2))], events);
    const policy = { retries: Infinity, initialDelayMs: 5, maxDelayMs: 10, deadlineMs: 200, system: 'Milvus (x:1)' };
    const failed = await runLoader(options(consumer, writer, new AbortController().signal, { policies: { sink: policy, log: fast } })).catch((e: unknown) => e);
    expect((failed as EtlError).name).toBe('RetriesExhausted');
    expect((failed as EtlError).message).toMatch(/^Milvus \(x:1\) stayed unreachable for \d+ s \(\d+ attempts\): connection refused/);
    expect((failed as EtlError).retriable).toBe(false);
  });

  it('re-reads the committed counts when another member advanced the partition meanwhile', async () => {
    let committed: PartitionOffset | null = null;
    let metadataReads = 0;
    const events: string[] = [];
    const consumer = new ScriptedConsumer(
      [
        (h) => h(batch(0, 3)),
        (h) => h(batch(3, 2)),
        // The partition was revoked and handed back: another member loaded offsets 5..9 and committed
        // its counts (5 + 5 = 10) before this member got the partition again.
        async (h) => {
          committed = { partition: 0, offset: '10', metadata: JSON.stringify({ l: 10, d: 0, ns: { '': { l: 10, d: 0 } } }) };
          await h(batch(10, 4));
        },
      ],
      events,
      (offsets) => (committed = offsets[0]!),
    );
    const read = async (): Promise<CommittedPosition | null> => {
      metadataReads++;
      const c = committed as PartitionOffset | null;
      return c ? { offset: c.offset, metadata: c.metadata ?? null } : null;
    };
    await runUntil(
      (signal) => options(consumer, new RecordingWriter(events), signal, { committed: read }),
      () => consumer.committed.some((o) => o.offset === '14'),
    );
    const final = committed as PartitionOffset | null;
    expect(final?.offset).toBe('14');
    expect(decodeCounts(final?.metadata)).toEqual({ loaded: 14, failed: 0, byNamespace: { '': { l: 14, d: 0 } } });
    // Read when first seen and when taken over; the batch continuing its own commit used the cache.
    expect(metadataReads).toBe(2);
  });

  it("a batch redelivered after this member's own deferred commit landed is not counted twice", async () => {
    // A rebalance that leaves the partition here restarts fetching at the committed offset (0); the
    // commit of offset 3, deferred until a flush, lands before the redelivered batch is read.
    let committed: PartitionOffset | null = null;
    const events: string[] = [];
    const writer = new RecordingWriter(events);
    const consumer = new ScriptedConsumer(
      [
        (h) => h(batch(0, 3)),
        async (h) => {
          for (let i = 0; i < 50 && committed === null; i++) await new Promise((r) => setTimeout(r, 20));
          await h(batch(0, 5)); // 0..2 again, then 3..4 new
        },
      ],
      events,
      (offsets) => (committed = offsets[0]!),
    );
    const read = async (): Promise<CommittedPosition | null> => {
      const c = committed as PartitionOffset | null;
      return c ? { offset: c.offset, metadata: c.metadata ?? null } : null;
    };
    await runUntil(
      (signal) => options(consumer, writer, signal, { committed: read }),
      () => consumer.committed.some((o) => o.offset === '5'),
    );
    expect(events.filter((e) => e.startsWith('write'))).toEqual(['write r0,r1,r2', 'write r3,r4']);
    expect(decodeCounts((committed as PartitionOffset | null)?.metadata).loaded).toBe(5);
  });

  it('a commit refused by a rebalance that took the partition away ends the batch, not the loader', async () => {
    let stale = false;
    const events: string[] = [];
    let refused = 0;
    const consumer = new ScriptedConsumer([(h) => h({ ...batch(0, 2), isStale: () => stale }), (h) => h(batch(2, 2, 1))], events, () => {
      if (refused++ === 0) {
        stale = true; // what the Kafka wrapper does when the commit meets REBALANCE_IN_PROGRESS
        throw new EtlError('TRANSIENT', 'Kafka: commit offsets failed: The group is rebalancing', { retriable: true });
      }
    });
    await runUntil(
      (signal) => options(consumer, new RecordingWriter(events), signal),
      () => consumer.committed.length > 0,
    );
    expect(refused).toBe(2);
    expect(consumer.committed).toEqual([expect.objectContaining({ partition: 1, offset: '4' })]);
  });

  it('returns without joining the group when its signal is already aborted, leaving no timer behind', async () => {
    let ran = false;
    const consumer: LogConsumer = {
      run: async () => {
        ran = true;
        await new Promise(() => undefined);
      },
      commit: async () => undefined,
      stop: async () => undefined,
    };
    const stopped = new AbortController();
    stopped.abort();
    vi.useFakeTimers();
    try {
      await runLoader(options(consumer, new RecordingWriter([]), stopped.signal));
      expect(ran).toBe(false);
      expect(vi.getTimerCount(), 'no timer left behind').toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
