import { AsyncLocalStorage } from 'node:async_hooks';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { EtlError, type ConsumerBatch, type ConsumerOptions, type IncomingMessage, type LogConsumer, type Logger, type PartitionOffset } from '@p2m/core';
import { isRebalanceError, toEtlError } from './errors.ts';

export function toIncoming(topic: string, partition: number, m: KafkaMessage): IncomingMessage {
  return { topic, partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, headers: headersOf(m.headers), timestamp: m.timestamp };
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first.toString();
  }
  return out;
}

const tp = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function checkOffset(offset: string): void {
  if (!/^\d+$/.test(offset)) throw new EtlError('INTERNAL', `invalid offset to commit: "${offset}"`, { retriable: false });
}

export interface ConsumerDeps {
  kafka: Kafka;
  logger: Logger;
  sessionTimeoutMs?: number;
}

/**
 * A consumer-group member with manual commits (ports.ts `LogConsumer`), on KafkaJS `eachBatch`
 * with autoCommit off and eachBatchAutoResolve off.
 *
 * - The fetch position moves past a batch only when its handler returned without the batch going
 *   stale; nothing is committed unless the caller calls `commit` (after its writes are acknowledged).
 * - After every rebalance the member reads each assigned partition from its committed offset, so
 *   anything handled but not committed is delivered again (`onAssignment` says when).
 * - `commit` resolves only once the group coordinator acknowledged it; KafkaJS silently skips a
 *   commit while its consumer is not running, which is turned into an error here.
 * - A handler that throws stops the consumer; `run` then rejects with that error. Broker outages
 *   are KafkaJS's to ride out: it restarts the member, which rejoins and resumes from committed
 *   offsets.
 */
export class KafkaLogConsumer implements LogConsumer {
  readonly #options: ConsumerOptions;
  readonly #consumer: Consumer;
  readonly #log: Logger;
  readonly #inHandler = new AsyncLocalStorage<true>();
  readonly #inflight = new Set<Promise<unknown>>();
  #assigned = new Set<string>();
  /** Bumped on every join and crash: a batch from an older epoch may belong to another member now. */
  #epoch = 0;
  #acknowledgedCommits = 0;
  /** KafkaJS crashed the member (a broker failure) and will start it again. */
  #restarting = false;
  #commitQueue: Promise<unknown> = Promise.resolve();
  #state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  #failure: unknown = null;
  #stopped: Promise<void> | null = null;
  /** KafkaJS's connect + subscribe + run (which resolves once the member joined the group). */
  #started: Promise<void> = Promise.resolve();
  #settle: { resolve: () => void; reject: (err: unknown) => void } | null = null;

  constructor(deps: ConsumerDeps, options: ConsumerOptions) {
    this.#options = options;
    this.#log = deps.logger.child({ groupId: options.groupId });
    this.#consumer = deps.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: deps.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((deps.sessionTimeoutMs ?? 30_000) / 10)),
      // `stop` waits for the fetch in flight: KafkaJS's 5 s long poll held a cancelled job's
      // loaders (and a SIGTERM) in the group that long on an idle topic.
      maxWaitTimeInMs: Math.min(options.maxWaitMs ?? 1_000, 1_000),
      ...(options.minBytes === undefined ? {} : { minBytes: options.minBytes }),
      ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }),
      // KafkaJS restarts a crashed consumer from a timer it sets after its own disconnect, where a
      // stop() in between cannot clear it (kafkajs#1639): the restarted member rejoined a group
      // nobody runs, and the rebalances around it left a resumed job's loader hung after a Kafka
      // outage. Asked at that point, a consumer that is being stopped declines the restart.
      retry: { restartOnFailure: async () => this.#state === 'running' },
    });
    const { GROUP_JOIN, CRASH, COMMIT_OFFSETS } = this.#consumer.events;
    this.#consumer.on(GROUP_JOIN, ({ payload }) => {
      if (this.#state === 'stopped') {
        // KafkaJS restarted itself after a broker failure although it was disconnected meanwhile
        // (kafkajs#1639): a member nobody runs would hold partitions forever. Leave again.
        this.#log.warn({ memberId: payload.memberId }, 'rejoined the group after it was stopped; leaving again');
        void this.#consumer.disconnect().catch((err: unknown) => this.#log.warn({ err }, 'consumer disconnect failed'));
        return;
      }
      this.#epoch++;
      this.#restarting = false;
      const assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      this.#assigned = new Set(assigned.map((a) => tp(a.topic, a.partition)));
      this.#log.info({ memberId: payload.memberId, assigned }, 'joined the consumer group');
      try {
        this.#options.onAssignment?.(assigned);
      } catch (err) {
        this.#log.error({ err }, 'onAssignment threw');
      }
    });
    this.#consumer.on(CRASH, ({ payload }) => {
      this.#epoch++;
      this.#assigned = new Set();
      this.#restarting = payload.restart;
      if (payload.restart) this.#log.warn({ err: payload.error }, 'consumer crashed; KafkaJS restarts it and it resumes from committed offsets');
      else if (this.#state === 'running') this.#fail(toEtlError(payload.error, `consume ${options.topics.join(',')}`));
    });
    this.#consumer.on(COMMIT_OFFSETS, () => {
      this.#acknowledgedCommits++;
    });
  }

  async run(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void> {
    if (this.#state !== 'idle') throw new EtlError('INTERNAL', 'a LogConsumer runs once', { retriable: false });
    this.#state = 'running';
    const settled = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    const start = (async () => {
      await this.#consumer.connect();
      await this.#consumer.subscribe({ topics: this.#options.topics, fromBeginning: this.#options.fromBeginning });
      await this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: Math.max(1, this.#options.partitionsConsumedConcurrently ?? 1),
        eachBatch: (payload) => this.#onBatch(payload, handler),
      });
    })();
    this.#started = start.catch(() => undefined);
    try {
      await start;
    } catch (err) {
      this.#fail(toEtlError(err, `start consuming ${this.#options.topics.join(',')}`));
    }
    return settled;
  }

  async #onBatch(payload: EachBatchPayload, handler: (batch: ConsumerBatch) => Promise<void>): Promise<void> {
    if (this.#state !== 'running') return;
    const { batch } = payload;
    const { topic, partition } = batch;
    const epoch = this.#epoch;
    const key = tp(topic, partition);
    let lost = false;
    const view: ConsumerBatch = {
      topic,
      partition,
      messages: batch.messages.map((m) => toIncoming(topic, partition, m)),
      heartbeat: async () => {
        try {
          await payload.heartbeat();
        } catch (err) {
          if (isRebalanceError(err)) lost = true;
          else this.#log.warn({ err, topic, partition }, 'heartbeat failed');
        }
      },
      isStale: () => lost || this.#state !== 'running' || payload.isStale() || (this.#epoch !== epoch && !this.#assigned.has(key)),
    };
    const handled = this.#inHandler.run(true, () => handler(view));
    this.#inflight.add(handled);
    try {
      await handled;
    } catch (err) {
      this.#fail(err);
      return;
    } finally {
      this.#inflight.delete(handled);
    }
    if (!view.isStale() && view.messages.length > 0) payload.resolveOffset(batch.lastOffset());
  }

  async commit(topic: string, offsets: PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    for (const o of offsets) checkOffset(o.offset);
    // One commit at a time, so "a commit was acknowledged during this call" means this one was.
    const result = this.#commitQueue.then(() => this.#commitNow(topic, offsets));
    this.#commitQueue = result.catch(() => undefined);
    return result;
  }

  async #commitNow(topic: string, offsets: PartitionOffset[]): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') {
      throw new EtlError('INTERNAL', `cannot commit offsets of ${topic}: the consumer is ${this.#state === 'idle' ? 'not running yet' : 'stopped'}`, {
        retriable: false,
      });
    }
    const before = this.#acknowledgedCommits;
    const restarting = (): EtlError =>
      new EtlError('TRANSIENT', `offsets of ${topic} were not committed: the group member is restarting after a broker failure`, {
        retriable: true,
        hint: 'check batch.isStale(); uncommitted records are delivered again after the member rejoins',
      });
    if (this.#restarting) throw restarting();
    if (this.#state === 'stopping' && !this.#inHandler.getStore()) {
      // Only a handler that is finishing may still commit; KafkaJS is leaving the group otherwise.
      throw new EtlError('INTERNAL', `offsets of ${topic} were not committed: the consumer is stopping`, { retriable: false });
    }
    try {
      await this.#consumer.commitOffsets(offsets.map((o) => ({ topic, partition: o.partition, offset: o.offset, metadata: o.metadata ?? null })));
    } catch (err) {
      if (this.#restarting) throw restarting();
      if (isRebalanceError(err)) {
        // This member's generation is over: every batch it holds is stale from here on, so a
        // handler retrying this commit stops and returns, and KafkaJS can rejoin. Retrying would
        // wait for a rejoin that waits for the handler (a resumed job hung that way after a Kafka
        // outage). The partitions' new owners read the uncommitted records again.
        this.#epoch++;
        this.#assigned = new Set();
        this.#log.info(
          { topic, type: (err as { type?: string }).type },
          'offsets not committed: the group is rebalancing; the batches are read again after it',
        );
      }
      throw toEtlError(err, `commit offsets of ${topic}`);
    }
    if (this.#acknowledgedCommits === before) throw restarting();
  }

  #fail(err: unknown): void {
    if (this.#failure === null) this.#failure = err;
    this.#log.error({ err }, 'consumer stopped by an error');
    void this.stop();
  }

  /**
   * Stops taking batches, lets a running handler finish (its `isStale()` turns true, and its commit
   * still goes through), then leaves the group. Called from inside a handler, it returns at once
   * and the member leaves after that handler returns.
   */
  stop(): Promise<void> {
    if (this.#inHandler.getStore()) {
      void this.#shutdown();
      return Promise.resolve();
    }
    return this.#shutdown();
  }

  #shutdown(): Promise<void> {
    this.#stopped ??= (async () => {
      const wasRunning = this.#state !== 'idle';
      this.#state = 'stopping';
      await Promise.allSettled([...this.#inflight]);
      await this.#commitQueue;
      // A KafkaJS consumer disconnected while it is still joining crashes, restarts itself and
      // stays in the group as a member nobody runs, holding partitions (kafkajs#1639): a job
      // cancelled right after it started never loaded those partitions once resumed.
      await this.#started;
      try {
        if (wasRunning) await this.#consumer.disconnect();
      } catch (err) {
        this.#log.warn({ err }, 'consumer disconnect failed');
      }
      this.#state = 'stopped';
      if (this.#failure !== null) this.#settle?.reject(this.#failure);
      else this.#settle?.resolve();
    })();
    return this.#stopped;
  }
}
