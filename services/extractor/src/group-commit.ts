/**
 * Group commit for Kafka writes. The producer is idempotent with one request in flight, so every
 * write is a full round trip; with thousands of small namespaces each publishing a page, its end
 * markers and a checkpoint, those round trips are the extraction's cost. Here, writes submitted
 * while one is in flight wait and go out together as the next write: one round trip for many
 * namespaces. A write submitted alone goes out at once (no timer, no added latency).
 *
 * Each submitter's items stay together in one write, in order, and its promise settles with that
 * write: resolved once Kafka acknowledged it, rejected with its error (the submitter retries; a write
 * that failed may still have reached the log, which the pipeline's at-least-once rules allow).
 */
export interface GroupCommitLimits<T> {
  /** Items per write (a single submission larger than this still goes out whole). */
  maxItems: number;
  /** Weight per write, e.g. bytes; with `weigh`. */
  maxWeight?: number;
  weigh?: (item: T) => number;
}

interface Submission<T> {
  items: T[];
  weight: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  private readonly write: (items: T[]) => Promise<void>;
  private readonly limits: GroupCommitLimits<T>;
  private readonly queue: Submission<T>[] = [];
  private writing = false;
  /** Writes made so far (for tests and the benchmark's figures). */
  writes = 0;

  constructor(write: (items: T[]) => Promise<void>, limits: GroupCommitLimits<T>) {
    this.write = write;
    this.limits = limits;
  }

  submit(items: T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve();
    const weigh = this.limits.weigh;
    const weight = weigh ? items.reduce((sum, item) => sum + weigh(item), 0) : 0;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, weight, resolve, reject });
      void this.drain();
    });
  }

  private takeGroup(): Submission<T>[] {
    const group: Submission<T>[] = [];
    let items = 0;
    let weight = 0;
    const maxWeight = this.limits.maxWeight ?? Infinity;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (group.length > 0 && (items + next.items.length > this.limits.maxItems || weight + next.weight > maxWeight)) break;
      group.push(this.queue.shift()!);
      items += next.items.length;
      weight += next.weight;
    }
    return group;
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        this.writes += 1;
        try {
          await this.write(group.length === 1 ? group[0]!.items : group.flatMap((s) => s.items));
          for (const s of group) s.resolve();
        } catch (err) {
          for (const s of group) s.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
