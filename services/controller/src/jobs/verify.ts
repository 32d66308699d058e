import {
  dlqTopic,
  recordsTopic,
  type CollectionPlan,
  type DlqEntry,
  type JobRecord,
  type LogClient,
  type LogRecord,
  type SinkReader,
  type NamespaceVerification,
  type PineconeSourcePort,
  type RecordMismatch,
  type VectorRecord,
  type VerificationReport,
} from '@p2m/core';

/**
 * Verification: nothing is assumed. After flush, index build and load, every record the extractor
 * published is accounted for as loaded (present in its namespace) or in the DLQ with a reason;
 * counts are checked against the source; a random sample is compared field by field against the
 * log and, when the source is reachable, against Pinecone itself. Any record missing, overwritten
 * or changed fails the job.
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
}

const MISSING_SAMPLE = 20;
const ID_BATCH = 500;

export async function verifyJob(deps: VerifyDeps): Promise<VerificationReport> {
  const { record, sink } = deps;
  const plan = record.plan;
  const random = deps.random ?? Math.random;
  const problems: string[] = [];

  await sink.flush(plan);
  await sink.createIndexes(plan);
  await sink.loadCollection(plan);

  // 1. What the log holds: distinct ids per namespace, and a uniform random sample of records.
  const extracted = new Map<string, Set<string>>();
  const sample: VectorRecord[] = [];
  let seen = 0;
  const latest = new Map<string, VectorRecord>();
  await deps.log.scanToEnd(recordsTopic(record.topicJobId), async (m) => {
    if (!m.value) return;
    const r = await deps.decode(m.value);
    if (r.kind !== 'vector') return;
    let ids = extracted.get(r.namespace);
    if (!ids) extracted.set(r.namespace, (ids = new Set()));
    const key = `${r.namespace}\u0000${r.id}`;
    if (ids.has(r.id)) {
      // A re-published page: the sampled copy must be the latest one.
      if (latest.has(key)) latest.set(key, r);
      return;
    }
    ids.add(r.id);
    seen++;
    if (sample.length < deps.sampleSize) {
      sample.push(r);
      latest.set(key, r);
    } else {
      const j = Math.floor(random() * seen);
      if (j < deps.sampleSize) {
        const old = sample[j]!;
        latest.delete(`${old.namespace}\u0000${old.id}`);
        sample[j] = r;
        latest.set(key, r);
      }
    }
  });

  // 2. The dead-letter queue, by namespace.
  const dlq = new Map<string, Map<string, DlqEntry>>();
  await deps.log.scanToEnd(dlqTopic(record.id), (m) => {
    if (!m.value) return;
    const entry = JSON.parse(m.value.toString('utf8')) as DlqEntry;
    let byId = dlq.get(entry.namespace);
    if (!byId) dlq.set(entry.namespace, (byId = new Map()));
    byId.set(entry.id, entry);
  });

  // 3. Per namespace: counts and id reconciliation against the target.
  const planned = new Map(plan.source.namespaces.map((n) => [n.name, n.recordCount]));
  const names = [...new Set([...planned.keys(), ...extracted.keys()])].sort();
  const counts = await sink.countByNamespace(plan, names);
  const namespaces: NamespaceVerification[] = [];
  for (const ns of names) {
    const ids = extracted.get(ns) ?? new Set<string>();
    const dead = dlq.get(ns) ?? new Map<string, DlqEntry>();
    const target = await allTargetIds(sink, plan, ns);
    const missing: string[] = [];
    for (const id of ids) if (!target.has(id) && !dead.has(id)) missing.push(id);
    const unexpected = [...target].filter((id) => !ids.has(id));
    const sourceCount = planned.get(ns) ?? 0;
    const targetCount = counts.get(ns) ?? 0;
    const label = ns === '' ? 'the default namespace' : `namespace "${ns}"`;
    const nsProblems: string[] = [];
    if (record.mode === 'extract' && ids.size !== sourceCount) {
      nsProblems.push(`${label}: the source reported ${sourceCount} records but ${ids.size} were extracted`);
    }
    if (missing.length > 0) {
      nsProblems.push(`${label}: ${missing.length} extracted records are neither in the target nor in the DLQ (e.g. ${missing.slice(0, 3).map((i) => JSON.stringify(i)).join(', ')})`);
    }
    if (unexpected.length > 0) {
      nsProblems.push(`${label}: the target holds ${unexpected.length} records that were not extracted (e.g. ${unexpected.slice(0, 3).map((i) => JSON.stringify(i)).join(', ')})`);
    }
    const loadedIds = [...ids].filter((id) => !dead.has(id) || target.has(id)).length;
    if (targetCount !== target.size || targetCount !== loadedIds) {
      nsProblems.push(`${label}: count(*) is ${targetCount}, ${target.size} distinct ids were read back, ${loadedIds} were expected`);
    }
    problems.push(...nsProblems);
    namespaces.push({
      namespace: ns,
      sourceCount,
      extracted: ids.size,
      targetCount,
      dlq: dead.size,
      missing: missing.length,
      missingSample: missing.slice(0, MISSING_SAMPLE),
      ok: nsProblems.length === 0,
    });
  }

  // 4. A random sample compared field by field: target vs log, and log vs source.
  const mismatches: RecordMismatch[] = [];
  const byNs = new Map<string, VectorRecord[]>();
  for (const r of latest.values()) {
    if (dlq.get(r.namespace)?.has(r.id)) continue;
    let list = byNs.get(r.namespace);
    if (!list) byNs.set(r.namespace, (list = []));
    list.push(r);
  }
  let compared = 0;
  for (const [ns, expected] of byNs) {
    for (let i = 0; i < expected.length; i += ID_BATCH) {
      const chunk = expected.slice(i, i + ID_BATCH);
      const got = new Map((await sink.getRecords(plan, ns, chunk.map((r) => r.id))).map((r) => [r.id, r]));
      const fromSource = deps.source ? new Map((await deps.source.fetch(ns, chunk.map((r) => r.id))).map((v) => [v.id, v])) : null;
      for (const want of chunk) {
        compared++;
        const have = got.get(want.id);
        if (!have) {
          mismatches.push({ namespace: ns, id: want.id, field: '(record)', reason: 'missing from the target' });
          continue;
        }
        mismatches.push(...compareRecords(want, have, plan));
        if (fromSource) {
          const src = fromSource.get(want.id);
          if (!src) continue; // deleted at the source since extraction: the log is what was migrated
          const asRecord: VectorRecord = {
            kind: 'vector',
            namespace: ns,
            id: src.id,
            values: src.values ? Float32Array.from(src.values) : null,
            sparse: src.sparseValues ? { indices: Array.from(src.sparseValues.indices), values: Float32Array.from(src.sparseValues.values) } : null,
            metadata: (src.metadata as VectorRecord['metadata']) ?? null,
          };
          for (const m of compareRecords(asRecord, want, plan)) mismatches.push({ ...m, reason: `log differs from the source: ${m.reason}` });
        }
      }
    }
  }
  if (mismatches.length > 0) problems.push(`${mismatches.length} sampled records differ from the source (first: ${mismatches[0]!.id} ${mismatches[0]!.field}: ${mismatches[0]!.reason})`);

  const dlqSample = [...dlq.values()].flatMap((m) => [...m.values()]).slice(0, 100);
  return {
    passed: problems.length === 0,
    checkedAt: new Date().toISOString(),
    namespaces,
    sample: { size: deps.sampleSize, compared, mismatches: mismatches.slice(0, 100) },
    problems,
    dlqSample,
  };
}

async function allTargetIds(sink: SinkReader, plan: CollectionPlan, ns: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let after: string | null = null;
  for (;;) {
    const page = await sink.listIds(plan, ns, after, 10_000);
    for (const id of page) ids.add(id);
    if (page.length < 10_000) return ids;
    after = page[page.length - 1]!;
  }
}

/** Field-by-field equality: dense as exact float32, sparse exactly (by index), metadata deep-equal. */
export function compareRecords(want: VectorRecord, have: VectorRecord, plan: CollectionPlan): RecordMismatch[] {
  const out: RecordMismatch[] = [];
  const at = (field: string, reason: string): void => void out.push({ namespace: want.namespace, id: want.id, field, reason });
  if (plan.hasDense) {
    const a = want.values;
    const b = have.values;
    if (!a || !b || a.length !== b.length) at(plan.names.vector, `length ${a?.length ?? 0} vs ${b?.length ?? 0}`);
    else
      for (let i = 0; i < a.length; i++)
        if (Math.fround(a[i]!) !== Math.fround(b[i]!) && !(Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) {
          at(plan.names.vector, `value ${i} is ${b[i]} instead of ${a[i]}`);
          break;
        }
  }
  if (plan.hasSparse) {
    const norm = (s: VectorRecord['sparse']): string =>
      JSON.stringify(
        s
          ? s.indices.map((index, i) => [index, Math.fround(s.values[i]!)] as const).sort((x, y) => x[0] - y[0])
          : [],
      );
    if (norm(want.sparse) !== norm(have.sparse)) at(plan.names.sparseVector, 'sparse indices or values differ');
  }
  if (!deepEqual(want.metadata ?? {}, have.metadata ?? {})) at('$meta', `metadata ${JSON.stringify(have.metadata)} instead of ${JSON.stringify(want.metadata)}`);
  return out;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
