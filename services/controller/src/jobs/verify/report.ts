import type { JobRecord, NamespaceVerification, PhaseTiming, RecordMismatch, VerificationReport } from '@p2m/core';
import type { DlqIndex } from './dlq-index.ts';
import type { JoinResult, NamespaceJoin } from './log-join.ts';
import type { UnexpectedResult } from './unexpected.ts';

/** What verification found, in words and numbers: the report a job keeps. */
export interface ReportInput {
  record: JobRecord;
  sampleSize: number;
  names: string[];
  planned: ReadonlyMap<string, number>;
  /** Distinct records each namespace published. */
  distinct: (ns: string) => number;
  /** Rows each namespace should have in the target: its distinct records less those not there. */
  expected: ReadonlyMap<string, number>;
  join: JoinResult;
  dlq: DlqIndex;
  stranger: UnexpectedResult | null;
  targetRows: number;
  expectedRows: number;
  sampleResult: { compared: number; mismatches: RecordMismatch[] };
  phases: PhaseTiming[];
  buckets: number;
}

/** Namespaces listed in the report beyond those with a problem (100,000 namespaces make a large job record). */
const MAX_LISTED_OK = 1_000;

const label = (ns: string): string => (ns === '' ? 'the default namespace' : `namespace "${ns}"`);
const examples = (ids: readonly string[]): string =>
  ids
    .slice(0, 3)
    .map((i) => JSON.stringify(i))
    .join(', ');

function namespaceResult(r: ReportInput, ns: string, dlqCount: number): { result: NamespaceVerification; problems: string[] } {
  const { join, stranger, record } = r;
  const j: NamespaceJoin | undefined = join.namespaces.get(ns);
  const copies = j?.copies ?? 0;
  const extracted = r.distinct(ns);
  const sourceCount = r.planned.get(ns) ?? 0;
  const expected = r.expected.get(ns)!;
  const targetCount = stranger ? (stranger.targetRows.get(ns) ?? 0) : expected;
  const unexpected = stranger?.unexpected.get(ns) ?? 0;
  const problems: string[] = [];
  if (record.mode === 'extract' && extracted !== sourceCount)
    problems.push(`${label(ns)}: the source reported ${sourceCount} records but ${extracted} were extracted`);
  if (copies < extracted) problems.push(`${label(ns)}: the log holds ${copies} records but the extractor published ${extracted}`);
  if (j && j.missing > 0)
    problems.push(`${label(ns)}: ${j.missing} extracted records are neither in the target nor in the DLQ (e.g. ${examples(j.missingSample)})`);
  if (j && j.changed > 0) {
    const first = join.changed.filter((m) => m.namespace === ns).map((m) => m.id);
    problems.push(`${label(ns)}: ${j.changed} records in the target differ from their latest copy in the log (e.g. ${examples(first)})`);
  }
  if (unexpected > 0) {
    problems.push(
      `${label(ns)}: the target holds ${unexpected} records that were not extracted (e.g. ${examples(stranger!.named.filter((k) => k.namespace === ns).map((k) => k.id))})`,
    );
  } else if (stranger) {
    // Rows beyond what the log accounts for, none of them a stranger: copies the log holds beyond
    // the extractor's count (a page sent before a crash and listed differently after it).
    const extra = targetCount - expected;
    if (extra < 0 || extra > Math.max(0, copies - extracted))
      problems.push(`${label(ns)}: the target holds ${targetCount} rows but the log accounts for ${expected}`);
  }
  const result: NamespaceVerification = {
    namespace: ns,
    sourceCount,
    extracted,
    targetCount,
    dlq: dlqCount + (j?.collisionsWritten ?? 0),
    missing: j?.missing ?? 0,
    missingSample: j?.missingSample ?? [],
    changed: j?.changed ?? 0,
    collisions: j?.collisions ?? 0,
    unexpected,
    ok: problems.length === 0,
  };
  return { result, problems };
}

export function buildReport(r: ReportInput): VerificationReport {
  const { join, stranger } = r;
  const problems: string[] = [];
  const dlqCounts = r.dlq.counts();
  const namespaces: NamespaceVerification[] = [];
  for (const ns of r.names) {
    const one = namespaceResult(r, ns, dlqCounts.get(ns)?.dlq ?? 0);
    problems.push(...one.problems);
    namespaces.push(one.result);
  }
  if (join.overflow) problems.push('more records differ from the log than verification names one by one; the counts above are lower bounds');
  if (stranger && !stranger.complete) {
    problems.push(
      `the target holds ${r.targetRows} rows and the log accounts for ${r.expectedRows}; only part of the disagreeing hash buckets could be drilled into, so not every stranger is named`,
    );
  }
  const { mismatches } = r.sampleResult;
  if (mismatches.length > 0)
    problems.push(
      `${mismatches.length} sampled records differ from the source (first: ${mismatches[0]!.id} ${mismatches[0]!.field}: ${mismatches[0]!.reason})`,
    );

  const collisions = namespaces.reduce((s, n) => s + (n.collisions ?? 0), 0);
  const advice: string[] = [];
  if (collisions > 0) {
    advice.push(
      `${collisions} records share their id with a record of another namespace. With target.primaryKey "id" the id alone is the primary key, so the target keeps one record per id and the others are in the DLQ (code ID_COLLISION, naming both namespaces). To migrate every record, replay or run the job again into a new collection with target.primaryKey: "namespaceAndId".`,
    );
  }
  if (join.foundOnSecondRead > 0) {
    advice.push(
      `The target did not return ${join.foundOnSecondRead} rows at the first lookup of their keys but did at the second, and they were compared like the others: a key is only called missing when two reads agree. If this recurs, the target answers reads late (a strong-consistency read that raced a flush or compaction).`,
    );
  }
  const distinctRecords = r.names.reduce((s, ns) => s + r.distinct(ns), 0);
  const copies = r.names.reduce((s, ns) => s + (join.namespaces.get(ns)?.copies ?? 0), 0);
  return {
    passed: problems.length === 0,
    checkedAt: new Date().toISOString(),
    namespaces: [...namespaces.filter((n) => !n.ok), ...namespaces.filter((n) => n.ok).slice(0, MAX_LISTED_OK)],
    namespacesTotal: namespaces.length,
    sample: { size: r.sampleSize, compared: r.sampleResult.compared, mismatches: mismatches.slice(0, 100) },
    changed: join.changed,
    unexpected: stranger?.named ?? [],
    idCollisions: join.collisions,
    problems,
    advice,
    phases: r.phases,
    reconciliation: {
      logRecords: join.logRecords,
      distinctRecords,
      duplicateCopies: Math.max(0, copies - distinctRecords),
      targetRows: r.targetRows,
      expectedRows: r.expectedRows,
      lookups: join.lookups,
      foundOnSecondRead: join.foundOnSecondRead,
      buckets: r.buckets,
      bucketsDrilled: stranger?.bucketsDrilled ?? 0,
    },
    dlqSample: r.dlq.sample,
  };
}
