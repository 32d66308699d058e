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

/** Per partition: the counts this member reached, and the offset they hold up to. */
export class PartitionCounts {
  readonly #known = new Map<number, { counts: LoaderCounts; next: string }>();
  readonly #committedMetadata: (partition: number) => Promise<string | null>;
  readonly #policy: RetryOptions;

  constructor(committedMetadata: (partition: number) => Promise<string | null>, policy: RetryOptions) {
    this.#committedMetadata = committedMetadata;
    this.#policy = policy;
  }

  /**
   * The counts before this batch. Ours hold only while the partition continues where this member
   * left it; a batch starting anywhere else means another member owned the partition meanwhile
   * (a rebalance moved it away and back) and committed its own counts: read them again.
   */
  async before(batch: ConsumerBatch): Promise<LoaderCounts> {
    const known = this.#known.get(batch.partition);
    if (known && known.next === batch.messages[0]!.offset) return structuredClone(known.counts);
    return decodeCounts(await retry(() => this.#committedMetadata(batch.partition), this.#policy));
  }

  set(partition: number, counts: LoaderCounts, next: string): void {
    this.#known.set(partition, { counts, next });
  }
}
