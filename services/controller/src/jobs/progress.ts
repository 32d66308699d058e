import type { Checkpoint, JobProgress, JobRecord, NamespaceProgress, PartitionOffset, VerificationReport } from '@p2m/core';

/**
 * Progress is computed, not guessed: extracted counts come from the extractor's checkpoints,
 * loaded and failed counts from the loader group's committed offsets (whose metadata carries the
 * running counts), lag from committed offsets against the topic's high watermarks.
 */
export interface OffsetsSnapshot {
  high: { partition: number; high: string; low: string }[];
  committed: PartitionOffset[];
}

interface Sample {
  at: number;
  done: number;
}

export class RateWindow {
  private samples: Sample[] = [];
  private readonly windowMs: number;
  constructor(windowMs = 10_000) {
    this.windowMs = windowMs;
  }
  add(at: number, done: number): void {
    this.samples.push({ at, done });
    while (this.samples.length > 2 && this.samples[0]!.at < at - this.windowMs) this.samples.shift();
  }
  perSecond(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return Math.max(0, ((last.done - first.done) * 1000) / (last.at - first.at));
  }
  reset(): void {
    this.samples = [];
  }
}

/**
 * `offsetsAt` is when `offsets` were read; older than `now`, they are the last ones Kafka gave
 * before it stopped answering: their counts stand, but nothing is known of the rate since.
 */
export function computeProgress(
  record: JobRecord,
  checkpoints: Map<string, Checkpoint> | undefined,
  offsets: OffsetsSnapshot | null,
  rate: RateWindow,
  now = Date.now(),
  offsetsAt = now,
): JobProgress {
  const perNs = new Map<string, NamespaceProgress>();
  for (const ns of record.plan.source.namespaces) {
    const cp = checkpoints?.get(ns.name);
    perNs.set(ns.name, {
      namespace: ns.name,
      sourceCount: ns.recordCount,
      extracted: cp?.recordsPublished ?? 0,
      loaded: 0,
      failed: 0,
      extractionDone: cp?.done ?? false,
    });
  }
  let loaded = 0;
  let failed = 0;
  let lag = 0;
  if (offsets) {
    const committed = new Map(offsets.committed.map((c) => [c.partition, c]));
    for (const p of offsets.high) {
      const c = committed.get(p.partition);
      const at = c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : BigInt(p.low);
      lag += Number(BigInt(p.high) - at);
      if (!c?.metadata) continue;
      try {
        const meta = JSON.parse(c.metadata) as { l?: number; d?: number; ns?: Record<string, { l: number; d: number }> };
        loaded += meta.l ?? 0;
        failed += meta.d ?? 0;
        for (const [name, counts] of Object.entries(meta.ns ?? {})) {
          const entry = perNs.get(name);
          if (entry) {
            entry.loaded += counts.l;
            entry.failed += counts.d;
          }
        }
      } catch {
        // Metadata written by something else: counts stay unknown for that partition.
      }
    }
  }
  const namespaces = [...perNs.values()];
  const sourceCount = namespaces.reduce((s, n) => s + n.sourceCount, 0);
  const extracted = namespaces.reduce((s, n) => s + n.extracted, 0);
  const fresh = offsets !== null && offsetsAt >= now;
  // Unread or old counts say nothing of the rate: the window starts again when Kafka answers.
  if (fresh) rate.add(now, loaded + failed);
  else rate.reset();
  const perSecond = rate.perSecond();
  const remaining = Math.max(0, sourceCount - loaded - failed);
  return {
    namespaces,
    total: { sourceCount, extracted, loaded, failed },
    recordsPerSecond: Math.round(perSecond * 10) / 10,
    etaSeconds: remaining === 0 ? 0 : perSecond > 0 ? Math.round(remaining / perSecond) : null,
    consumerLag: Math.max(0, lag),
    updatedAt: new Date(now).toISOString(),
    offsetsAt: offsets ? new Date(offsetsAt).toISOString() : null,
  };
}

/**
 * The progress a verified job keeps: loaded and failed as the verification counted them (records
 * in the target, records in the DLQ), not the loaders' running tallies, which count a record twice
 * when a crash made the extractor publish its page again or a loader upsert a batch again.
 */
export function settleProgress(progress: JobProgress, report: VerificationReport): JobProgress {
  const verified = new Map(report.namespaces.map((n) => [n.namespace, n]));
  const namespaces = progress.namespaces.map((n) => {
    const v = verified.get(n.namespace);
    return v ? { ...n, loaded: v.targetCount, failed: v.dlq } : n;
  });
  return {
    ...progress,
    namespaces,
    total: {
      ...progress.total,
      loaded: namespaces.reduce((s, n) => s + n.loaded, 0),
      failed: namespaces.reduce((s, n) => s + n.failed, 0),
    },
  };
}
