import { errorMessage, isRetriable, retry, type ConsumerBatch, type LogConsumer, type Logger, type RetryOptions, type SinkWriter } from '@p2m/core';

/**
 * The commits a loader would like to make, and the one place they are made (after Kafka Connect's
 * `WorkerSinkTask`): per partition the newest offset whose records were written (and refused ones
 * sent to the DLQ), with the counts as offset metadata. `settle` asks the writer which of them are
 * durable (`preCommit`) and commits those while the partition is still this member's.
 */
interface Wish {
  topic: string;
  partition: number;
  offset: string;
  metadata: string;
  isStale: () => boolean;
}

export class PendingCommits {
  readonly #wishes = new Map<number, Wish>();
  readonly #consumer: LogConsumer;
  readonly #writer: SinkWriter;
  readonly #sinkPolicy: RetryOptions;
  readonly #logPolicy: RetryOptions;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  #turn: Promise<void> = Promise.resolve();

  constructor(opts: { consumer: LogConsumer; writer: SinkWriter; sinkPolicy: RetryOptions; logPolicy: RetryOptions; signal: AbortSignal; log: Logger }) {
    this.#consumer = opts.consumer;
    this.#writer = opts.writer;
    this.#sinkPolicy = opts.sinkPolicy;
    this.#logPolicy = opts.logPolicy;
    this.#signal = opts.signal;
    this.#log = opts.log;
  }

  /** Everything of `batch` is written: its next offset may be committed once the writer says it is durable. */
  offer(batch: ConsumerBatch, metadata: string): void {
    const last = batch.messages[batch.messages.length - 1]!;
    this.#wishes.set(batch.partition, {
      topic: batch.topic,
      partition: batch.partition,
      offset: (BigInt(last.offset) + 1n).toString(),
      metadata,
      isStale: () => batch.isStale(),
    });
  }

  get size(): number {
    return this.#wishes.size;
  }

  /** One settle at a time, so commits of a partition go out in order. */
  settle(): Promise<void> {
    const run = this.#turn.then(() => this.#settle());
    this.#turn = run.catch(() => undefined);
    return run;
  }

  async #settle(): Promise<void> {
    for (const [partition, wish] of this.#wishes) if (wish.isStale()) this.#wishes.delete(partition);
    const wishes = [...this.#wishes.values()];
    if (wishes.length === 0 || this.#signal.aborted) return;
    const durable = await retry(() => this.#writer.preCommit(wishes.map(({ partition, offset }) => ({ partition, offset }))), this.#sinkPolicy);
    for (const candidate of durable) {
      const wish = wishes.find((w) => w.partition === candidate.partition && w.offset === candidate.offset);
      if (!wish) continue;
      if (this.#wishes.get(wish.partition) === wish) this.#wishes.delete(wish.partition);
      // Stopping, or the partition moved on: leave it uncommitted (read again; upsert makes that harmless).
      if (this.#signal.aborted || wish.isStale()) continue;
      await this.#commit(wish);
    }
  }

  async #commit(wish: Wish): Promise<void> {
    // A broker restart makes the commit fail retriably: retry while this member still owns the
    // partition. Once it lost it, the new owner re-reads the batch (upsert makes that harmless).
    try {
      await retry(() => this.#consumer.commit(wish.topic, [{ partition: wish.partition, offset: wish.offset, metadata: wish.metadata }]), {
        ...this.#logPolicy,
        shouldRetry: (err) => isRetriable(err) && !wish.isStale() && !this.#signal.aborted,
      });
    } catch (err) {
      if (!wish.isStale() && !this.#signal.aborted) throw err;
      this.#log.info(
        { partition: wish.partition, offset: wish.offset, err: errorMessage(err) },
        'offsets not committed: the partition has a new owner (or the loader stops), which reads these records again',
      );
    }
  }
}
