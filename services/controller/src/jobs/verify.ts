import {
  DEFAULT_DEADLINE_MS,
  recordsTopic,
  retry,
  type Checkpoint,
  type CollectionPlan,
  type JobRecord,
  type LogClient,
  type LogRecord,
  type NamespaceVerification,
  type PineconeSourcePort,
  type RecordMismatch,
  type RetryOptions,
  type SinkReader,
  type VerificationProgress,
  type VerificationReport,
} from '@p2m/core';
import { BucketLayout, MAX_BUCKETS } from './verify/buckets.ts';
import { DlqIndex } from './verify/dlq-index.ts';
import { joinLogWithTarget, type JoinResult, type NamespaceJoin } from './verify/log-join.ts';
import { VerificationTracker } from './verify/phases.ts';
import { compareSampleWithSource } from './verify/source-sample.ts';
import { findUnexpectedRows, type UnexpectedResult } from './verify/unexpected.ts';

export { compareRecords } from './verify/compare.ts';

/**
 * Verification: nothing is assumed. After flush, index build and load, every record the extractor
 * published is accounted for: in the target as its latest copy in the log says, or in the DLQ with
 * a reason. Counts are checked against the source and against the target's own count; target rows
 * the log does not hold are named; a random sample is compared field by field with Pinecone itself.
 * Any record missing, changed or unexplained fails the job.
 *
 * Memory does not grow with the index: the log is read once in batches joined with point lookups
 * in the target (verify/log-join.ts), and what is kept is per namespace, per hash bucket, per record
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
  tuning?: { batchSize?: number; inFlight?: number; maxNamed?: number; keysPerRound?: number; maxBuckets?: number };
}

/**
 * Records per lookup: about 4 MB of them (three lookups in flight hold their records and the answers),
 * 2,048 at most. Milvus Lite answers a lookup in time proportional to its keys (measured: the same
 * per row for 512 or 8,192 keys), so smaller batches of large records cost nothing there.
 */
export function lookupBatch(plan: Pick<CollectionPlan, 'dimension' | 'hasSparse'>): number {
  const rowBytes = (plan.dimension ?? 0) * 4 + (plan.hasSparse ? 512 : 0) + 512;
  return Math.max(256, Math.min(2_048, Math.floor((4 * 1024 * 1024) / rowBytes)));
}

/** Namespaces listed in the report beyond those with a problem (100,000 namespaces make a large job record). */
const MAX_LISTED_OK = 1_000;

export async function verifyJob(deps: VerifyDeps, onProgress?: (progress: VerificationProgress) => void): Promise<VerificationReport> {
  const { record, sink } = deps;
  const plan = record.plan;
  const tracker = new VerificationTracker(onProgress);
  // Retriable to the end: a failure that outlasts these is left retriable, so the controller's own
  // deadline for Milvus trouble during verification decides (it fails the job naming Milvus).
  const sinkPolicy: RetryOptions = { retries: Infinity, deadlineMs: DEFAULT_DEADLINE_MS, maxDelayMs: 5_000, ...deps.policies?.sink };
  const logPolicy: RetryOptions = { retries: Infinity, deadlineMs: DEFAULT_DEADLINE_MS, maxDelayMs: 5_000, ...deps.policies?.log };
  const sourcePolicy: RetryOptions = { retries: Infinity, deadlineMs: DEFAULT_DEADLINE_MS, maxDelayMs: 10_000, ...deps.policies?.source };

  await tracker.phase('flush', () => retry(() => sink.flush(plan), sinkPolicy));
  await tracker.phase('indexes', () => retry(() => sink.createIndexes(plan), sinkPolicy));
  await tracker.phase('load', () => retry(() => sink.loadCollection(plan), sinkPolicy));
  const dlq = await tracker.phase('dlq', () => DlqIndex.read(deps.log, record.id));

  const planned = new Map(plan.source.namespaces.map((n) => [n.name, n.recordCount]));
  const published = new Map<string, number>();
  for (const [ns, cp] of deps.checkpoints ?? []) published.set(ns, cp.recordsPublished);
  const expectedSizes = new Map<string, number>([...planned].map(([ns, n]) => [ns, published.get(ns) ?? n]));
  for (const [ns, n] of published) if (!expectedSizes.has(ns)) expectedSizes.set(ns, n);
  const layout = new BucketLayout(expectedSizes, deps.tuning?.maxBuckets ?? MAX_BUCKETS);
  tracker.namespaces = expectedSizes.size;

  const topic = recordsTopic(record.topicJobId);
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
      sinkPolicy,
      logPolicy,
      sampleSize: deps.source && record.mode === 'extract' ? deps.sampleSize : 0,
      random: deps.random ?? Math.random,
      batchSize: deps.tuning?.batchSize ?? lookupBatch(plan),
      inFlight: deps.tuning?.inFlight,
      maxNamed: deps.tuning?.maxNamed,
    }),
  );

  // What each namespace should hold in the target: its distinct records, less those not there.
  const names = [...new Set([...expectedSizes.keys(), ...join.namespaces.keys()])].sort();
  const empty: NamespaceJoin = { copies: 0, published: null, absentInDlq: 0, collisions: 0, collisionsWritten: 0, missing: 0, missingSample: [], changed: 0 };
  const distinct = (ns: string): number => {
    const j = join.namespaces.get(ns) ?? empty;
    return published.get(ns) ?? j.published ?? j.copies;
  };
  const expected = new Map(names.map((ns) => {
    const j = join.namespaces.get(ns) ?? empty;
    return [ns, distinct(ns) - j.absentInDlq - j.collisions - j.missing] as const;
  }));
  const expectedRows = [...expected.values()].reduce((a, b) => a + b, 0);
  const targetRows = await tracker.phase('settle', () => retry(() => sink.countRows(plan), sinkPolicy));

  let stranger: UnexpectedResult | null = null;
  if (targetRows !== expectedRows) {
    stranger = await tracker.phase('unexpected', () =>
      findUnexpectedRows({ plan, topic, log: deps.log, sink, decode: deps.decode, layout, found: join.found, tracker, sinkPolicy, keysPerRound: deps.tuning?.keysPerRound }),
    );
  }

  let sampleResult = { compared: 0, mismatches: [] as RecordMismatch[] };
  if (deps.source && record.mode === 'extract' && join.sample.length > 0) {
    const source = deps.source;
    sampleResult = await tracker.phase('sample', () =>
      compareSampleWithSource({ plan, source, sample: join.sample, policy: sourcePolicy, tracker, batchSize: record.spec.options.fetchBatchSize }),
    );
  }

  return buildReport({ deps, names, planned, distinct, expected, join, dlq, stranger, targetRows, expectedRows, sampleResult, tracker, layout });
}

interface ReportInput {
  deps: VerifyDeps;
  names: string[];
  planned: Map<string, number>;
  distinct: (ns: string) => number;
  expected: Map<string, number>;
  join: JoinResult;
  dlq: DlqIndex;
  stranger: UnexpectedResult | null;
  targetRows: number;
  expectedRows: number;
  sampleResult: { compared: number; mismatches: RecordMismatch[] };
  tracker: VerificationTracker;
  layout: BucketLayout;
}

const label = (ns: string): string => (ns === '' ? 'the default namespace' : `namespace "${ns}"`);
const examples = (ids: readonly string[]): string => ids.slice(0, 3).map((i) => JSON.stringify(i)).join(', ');

function buildReport(r: ReportInput): VerificationReport {
  const { deps, join, stranger } = r;
  const { record } = deps;
  const problems: string[] = [];
  const dlqCounts = r.dlq.counts();
  const namespaces: NamespaceVerification[] = [];
  for (const ns of r.names) {
    const j = join.namespaces.get(ns);
    const extracted = r.distinct(ns);
    const sourceCount = r.planned.get(ns) ?? 0;
    const targetCount = stranger ? (stranger.targetRows.get(ns) ?? 0) : r.expected.get(ns)!;
    const unexpected = stranger?.unexpected.get(ns) ?? 0;
    const nsProblems: string[] = [];
    if (record.mode === 'extract' && extracted !== sourceCount) {
      nsProblems.push(`${label(ns)}: the source reported ${sourceCount} records but ${extracted} were extracted`);
    }
    if ((j?.copies ?? 0) < extracted) {
      nsProblems.push(`${label(ns)}: the log holds ${j?.copies ?? 0} records but the extractor published ${extracted}`);
    }
    if (j && j.missing > 0) {
      nsProblems.push(`${label(ns)}: ${j.missing} extracted records are neither in the target nor in the DLQ (e.g. ${examples(j.missingSample)})`);
    }
    if (j && j.changed > 0) {
      const first = join.changed.filter((m) => m.namespace === ns).map((m) => m.id);
      nsProblems.push(`${label(ns)}: ${j.changed} records in the target differ from their latest copy in the log (e.g. ${examples(first)})`);
    }
    if (unexpected > 0) {
      nsProblems.push(`${label(ns)}: the target holds ${unexpected} records that were not extracted (e.g. ${examples(stranger!.named.filter((k) => k.namespace === ns).map((k) => k.id))})`);
    } else if (stranger) {
      // Rows beyond what the log accounts for, none of them a stranger: copies the log holds beyond
      // the extractor's count (a page sent before a crash and listed differently after it).
      const extra = targetCount - r.expected.get(ns)!;
      const slack = Math.max(0, (j?.copies ?? 0) - extracted);
      if (extra < 0 || extra > slack) nsProblems.push(`${label(ns)}: the target holds ${targetCount} rows but the log accounts for ${r.expected.get(ns)!}`);
    }
    problems.push(...nsProblems);
    namespaces.push({
      namespace: ns,
      sourceCount,
      extracted,
      targetCount,
      dlq: (dlqCounts.get(ns)?.dlq ?? 0) + (j?.collisionsWritten ?? 0),
      missing: j?.missing ?? 0,
      missingSample: j?.missingSample ?? [],
      changed: j?.changed ?? 0,
      collisions: j?.collisions ?? 0,
      unexpected,
      ok: nsProblems.length === 0,
    });
  }
  if (join.overflow) problems.push('more records differ from the log than verification names one by one; the counts above are lower bounds');
  if (stranger && !stranger.complete) {
    problems.push(`the target holds ${r.targetRows} rows and the log accounts for ${r.expectedRows}; only part of the disagreeing hash buckets could be drilled into, so not every stranger is named`);
  }
  const { mismatches } = r.sampleResult;
  if (mismatches.length > 0) problems.push(`${mismatches.length} sampled records differ from the source (first: ${mismatches[0]!.id} ${mismatches[0]!.field}: ${mismatches[0]!.reason})`);

  const collisions = namespaces.reduce((s, n) => s + (n.collisions ?? 0), 0);
  const advice: string[] = [];
  if (collisions > 0) {
    advice.push(
      `${collisions} records share their id with a record of another namespace. With target.primaryKey "id" the id alone is the primary key, so the target keeps one record per id and the others are in the DLQ (code ID_COLLISION, naming both namespaces). To migrate every record, replay or run the job again into a new collection with target.primaryKey: "namespaceAndId".`,
    );
  }
  const listed = [...namespaces.filter((n) => !n.ok), ...namespaces.filter((n) => n.ok).slice(0, MAX_LISTED_OK)];
  const distinctRecords = r.names.reduce((s, ns) => s + r.distinct(ns), 0);
  const copies = r.names.reduce((s, ns) => s + (join.namespaces.get(ns)?.copies ?? 0), 0);
  return {
    passed: problems.length === 0,
    checkedAt: new Date().toISOString(),
    namespaces: listed,
    namespacesTotal: namespaces.length,
    sample: { size: deps.sampleSize, compared: r.sampleResult.compared, mismatches: mismatches.slice(0, 100) },
    changed: join.changed,
    unexpected: stranger?.named ?? [],
    idCollisions: join.collisions,
    problems,
    advice,
    phases: r.tracker.timings(),
    reconciliation: {
      logRecords: join.logRecords,
      distinctRecords,
      duplicateCopies: Math.max(0, copies - distinctRecords),
      targetRows: r.targetRows,
      expectedRows: r.expectedRows,
      lookups: join.lookups,
      buckets: r.layout.buckets,
      bucketsDrilled: stranger?.bucketsDrilled ?? 0,
    },
    dlqSample: r.dlq.sample,
  };
}
