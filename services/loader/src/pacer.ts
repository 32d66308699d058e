import { sleep, type ConsumerBatch } from '@p2m/core';

/**
 * Spaces a partition's upserts so it writes at most `ratePerSecond` records per second on average:
 * each batch waits until the records before it have had their time. Waits are cut into slices with
 * a heartbeat in between, so a slow rate never costs the member its place in the group.
 */
export class PartitionPacer {
  readonly #ratePerSecond: number;
  readonly #nextAt = new Map<number, number>();
  readonly #now: () => number;

  constructor(ratePerSecond: number, now: () => number = () => performance.now()) {
    this.#ratePerSecond = ratePerSecond;
    this.#now = now;
  }

  /**
   * A fetched batch cut into parts of at most one second of budget (messages, in order), each
   * written and committed on its own. A write's time is booked after it is sent, so an uncut batch
   * of 300 records at 15 records/s would go out at once and make the limit a promise about the next
   * batch only; a part holds at most one second's records, so its writes do too.
   */
  parts(batch: ConsumerBatch): ConsumerBatch[] {
    const max = Math.max(1, Math.floor(this.#ratePerSecond));
    if (batch.messages.length <= max) return [batch];
    const out: ConsumerBatch[] = [];
    for (let i = 0; i < batch.messages.length; i += max) out.push({ ...batch, messages: batch.messages.slice(i, i + max) });
    return out;
  }

  /** How long the next `records` of `partition` must wait, booking their time (ms). */
  book(partition: number, records: number): number {
    const now = this.#now();
    const start = Math.max(now, this.#nextAt.get(partition) ?? now);
    this.#nextAt.set(partition, start + (records / this.#ratePerSecond) * 1000);
    return start - now;
  }

  /** Waits the booked time; false when the member was stopped or lost the partition meanwhile. */
  async pace(batch: Pick<ConsumerBatch, 'partition' | 'heartbeat' | 'isStale'>, records: number, signal: AbortSignal): Promise<boolean> {
    let wait = this.book(batch.partition, records);
    while (wait > 0) {
      if (signal.aborted || batch.isStale()) return false;
      const slice = Math.min(wait, 2_000);
      await sleep(slice, signal).catch(() => undefined);
      wait -= slice;
      if (wait > 0) await batch.heartbeat();
    }
    return !signal.aborted && !batch.isStale();
  }
}
