import { retry, type ConsumerBatch, type RetryOptions } from '@p2m/core';

/**
 * The loader's running counts, committed with the offsets as Kafka offset metadata, so a member
 * that takes a partition over continues from the counts of the one before it.
 */
export interface LoaderCounts {
  loaded: number;
  failed: number;
  /** Per namespace, only while small enough to ride along in the offset metadata. */
  byNamespace: Record<string, { l: number; d: number }>;
}

const METADATA_LIMIT = 3500;

export function encodeCounts(c: LoaderCounts): string {
  const full = JSON.stringify({ l: c.loaded, d: c.failed, ns: c.byNamespace });
  return full.length <= METADATA_LIMIT ? full : JSON.stringify({ l: c.loaded, d: c.failed });
}

export function decodeCounts(metadata: string | null | undefined): LoaderCounts {
  if (!metadata) return { loaded: 0, failed: 0, byNamespace: {} };
  try {
    const parsed = JSON.parse(metadata) as { l?: number; d?: number; ns?: Record<string, { l: number; d: number }> };
    return { loaded: parsed.l ?? 0, failed: parsed.d ?? 0, byNamespace: parsed.ns ?? {} };
  } catch {
    return { loaded: 0, failed: 0, byNamespace: {} };
  }
}

export function tally(counts: LoaderCounts, namespace: string, outcome: 'loaded' | 'failed'): void {
  const entry = (counts.byNamespace[namespace] ??= { l: 0, d: 0 });
  if (outcome === 'loaded') {
    counts.loaded++;
    entry.l++;
  } else {
    counts.failed++;
    entry.d++;
  }
}

/** A partition's committed position: the next offset to read, and the counts up to it. */
export interface CommittedPosition {
  offset: string;
  metadata: string | null;
}

/** Per partition: the counts this member reached, and the offset they hold up to. */
export class PartitionCounts {
  readonly #known = new Map<number, { counts: LoaderCounts; next: string }>();
  readonly #committed: (partition: number) => Promise<CommittedPosition | null>;
  readonly #policy: RetryOptions;

  constructor(committed: (partition: number) => Promise<CommittedPosition | null>, policy: RetryOptions) {
    this.#committed = committed;
    this.#policy = policy;
  }

  /**
   * The counts before this batch, and the offset from which its messages are new. Ours hold only
   * while the partition continues where this member left it. A batch starting anywhere else is a
   * redelivery (a rebalance, even one that left the partition here, restarts from the committed
   * offset) or another member's work: take the committed counts, and skip the messages before the
   * committed offset — they are written and counted already (a deferred commit of this member's may
   * have landed after the redelivered batch was fetched).
   */
  async before(batch: ConsumerBatch): Promise<{ counts: LoaderCounts; from: bigint }> {
    const first = batch.messages[0]!.offset;
    const known = this.#known.get(batch.partition);
    if (known && known.next === first) return { counts: structuredClone(known.counts), from: BigInt(first) };
    const committed = await retry(() => this.#committed(batch.partition), this.#policy);
    const at = committed && BigInt(committed.offset) >= 0n ? BigInt(committed.offset) : BigInt(first);
    return { counts: decodeCounts(committed?.metadata), from: at > BigInt(first) ? at : BigInt(first) };
  }

  set(partition: number, counts: LoaderCounts, next: string): void {
    this.#known.set(partition, { counts, next });
  }
}
