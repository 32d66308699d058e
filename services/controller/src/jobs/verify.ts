import {
  DEFAULT_DEADLINE_MS,
  recordsTopic,
  retry,
  type Checkpoint,
  type CollectionPlan,
  type JobRecord,
  type LogClient,
  type LogRecord,
  type PineconeSourcePort,
  type RetryOptions,
  type SinkReader,
  type VerificationProgress,
  type VerificationReport,
} from '@p2m/core';
import { BucketLayout, MAX_BUCKETS } from './verify/buckets.ts';
import { buildReport } from './verify/report.ts';
import { DlqIndex } from './verify/dlq-index.ts';
import type { JoinResult } from './verify/log-join.ts';
import { joinLogWithTarget } from './verify/reconcile.ts';
import { VerificationTracker } from './verify/phases.ts';
import { compareSampleWithSource } from './verify/source-sample.ts';
import { findUnexpectedRows } from './verify/unexpected.ts';

export { compareRecords } from './verify/compare.ts';

/**
 * Verification: nothing is assumed. After flush, index build and load, every record the extractor
 * published is accounted for: in the target as its latest copy in the log says, or in the DLQ with
 * a reason. Counts are checked against the source and against the target's own count; target rows
 * the log does not hold are named; a random sample is compared field by field with Pinecone itself.
 * Any record missing, changed or unexplained fails the job.
 *
 * Memory does not grow with the index: the log is read once in batches joined with point lookups
 * in the target (verify/reconcile.ts), and what is kept is per namespace, per hash bucket, per record
 * that did not match, or per DLQ entry (12 bytes). Only when the target's row count disagrees with
 * what the log accounts for is the target walked, bucket digests compared, and the disagreeing
 * buckets drilled into (verify/unexpected.ts).
 */
export interface VerifyDeps {
  record: JobRecord;
  log: LogClient;
  sink: SinkReader;
  /** Absent for a replay: the log is then the source of truth. */
  source: PineconeSourcePort | null;
  decode: (value: Buffer) => Promise<LogRecord>;
  sampleSize: number;
  random?: () => number;
  /**
   * The extractor's checkpoints of the job whose topic is read (`record.topicJobId`): how many
   * distinct records each namespace published, each page once however often it was sent.
   */
  checkpoints?: ReadonlyMap<string, Checkpoint> | undefined;
  /** How long Milvus, Kafka and Pinecone trouble is ridden out inside a phase (default: the default deadlines). */
  policies?: { sink?: RetryOptions; log?: RetryOptions; source?: RetryOptions };
  /** Batch sizes and caps (tests make them small). */
  tuning?: { batchSize?: number; inFlight?: number; maxNamed?: number; keysPerRound?: number; maxBuckets?: number; heapHeadroomMb?: number };
}

/**
 * Records per lookup: about 4 MB of them, 2,048 at most. Milvus Lite answers a lookup in time
 * proportional to its keys (measured: the same per row for 512 or 8,192 keys), so smaller batches
 * of large records cost nothing there.
 */
export function lookupBatch(plan: Pick<CollectionPlan, 'dimension' | 'hasSparse'>): number {
  return Math.max(256, Math.min(MAX_LOOKUP_KEYS, Math.floor(LOOKUP_BYTES / rowBytes(plan))));
}

/**
 * Lookups in flight while the scan reads on: three of small rows (2,048 keys each, a few MB in all:
 * the controller's memory at dim 8 is what issue 17 bounds), eight of large ones. A strongly
 * consistent query waits for the server's next time tick, and an answer of 4 MB of vectors takes
 * the server a while: with three in flight the controller sat idle half the time. Measured side by
 * side at 100,000 × 768-d on the Milvus 2.3.5 standalone server (reconciliation alone, run again and
 * again over one kept job): 3 in flight 12–13 s, 8 in flight 7.0–7.3 s, 12 or 16 no faster (the
 * controller's CPU is the bound then), and smaller batches with more in flight (12 × 292 keys,
 * 6 × 585) 11.6–12.2 s.
 */
export function lookupsInFlight(plan: Pick<CollectionPlan, 'dimension' | 'hasSparse'>): number {
  return lookupBatch(plan) >= MAX_LOOKUP_KEYS ? 3 : 8;
}

/**
 * Heap growth allowed between two full collections during reconciliation: at least twice what the
 * lookups in flight hold (with large rows every batch is megabytes, and a collection after each one
 * cost a third of the controller's time), at least 8 MB (see heap-pacer.ts).
 */
export function reconcileHeadroomMb(plan: Pick<CollectionPlan, 'dimension' | 'hasSparse'>): number {
  const inFlightBytes = lookupsInFlight(plan) * lookupBatch(plan) * rowBytes(plan);
  return Math.max(8, Math.ceil((2 * inFlightBytes) / (1024 * 1024)));
}

const MAX_LOOKUP_KEYS = 2_048;
const LOOKUP_BYTES = 4 * 1024 * 1024;
const rowBytes = (plan: Pick<CollectionPlan, 'dimension' | 'hasSparse'>): number => (plan.dimension ?? 0) * 4 + (plan.hasSparse ? 512 : 0) + 512;

interface Policies {
  sink: RetryOptions;
  log: RetryOptions;
  source: RetryOptions;
}

/**
 * Retriable to the end: a failure that outlasts these is left retriable, so the controller's own
 * deadline for Milvus trouble during verification decides (it fails the job naming Milvus).
 */
function policiesOf(deps: VerifyDeps): Policies {
  const base = { retries: Infinity, deadlineMs: DEFAULT_DEADLINE_MS, maxDelayMs: 5_000 };
  return {
    sink: { ...base, ...deps.policies?.sink },
    log: { ...base, ...deps.policies?.log },
    source: { ...base, maxDelayMs: 10_000, ...deps.policies?.source },
  };
}

/** How many records each namespace should have: what the extractor published, else what the source said. */
function expectedSizes(plan: CollectionPlan, published: ReadonlyMap<string, number>): Map<string, number> {
  const sizes = new Map(plan.source.namespaces.map((n) => [n.name, published.get(n.name) ?? n.recordCount]));
  for (const [ns, n] of published) if (!sizes.has(ns)) sizes.set(ns, n);
  return sizes;
}

/** Per namespace: its distinct records (the checkpoint's count, else the log's end marker, else its copies), and the rows the target should hold. */
function accounting(names: string[], published: ReadonlyMap<string, number>, join: JoinResult) {
  const distinct = (ns: string): number => {
    const j = join.namespaces.get(ns);
    return published.get(ns) ?? j?.published ?? j?.copies ?? 0;
  };
  const expected = new Map(
    names.map((ns) => {
      const j = join.namespaces.get(ns);
      return [ns, distinct(ns) - (j ? j.absentInDlq + j.collisions + j.missing : 0)] as const;
    }),
  );
  return { distinct, expected, expectedRows: [...expected.values()].reduce((a, b) => a + b, 0) };
}

export async function verifyJob(deps: VerifyDeps, onProgress?: (progress: VerificationProgress) => void): Promise<VerificationReport> {
  const { record, sink } = deps;
  const plan = record.plan;
  const tracker = new VerificationTracker(onProgress);
  const policies = policiesOf(deps);

  await tracker.phase('flush', () => retry(() => sink.flush(plan), policies.sink));
  // The ETA counts from the rows indexed when the phase began (Milvus indexes during the load too).
  let indexedAtStart: number | null = null;
  await tracker.phase('indexes', () =>
    retry(
      () =>
        sink.createIndexes(plan, (indexed, total) => {
          // (A hybrid collection's second index starts over.)
          if (indexedAtStart === null || indexed < indexedAtStart) indexedAtStart = indexed;
          tracker.work(indexed - indexedAtStart, total - indexedAtStart);
        }),
      policies.sink,
    ),
  );
  await tracker.phase('load', () => retry(() => sink.loadCollection(plan), policies.sink));
  const dlq = await tracker.phase('dlq', () => DlqIndex.read(deps.log, record.id));

  const published = new Map([...(deps.checkpoints ?? [])].map(([ns, cp]) => [ns, cp.recordsPublished]));
  const sizes = expectedSizes(plan, published);
  const layout = new BucketLayout(sizes, deps.tuning?.maxBuckets ?? MAX_BUCKETS);
  tracker.namespaces = sizes.size;
  const topic = recordsTopic(record.topicJobId);
  const withSource = deps.source !== null && record.mode === 'extract';
  const join = await tracker.phase('reconcile', () =>
    joinLogWithTarget({
      plan,
      jobId: record.id,
      topic,
      log: deps.log,
      sink,
      decode: deps.decode,
      dlq,
      layout,
      tracker,
      sinkPolicy: policies.sink,
      logPolicy: policies.log,
      random: deps.random ?? Math.random,
      sampleSize: withSource ? deps.sampleSize : 0,
      batchSize: deps.tuning?.batchSize ?? lookupBatch(plan),
      inFlight: deps.tuning?.inFlight ?? lookupsInFlight(plan),
      maxNamed: deps.tuning?.maxNamed,
      heapHeadroomMb: deps.tuning?.heapHeadroomMb ?? reconcileHeadroomMb(plan),
    }),
  );

  const names = [...new Set([...sizes.keys(), ...join.namespaces.keys()])].sort();
  const { distinct, expected, expectedRows } = accounting(names, published, join);
  const targetRows = await tracker.phase('settle', () => retry(() => sink.countRows(plan), policies.sink));
  // The target holds other rows than the log accounts for: name them.
  const stranger =
    targetRows === expectedRows
      ? null
      : await tracker.phase('unexpected', () =>
          findUnexpectedRows({
            plan,
            topic,
            log: deps.log,
            sink,
            decode: deps.decode,
            layout,
            found: join.found,
            tracker,
            sinkPolicy: policies.sink,
            keysPerRound: deps.tuning?.keysPerRound,
          }),
        );
  const source = deps.source;
  const sampleResult =
    source && withSource && join.sample.length > 0
      ? await tracker.phase('sample', () =>
          compareSampleWithSource({ plan, source, sample: join.sample, policy: policies.source, tracker, batchSize: record.spec.options.fetchBatchSize }),
        )
      : { compared: 0, mismatches: [] };

  const planned = new Map(plan.source.namespaces.map((n) => [n.name, n.recordCount]));
  return buildReport({
    record,
    sampleSize: deps.sampleSize,
    names,
    planned,
    distinct,
    expected,
    join,
    dlq,
    stranger,
    targetRows,
    expectedRows,
    sampleResult,
    phases: tracker.timings(),
    buckets: layout.buckets,
  });
}
