import {
  dlqTopic,
  recordKey,
  retry,
  type CollectionPlan,
  type DlqEntry,
  type LogClient,
  type LogProducer,
  type LogRecord,
  type RecordMismatch,
  type RetryOptions,
  type SinkReader,
  type VectorRecord,
} from '@p2m/core';
import { BucketDigests, hashKey, type BucketLayout } from './buckets.ts';
import { compareRecords } from './compare.ts';
import type { DlqIndex } from './dlq-index.ts';
import { HeapPacer } from './heap-pacer.ts';
import type { VerificationTracker } from './phases.ts';

/**
 * Reconciliation, the long phase: one pass over the records topic, every record looked up in the
 * target by primary key in large batches (a point lookup on every Milvus, Lite included, where any
 * other query scans the whole collection), and compared field by field. Memory is bounded by the
 * batches in flight plus what did not match: nothing is kept per matching record.
 *
 * The log may hold a record several times: a page sent again after an extractor restart, usually
 * the same content. All copies of a (namespace, id) land in one partition, in order, and the
 * loader wrote them in that order, so the last copy is what the target must hold (last write wins):
 * a copy that differs is remembered until a later copy of the same record matches.
 *
 * What is not in the target is settled on the spot, because every copy of a record sees the same
 * target: in the DLQ (accounted), its id held by another namespace's record (`id` mode: written to
 * the DLQ now, naming both namespaces), or missing.
 */

export interface JoinOptions {
  plan: CollectionPlan;
  jobId: string;
  topic: string;
  log: LogClient;
  sink: SinkReader;
  decode: (value: Buffer) => Promise<LogRecord>;
  dlq: DlqIndex;
  layout: BucketLayout;
  tracker: VerificationTracker;
  /** Milvus reads (`RetryPolicies.sink`) and Kafka writes (`RetryPolicies.log`). */
  sinkPolicy: RetryOptions;
  logPolicy: RetryOptions;
  sampleSize: number;
  random: () => number;
  /** Records per lookup, lookups in flight (the scan goes on while they run). */
  batchSize?: number;
  inFlight?: number;
  /** Changed or missing records remembered by name; beyond it they are counted. */
  maxNamed?: number;
  /** Heap growth allowed between two full collections (see heap-pacer.ts). */
  heapHeadroomMb?: number;
}

/** What the pass found for one namespace. */
export interface NamespaceJoin {
  /** Copies of records read from the log. */
  copies: number;
  /** The end-of-namespace markers' count (records the extractor published), when the log has one. */
  published: number | null;
  /** Distinct records absent from the target, by why. */
  absentInDlq: number;
  collisions: number;
  /** Of `collisions`, the ones this pass wrote to the DLQ (the others were there from an earlier run). */
  collisionsWritten: number;
  missing: number;
  missingSample: string[];
  changed: number;
}

export interface JoinResult {
  namespaces: Map<string, NamespaceJoin>;
  logRecords: number;
  lookups: number;
  /** Copies found in the target under their own namespace, per bucket (for naming unexpected rows). */
  found: BucketDigests;
  /** Latest copies that differ from the target, field by field (capped at `maxNamed`). */
  changed: RecordMismatch[];
  /** `id` mode: records displaced by another namespace's copy of their id (capped). */
  collisions: { namespace: string; id: string; heldBy: string }[];
  /** More differing records than `maxNamed`: counts from then on are lower bounds. */
  overflow: boolean;
  /** Matching records, a uniform sample (for the comparison with the source). */
  sample: VectorRecord[];
}

interface Copy {
  record: VectorRecord;
  partition: number;
  offset: string;
}

const ABSENT_DLQ = 1;
const ABSENT_COLLISION = 2;
const ABSENT_COLLISION_WRITTEN = 3;
const ABSENT_MISSING = 4;
const MISSING_SAMPLE = 20;
const NAMED_SAMPLE = 100;

/** Absent records, one entry per copy: sorted and made distinct at the end (12 bytes an entry). */
class AbsentLog {
  #hi = new Uint32Array(256);
  #lo = new Uint32Array(256);
  #ns = new Uint32Array(256);
  #kind = new Uint8Array(256);
  #n = 0;
  readonly names: string[] = [];
  readonly #index = new Map<string, number>();
  readonly #hash = new Uint32Array(2);

  add(namespace: string, id: string, kind: number): void {
    if (this.#n === this.#hi.length) {
      const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.#hi = grow(this.#hi, (n) => new Uint32Array(n));
      this.#lo = grow(this.#lo, (n) => new Uint32Array(n));
      this.#ns = grow(this.#ns, (n) => new Uint32Array(n));
      this.#kind = grow(this.#kind, (n) => new Uint8Array(n));
    }
    let ns = this.#index.get(namespace);
    if (ns === undefined) {
      ns = this.names.length;
      this.names.push(namespace);
      this.#index.set(namespace, ns);
    }
    hashKey(namespace, id, this.#hash);
    this.#hi[this.#n] = this.#hash[0]!;
    this.#lo[this.#n] = this.#hash[1]!;
    this.#ns[this.#n] = ns;
    this.#kind[this.#n] = kind;
    this.#n++;
  }

  /** Distinct records per namespace and kind. */
  distinct(): Map<string, Map<number, number>> {
    const n = this.#n;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const hi = this.#hi;
    const lo = this.#lo;
    order.sort((a, b) => (hi[a]! !== hi[b]! ? hi[a]! - hi[b]! : lo[a]! - lo[b]!));
    const out = new Map<string, Map<number, number>>();
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (k > 0) {
        const p = order[k - 1]!;
        if (hi[p] === hi[i] && lo[p] === lo[i]) continue;
      }
      const ns = this.names[this.#ns[i]!]!;
      let kinds = out.get(ns);
      if (!kinds) out.set(ns, (kinds = new Map()));
      const kind = this.#kind[i]!;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    return out;
  }
}

export async function joinLogWithTarget(o: JoinOptions): Promise<JoinResult> {
  const { plan, tracker } = o;
  const batchSize = o.batchSize ?? 2_048;
  const maxInFlight = o.inFlight ?? 3;
  const maxNamed = o.maxNamed ?? 100_000;
  const idOnlyKey = plan.primaryKey === 'id' && plan.namespaceMode === 'partitionKey';
  const perNs = new Map<string, { copies: number; published: number | null; markers: number; missingSample: Set<string> }>();
  const nsOf = (ns: string) => {
    let t = perNs.get(ns);
    if (!t) perNs.set(ns, (t = { copies: 0, published: null, markers: 0, missingSample: new Set() }));
    return t;
  };
  const absent = new AbsentLog();
  const found = new BucketDigests(o.layout);
  /** Latest differing copy per record, until a later copy matches. */
  const differing = new Map<string, RecordMismatch[]>();
  const collisions: JoinResult['collisions'] = [];
  let overflow = false;
  const sample: VectorRecord[] = [];
  let matched = 0;
  let lookups = 0;
  let logRecords = 0;
  let producer: LogProducer | null = null;
  const pendingDlq: { key: string; value: Buffer }[] = [];

  // The adapter's admin is the client's shared one: not closed here.
  const offsets = await retry(() => o.log.admin().topicOffsets(o.topic), o.logPolicy);
  const partitions = Math.max(1, offsets.length);
  tracker.recordsTotal = offsets.reduce((s, p) => s + Number(BigInt(p.high) - BigInt(p.low)), 0);

  function remember(key: string, mismatches: RecordMismatch[]): void {
    if (differing.has(key) || differing.size < maxNamed) differing.set(key, mismatches);
    else overflow = true;
  }

  function collide(copy: Copy, heldBy: string): void {
    const { namespace, id } = copy.record;
    if (o.dlq.has(namespace, id)) {
      o.dlq.markAbsent(namespace, id);
      absent.add(namespace, id, ABSENT_COLLISION);
    } else {
      absent.add(namespace, id, ABSENT_COLLISION_WRITTEN);
      const label = (ns: string): string => (ns === '' ? 'the default namespace' : `namespace "${ns}"`);
      const entry: DlqEntry = {
        namespace,
        id,
        code: 'ID_COLLISION',
        reason: `id "${id}" is also in ${label(heldBy)}, whose record the target holds: with target.primaryKey "id" the id alone is the primary key, unique across the collection, so ${label(namespace)} lost its copy. Migrate with target.primaryKey: "namespaceAndId" to keep both`,
        at: new Date().toISOString(),
        source: `${copy.partition}:${copy.offset}`,
      };
      pendingDlq.push({ key: recordKey(namespace, id), value: Buffer.from(JSON.stringify(entry)) });
    }
    if (collisions.length < NAMED_SAMPLE) collisions.push({ namespace, id, heldBy });
  }

  function miss(copy: Copy): void {
    const { namespace, id } = copy.record;
    absent.add(namespace, id, ABSENT_MISSING);
    const s = nsOf(namespace).missingSample;
    if (s.size < MISSING_SAMPLE) s.add(id);
  }

  async function apply(batch: Copy[], rows: VectorRecord[]): Promise<void> {
    const byKey = new Map<string, VectorRecord>();
    for (const row of rows) byKey.set(idOnlyKey ? row.id : recordKey(row.namespace, row.id), row);
    const notFound: Copy[] = [];
    for (const copy of batch) {
      const r = copy.record;
      const key = recordKey(r.namespace, r.id);
      const row = byKey.get(idOnlyKey ? r.id : key);
      if (!row) {
        notFound.push(copy);
        continue;
      }
      if (row.namespace !== r.namespace) {
        collide(copy, row.namespace);
        continue;
      }
      found.add(r.namespace, r.id);
      const mismatches = compareRecords(r, row, plan);
      if (mismatches.length > 0) {
        remember(key, mismatches);
        continue;
      }
      differing.delete(key);
      matched++;
      if (sample.length < o.sampleSize) sample.push(r);
      else {
        const j = Math.floor(o.random() * matched);
        if (j < o.sampleSize) sample[j] = r;
      }
    }
    // Not found where the key says. In partitions mode with `id` keys the server may keep one row
    // per partition, or move the id to the partition written last: ask which partitions hold it.
    const elsewhere = plan.namespaceMode === 'partitions' && plan.primaryKey === 'id' && notFound.length > 0
      ? await retry(() => o.sink.holdersOf(plan, notFound.map((c) => c.record.id)), o.sinkPolicy)
      : new Map<string, string[]>();
    for (const copy of notFound) {
      const { namespace, id } = copy.record;
      if (o.dlq.has(namespace, id)) {
        o.dlq.markAbsent(namespace, id);
        absent.add(namespace, id, ABSENT_DLQ);
        continue;
      }
      const holder = elsewhere.get(id)?.find((ns) => ns !== namespace);
      if (holder !== undefined) collide(copy, holder);
      else miss(copy);
    }
    if (pendingDlq.length > 0) {
      producer ??= o.log.producer();
      const messages = pendingDlq.splice(0);
      const p = producer;
      await retry(() => p.send(dlqTopic(o.jobId), messages), o.logPolicy);
    }
  }

  // Lookups run while the scan reads on; their answers are applied in log order (last write wins).
  const inFlight: { batch: Copy[]; rows: Promise<VectorRecord[]> }[] = [];
  let batch: Copy[] = [];
  const settleOldest = async (): Promise<void> => {
    const head = inFlight.shift()!;
    await apply(head.batch, await head.rows);
    tracker.recordsChecked += head.batch.length;
    tracker.work(tracker.recordsChecked, tracker.recordsTotal);
  };
  const dispatch = async (): Promise<void> => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    lookups++;
    const rows = retry(() => o.sink.readByKeys(plan, b.map((c) => c.record)), o.sinkPolicy);
    rows.catch(() => undefined); // awaited in order by settleOldest; a failure surfaces there
    inFlight.push({ batch: b, rows });
    while (inFlight.length >= maxInFlight) await settleOldest();
  };

  const heap = new HeapPacer(o.heapHeadroomMb);
  // A reader that rejoins its group reads from the start again: messages already seen are skipped.
  const seen = new Map<number, bigint>();
  try {
    await o.log.scanToEnd(o.topic, async (m) => {
      const offset = BigInt(m.offset);
      const last = seen.get(m.partition);
      if (last !== undefined && offset <= last) return;
      seen.set(m.partition, offset);
      if (!m.value) return;
      if ((offset & 1023n) === 0n) heap.check();
      const r = await o.decode(m.value);
      if (r.kind === 'end') {
        const t = nsOf(r.namespace);
        t.published = Math.max(t.published ?? 0, r.count);
        if (++t.markers === partitions) tracker.namespacesDone++;
        return;
      }
      logRecords++;
      nsOf(r.namespace).copies++;
      batch.push({ record: r, partition: m.partition, offset: m.offset });
      if (batch.length >= batchSize) await dispatch();
    });
    await dispatch();
    while (inFlight.length > 0) await settleOldest();
  } finally {
    await Promise.allSettled(inFlight.map((f) => f.rows));
    const p = producer as LogProducer | null;
    await p?.close();
  }

  // The differing records still differing after the last copy: changed, unless the last copy is in
  // the DLQ (refused: the target keeps an earlier copy, and the DLQ says why).
  const changed: RecordMismatch[] = [];
  const changedPerNs = new Map<string, number>();
  for (const [key, mismatches] of differing) {
    const [namespace = '', id = ''] = key.split('\u0000');
    if (o.dlq.has(namespace, id)) continue;
    changedPerNs.set(namespace, (changedPerNs.get(namespace) ?? 0) + 1);
    if (changed.length < NAMED_SAMPLE) changed.push(...mismatches.slice(0, 1));
  }

  const distinct = absent.distinct();
  const namespaces = new Map<string, NamespaceJoin>();
  for (const [ns, t] of perNs) {
    const kinds = distinct.get(ns) ?? new Map<number, number>();
    namespaces.set(ns, {
      copies: t.copies,
      published: t.published,
      absentInDlq: kinds.get(ABSENT_DLQ) ?? 0,
      collisions: (kinds.get(ABSENT_COLLISION) ?? 0) + (kinds.get(ABSENT_COLLISION_WRITTEN) ?? 0),
      collisionsWritten: kinds.get(ABSENT_COLLISION_WRITTEN) ?? 0,
      missing: kinds.get(ABSENT_MISSING) ?? 0,
      missingSample: [...t.missingSample],
      changed: changedPerNs.get(ns) ?? 0,
    });
  }
  return { namespaces, logRecords, lookups, found, changed, collisions, overflow, sample };
}
