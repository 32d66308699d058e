import { AsyncLocalStorage } from 'node:async_hooks';
import { EtlError, type ConsumerBatch, type ConsumerOptions, type IncomingMessage, type LogConsumer, type PartitionOffset } from '@p2m/core';
import { tp, type ConsumerGroup, type GroupMember } from './groups.ts';
import type { TopicStore } from './topics.ts';

/** What the consumer needs of its log: the store, its group, and whether the log is reachable. */
export interface ConsumerContext {
  store: TopicStore;
  group: ConsumerGroup;
  check(): void;
}

/**
 * A group member of the in-memory log with the contract of the Kafka adapter's consumer: manual
 * commits only; after every rebalance each assigned partition is read again from its committed
 * offset; a batch is stale once its partition moved to another member or the consumer stops; a
 * handler that throws stops the consumer and `run` rejects with that error.
 */
export class InMemoryConsumer implements LogConsumer, GroupMember {
  readonly topics: readonly string[];
  readonly #ctx: ConsumerContext;
  readonly #options: ConsumerOptions;
  readonly #inHandler = new AsyncLocalStorage<true>();
  #assigned: { topic: string; partition: number }[] = [];
  #generation = 0;
  readonly #positions = new Map<string, number>();
  #state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  #failure: unknown = null;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;

  constructor(ctx: ConsumerContext, options: ConsumerOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.topics = [...options.topics];
  }

  assign(generation: number, assigned: { topic: string; partition: number }[]): void {
    this.#generation = generation;
    this.#assigned = assigned;
    this.#positions.clear();
    for (const a of assigned) this.#positions.set(tp(a.topic, a.partition), this.#ctx.group.startOffset(a.topic, a.partition, this.#options.fromBeginning));
    this.#options.onAssignment?.(assigned.map((a) => ({ ...a })));
    this.#wake?.();
  }

  async run(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void> {
    if (this.#state !== 'idle') throw new EtlError('INTERNAL', 'a LogConsumer runs once', { retriable: false });
    this.#ctx.check();
    this.#state = 'running';
    const onAppend = (): void => this.#wake?.();
    this.#ctx.store.on('appended', onAppend);
    this.#ctx.group.join(this);
    this.#loop = this.#consume(handler).finally(() => {
      this.#ctx.store.off('appended', onAppend);
      this.#ctx.group.leave(this);
      this.#state = 'stopped';
    });
    await this.#loop;
    if (this.#failure !== null) throw this.#failure;
  }

  async #consume(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void> {
    while (this.#state === 'running') {
      let delivered = false;
      for (const { topic, partition } of [...this.#assigned]) {
        if (this.#state !== 'running') return;
        const batch = this.#nextBatch(topic, partition);
        if (!batch) continue;
        delivered = true;
        try {
          await this.#inHandler.run(true, () => handler(batch));
        } catch (err) {
          this.#failure ??= err;
          this.#state = 'stopping';
          return;
        }
        if (!batch.isStale()) this.#positions.set(tp(topic, partition), Number(batch.messages[batch.messages.length - 1]!.offset) + 1);
      }
      if (!delivered) await this.#idle();
    }
  }

  #nextBatch(topic: string, partition: number): ConsumerBatch | null {
    const key = tp(topic, partition);
    const from = this.#positions.get(key) ?? 0;
    const limit = this.#options.maxBytesPerPartition ?? 1024 * 1024;
    const messages: IncomingMessage[] = [];
    let bytes = 0;
    for (let offset = from; ; offset++) {
      const m = this.#ctx.store.message(topic, partition, offset);
      if (!m) break;
      bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      if (messages.length > 0 && bytes > limit) break;
      messages.push(m);
    }
    if (messages.length === 0) return null;
    const generation = this.#generation;
    return {
      topic,
      partition,
      messages,
      heartbeat: async () => undefined,
      isStale: () =>
        this.#state !== 'running' || (this.#generation !== generation && !this.#assigned.some((a) => a.topic === topic && a.partition === partition)),
    };
  }

  /** Waits for a new message or an assignment, at most a short while (so `stop` is never held up). */
  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(this.#options.maxWaitMs ?? 50, 50));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async commit(topic: string, offsets: PartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    this.#ctx.check();
    if (this.#state === 'idle' || this.#state === 'stopped') {
      throw new EtlError('INTERNAL', `cannot commit offsets of ${topic}: the consumer is ${this.#state === 'idle' ? 'not running yet' : 'stopped'}`, {
        retriable: false,
      });
    }
    for (const o of offsets) {
      if (!/^\d+$/.test(o.offset)) throw new EtlError('INTERNAL', `invalid offset to commit: "${o.offset}"`, { retriable: false });
    }
    this.#ctx.group.commit(topic, offsets);
  }

  /** Stops taking batches; a handler that calls it returns at once and the member leaves after it. */
  stop(): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    if (this.#state === 'running') this.#state = 'stopping';
    this.#wake?.();
    if (this.#inHandler.getStore()) return Promise.resolve();
    return (this.#loop ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }
}
