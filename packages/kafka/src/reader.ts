import { randomUUID } from 'node:crypto';
import type { Consumer, ConsumerRunConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { EtlError, type IncomingMessage, type Logger, type TopicTail } from '@p2m/core';
import type { KafkaLogAdmin } from './admin.ts';
import { toIncoming } from './consumer.ts';
import { toEtlError } from './errors.ts';

/**
 * Reading a topic without committing anything: state rebuilds from the compacted topics
 * (`p2m.jobs`, `p2m.checkpoints`) and following them live. KafkaJS has no group-less assign, so each
 * reader is a member of a throwaway group of its own (`p2m.reader.<uuid>`) that never commits and is
 * deleted afterwards.
 */

export interface ReaderDeps {
  kafka: Kafka;
  admin: KafkaLogAdmin;
  logger: Logger;
  /** How long a read to the end may go without a batch (`READ_STALL_MS` unless given). */
  stallMs?: number;
}

/**
 * How long a read up to the end (`scanToEnd`, a tail's catch-up) may go without a batch arriving
 * while it is not inside its handler. KafkaJS by itself waits without end: a member that never gets
 * its partitions keeps rejoining, and a broker that stops answering is retried by a consumer that
 * restarts itself. A read that hears nothing for this long fails retriable, naming the topic and how
 * many partitions it still had to read; the caller's own retry decides what next (the board's start
 * retries a few times, then the process fails with that reason).
 */
export const READ_STALL_MS = 60_000;

/**
 * Times a read's silence: `stalled` is called once when no batch was being handled (`batches` wraps
 * KafkaJS's `eachBatch`) for `stallMs`. A slow handler is the caller's own wait, with its own
 * deadlines. Timed per batch, not per message: a scan of a million records adds no work per record.
 */
function stallGuard(stallMs: number, stalled: (silentMs: number) => void) {
  let last = Date.now();
  let inHandler = 0;
  const timer = setInterval(
    () => {
      const silent = Date.now() - last;
      if (inHandler === 0 && silent >= stallMs) {
        clearInterval(timer);
        stalled(silent);
      }
    },
    Math.min(1_000, Math.max(10, stallMs / 4)),
  );
  timer.unref();
  return {
    batches:
      <P>(eachBatch: (payload: P) => Promise<void>) =>
      async (payload: P): Promise<void> => {
        inHandler++;
        try {
          await eachBatch(payload);
        } finally {
          inHandler--;
          last = Date.now();
        }
      },
    stop: (): void => clearInterval(timer),
  };
}

/**
 * Connects, subscribes from the beginning and runs the consumer, unless `ended` settles first: a
 * stall or a crash while KafkaJS is still connecting or joining ends the wait as well.
 */
async function startedOrEnded(ended: Promise<void>, consumer: Consumer, topic: string, run: ConsumerRunConfig): Promise<void> {
  const started = (async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run(run);
  })();
  started.catch(() => undefined); // raced below; a late failure after `ended` must not go unhandled
  await Promise.race([started, ended]);
}

function stallError(topic: string, purpose: string, silentMs: number, partitionsLeft: number): EtlError {
  return new EtlError(
    'LOG_UNAVAILABLE',
    `Kafka: ${purpose} "${topic}" received nothing for ${Math.round(silentMs / 1000)} s with ${partitionsLeft} partition(s) still to read`,
    { retriable: true, hint: 'check that the brokers are up and that this client can join consumer groups (its group never got the partitions)' },
  );
}

type Handler = (message: IncomingMessage) => Promise<void> | void;

/** Fails fast: KafkaJS would otherwise retry a missing topic's metadata for half a minute. */
async function requireTopic(deps: ReaderDeps, topic: string): Promise<void> {
  if (!(await deps.admin.topicExists(topic))) {
    throw new EtlError('INTERNAL', `Kafka: topic "${topic}" does not exist`, { retriable: false, hint: 'create it first (LogAdmin.ensureTopic)' });
  }
}

/**
 * Fetches of at most 2 MB, 256 KB a partition (KafkaJS: 10 MB and 1 MB). KafkaJS turns a whole fetch
 * into message objects at once, so its size is memory held while a scan runs: reading 600,000 dim-8
 * records, the live heap and buffers peaked 39 MB above the start with the defaults and 19 MB with
 * these, and the scan took 2.6 s instead of 4.8 s (measured side by side). A record larger than a
 * partition's share still comes whole (the broker always returns the first batch).
 */
const READER_FETCH = { maxBytes: 2 * 1024 * 1024, maxBytesPerPartition: 256 * 1024 };

function readerConsumer(deps: ReaderDeps, purpose: string): { consumer: Consumer; groupId: string } {
  const groupId = `p2m.reader.${purpose}.${randomUUID()}`;
  const consumer = deps.kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 250,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    ...READER_FETCH,
  });
  return { consumer, groupId };
}

/** The high watermark of each partition that holds messages now: where a read of the topic as it is ends. */
async function endsOf(deps: ReaderDeps, topic: string): Promise<Map<number, bigint>> {
  const ends = new Map<number, bigint>();
  for (const p of await deps.admin.topicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
  return ends;
}

/** Every message of `topic` from the beginning up to the high watermarks at the time of the call, in partition order. */
export async function scanToEnd(deps: ReaderDeps, topic: string, handler: Handler): Promise<void> {
  await requireTopic(deps, topic);
  const remaining = await endsOf(deps, topic);
  if (remaining.size === 0) return;

  const { consumer, groupId } = readerConsumer(deps, 'scan');
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const guard = stallGuard(deps.stallMs ?? READ_STALL_MS, (silent) => fail(stallError(topic, 'reading', silent, remaining.size)));
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) fail(toEtlError(payload.error, `read ${topic}`));
  });
  try {
    await startedOrEnded(done, consumer, topic, {
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: guard.batches(async ({ batch, resolveOffset }: EachBatchPayload) => {
        const end = remaining.get(batch.partition);
        if (end === undefined) return;
        try {
          for (const m of batch.messages) {
            if (BigInt(m.offset) >= end) break;
            await handler(toIncoming(topic, batch.partition, m));
          }
        } catch (err) {
          fail(err);
          return;
        }
        resolveOffset(batch.lastOffset());
        if (BigInt(batch.lastOffset()) + 1n >= end) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) finish();
        }
      }),
    });
    await done;
  } catch (err) {
    throw err instanceof EtlError ? err : toEtlError(err, `read ${topic} to its end`);
  } finally {
    guard.stop();
    await consumer.disconnect().catch(() => undefined);
    await deps.admin.deleteGroup(groupId);
  }
}

export async function readTopicToEnd(deps: ReaderDeps, topic: string): Promise<IncomingMessage[]> {
  const out: IncomingMessage[] = [];
  await scanToEnd(deps, topic, (m) => void out.push(m));
  return out;
}

/**
 * Follow `topic` from the beginning, live. Resolves once the handler has seen every message up to the
 * high watermarks of the moment of the call (the topic as it was: a process rebuilds its state with
 * this one read, not a read to the end and then a second one from the beginning), and goes on
 * following. A handler error is logged and the message skipped: a follower must not stall on one bad
 * message. KafkaJS restarts the member after a broker failure; it then reads again from the
 * beginning (nothing is committed), so handlers must be idempotent, as they are when they fold
 * compacted state by key.
 */
export async function tail(deps: ReaderDeps, topic: string, handler: Handler): Promise<TopicTail> {
  await requireTopic(deps, topic);
  const behind = await endsOf(deps, topic);
  let caughtUp!: () => void;
  let failed!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    caughtUp = resolve;
    failed = reject;
  });
  ready.catch(() => undefined); // awaited below; a crash before that must not be an unhandled rejection
  const reached = (partition: number, next: bigint): void => {
    const end = behind.get(partition);
    if (end === undefined || next < end) return;
    behind.delete(partition);
    if (behind.size === 0) caughtUp();
  };
  // Only the catch-up is timed: once caught up, a quiet topic rightly delivers nothing.
  const guard = stallGuard(deps.stallMs ?? READ_STALL_MS, (silent) => failed(stallError(topic, 'catching up with', silent, behind.size)));
  void ready.then(guard.stop, guard.stop);
  if (behind.size === 0) caughtUp();
  const { consumer, groupId } = readerConsumer(deps, 'tail');
  const log = deps.logger.child({ topic, groupId });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) failed(toEtlError(payload.error, `follow ${topic}`));
  });
  try {
    await startedOrEnded(ready, consumer, topic, {
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: guard.batches(async ({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload) => {
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) return;
          try {
            await handler(toIncoming(topic, batch.partition, m));
          } catch (err) {
            log.error({ err, partition: batch.partition, offset: m.offset }, 'tail handler failed; message skipped');
          }
          resolveOffset(m.offset);
        }
        // The batch's last offset, not its last message's: compaction leaves gaps.
        if (behind.size > 0) reached(batch.partition, BigInt(batch.lastOffset()) + 1n);
      }),
    });
    await ready;
  } catch (err) {
    guard.stop();
    await consumer.disconnect().catch(() => undefined);
    await deps.admin.deleteGroup(groupId).catch(() => undefined);
    throw err instanceof EtlError ? err : toEtlError(err, `follow ${topic}`);
  }
  let stopped: Promise<void> | null = null;
  return {
    stop: () =>
      (stopped ??= (async () => {
        await consumer.disconnect().catch((err: unknown) => log.warn({ err }, 'tail disconnect failed'));
        await deps.admin.deleteGroup(groupId);
      })()),
  };
}
