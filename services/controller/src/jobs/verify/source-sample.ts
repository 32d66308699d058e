import { retry, type CollectionPlan, type PineconeSourcePort, type RecordMismatch, type RetryOptions, type VectorRecord } from '@p2m/core';
import { compareRecords } from './compare.ts';
import type { VerificationTracker } from './phases.ts';

/**
 * A uniform sample of the records reconciliation matched (so the log and the target agree on each)
 * compared with Pinecone itself, field by field: what the extractor made of the source is checked
 * too, not only what the loader made of the log. Fetched in batches per namespace, through the
 * source the job was given (paced to the index's rate budget); a 429 or a 5xx is retried, not fatal.
 */
export interface SourceSampleOptions {
  plan: CollectionPlan;
  source: PineconeSourcePort;
  sample: readonly VectorRecord[];
  policy: RetryOptions;
  tracker: VerificationTracker;
  /** Ids per fetch (the job's `fetchBatchSize`; fetch is a GET with the ids in its URL). */
  batchSize: number;
}

export async function compareSampleWithSource(o: SourceSampleOptions): Promise<{ compared: number; mismatches: RecordMismatch[] }> {
  const byNs = new Map<string, VectorRecord[]>();
  for (const r of o.sample) {
    let list = byNs.get(r.namespace);
    if (!list) byNs.set(r.namespace, (list = []));
    list.push(r);
  }
  const mismatches: RecordMismatch[] = [];
  let compared = 0;
  for (const [ns, records] of byNs) {
    for (let i = 0; i < records.length; i += o.batchSize) {
      const chunk = records.slice(i, i + o.batchSize);
      const fetched = await retry(
        () =>
          o.source.fetch(
            ns,
            chunk.map((r) => r.id),
          ),
        o.policy,
      );
      const byId = new Map(fetched.map((v) => [v.id, v]));
      for (const logged of chunk) {
        compared++;
        const src = byId.get(logged.id);
        if (!src) continue; // deleted at the source since extraction: the log is what was migrated
        const asRecord: VectorRecord = {
          kind: 'vector',
          namespace: ns,
          id: src.id,
          values: src.values && src.values.length > 0 ? Float32Array.from(src.values) : null,
          sparse: src.sparseValues ? { indices: Array.from(src.sparseValues.indices), values: Float32Array.from(src.sparseValues.values) } : null,
          metadata: (src.metadata as VectorRecord['metadata']) ?? null,
        };
        for (const m of compareRecords(asRecord, logged, o.plan))
          mismatches.push({ ...m, reason: `the log (and the target) differ from the source: ${m.reason}` });
      }
      o.tracker.work(compared, o.sample.length);
    }
  }
  return { compared, mismatches };
}
