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
import { Absent, AbsentLog, type AbsentKind } from './absent-log.ts';
import { BucketDigests, type BucketLayout } from './buckets.ts';
import { compareRecords } from './compare.ts';
import type { DlqIndex } from './dlq-index.ts';
import type { VerificationTracker } from './phases.ts';

/**
 * The state of reconciliation's join (see reconcile.ts): what each batch of log records and the
 * target's answer for their keys leave behind. Nothing is kept for a record that matches.
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
  batchSize?: number | undefined;
  inFlight?: number | undefined;
  /** Changed records remembered by name; beyond it they are counted. */
  maxNamed?: number | undefined;
  /** Heap growth allowed between two full collections, at least (see heap-pacer.ts). */
  heapHeadroomMb?: number | undefined;
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
  foundOnSecondRead: number;
  /** Copies found in the target under their own namespace, per bucket (for naming unexpected rows). */
  found: BucketDigests;
  /** Latest copies that differ from the target, field by field (the first of each, capped). */
  changed: RecordMismatch[];
  /** `id` mode: records displaced by another namespace's copy of their id (capped). */
  collisions: { namespace: string; id: string; heldBy: string }[];
  /** More differing records than `maxNamed`: counts from then on are lower bounds. */
  overflow: boolean;
  /** Matching records, a uniform sample (for the comparison with the source). */
  sample: VectorRecord[];
}

export interface Copy {
  record: VectorRecord;
  partition: number;
  offset: string;
}

const MISSING_SAMPLE = 20;
const NAMED_SAMPLE = 100;
const label = (ns: string): string => (ns === '' ? 'the default namespace' : `namespace "${ns}"`);

export class LogJoin {
  readonly #o: JoinOptions;
  readonly #maxNamed: number;
  /** In `id` mode with a partition key the id alone finds the row, whatever namespace holds it. */
  readonly #idOnlyKey: boolean;
  readonly #perNs = new Map<string, { copies: number; published: number | null; markers: number; missingSample: Set<string> }>();
  readonly #absent = new AbsentLog();
  readonly found: BucketDigests;
  /** Latest differing copy per record, until a later copy matches. */
  readonly #differing = new Map<string, RecordMismatch[]>();
  readonly #collisions: JoinResult['collisions'] = [];
  #overflow = false;
  readonly #sample: VectorRecord[] = [];
  #matched = 0;
  #producer: LogProducer | null = null;
  readonly #pendingDlq: { key: string; value: Buffer }[] = [];
  lookups = 0;
  logRecords = 0;
  /** Rows the target did not answer for at the first lookup of their keys and did at the second. */
  foundOnSecondRead = 0;

  constructor(o: JoinOptions) {
    this.#o = o;
    this.#maxNamed = o.maxNamed ?? 100_000;
    this.#idOnlyKey = o.plan.primaryKey === 'id' && o.plan.namespaceMode === 'partitionKey';
    this.found = new BucketDigests(o.layout);
  }

  namespace(ns: string) {
    let t = this.#perNs.get(ns);
    if (!t) this.#perNs.set(ns, (t = { copies: 0, published: null, markers: 0, missingSample: new Set() }));
    return t;
  }

  /** One batch of copies against the rows the target answered for their keys, in log order. */
  async apply(batch: Copy[], rows: VectorRecord[]): Promise<void> {
    await this.#settleNotFound(this.#match(batch, rows));
    await this.#flushDlq();
  }

  /** Compares the copies the rows answer for, in order; returns the copies no row answered for. */
  #match(batch: Copy[], rows: VectorRecord[]): Copy[] {
    const byKey = new Map<string, VectorRecord>();
    for (const row of rows) byKey.set(this.#idOnlyKey ? row.id : recordKey(row.namespace, row.id), row);
    const notFound: Copy[] = [];
    for (const copy of batch) {
      const r = copy.record;
      const row = byKey.get(this.#idOnlyKey ? r.id : recordKey(r.namespace, r.id));
      if (!row) notFound.push(copy);
      else if (row.namespace !== r.namespace) this.#collide(copy, row.namespace);
      else this.#compare(r, row);
    }
    return notFound;
  }

  #compare(r: VectorRecord, row: VectorRecord): void {
    const key = recordKey(r.namespace, r.id);
    this.found.add(r.namespace, r.id);
    const mismatches = compareRecords(r, row, this.#o.plan);
    if (mismatches.length > 0) {
      if (this.#differing.has(key) || this.#differing.size < this.#maxNamed) this.#differing.set(key, mismatches);
      else this.#overflow = true;
      return;
    }
    this.#differing.delete(key);
    this.#matched++;
    if (this.#sample.length < this.#o.sampleSize) this.#sample.push(r);
    else {
      const j = Math.floor(this.#o.random() * this.#matched);
      if (j < this.#o.sampleSize) this.#sample[j] = r;
    }
  }

  /**
   * Not found where its key says: in the DLQ, or (partitions mode with `id` keys, where the server
   * may keep one row per partition or move the id to the partition written last) held by another
   * partition, or missing.
   */
  async #settleNotFound(notFound: Copy[]): Promise<void> {
    const { plan, sink, sinkPolicy, dlq } = this.#o;
    const holders =
      plan.namespaceMode === 'partitions' && plan.primaryKey === 'id' && notFound.length > 0
        ? await retry(
            () =>
              sink.holdersOf(
                plan,
                notFound.map((c) => c.record.id),
              ),
            sinkPolicy,
          )
        : new Map<string, string[]>();
    const unexplained: Copy[] = [];
    for (const copy of notFound) {
      const { namespace, id } = copy.record;
      if (dlq.has(namespace, id)) {
        dlq.markAbsent(namespace, id);
        this.#absent.add(namespace, id, Absent.InDlq);
        continue;
      }
      const holder = holders.get(id)?.find((ns) => ns !== namespace);
      if (holder !== undefined) this.#collide(copy, holder);
      else unexplained.push(copy);
    }
    for (const copy of await this.#readAgain(unexplained)) {
      const { namespace, id } = copy.record;
      this.#absent.add(namespace, id, Absent.Missing);
      const s = this.namespace(namespace).missingSample;
      if (s.size < MISSING_SAMPLE) s.add(id);
    }
  }

  /**
   * A record is only called missing when two reads agree: its key is asked for once more, and a row
   * the server answers late (a read that raced a segment being sealed or flushed) is compared like
   * any other and counted in the report. Returns the copies the second read did not find either.
   */
  async #readAgain(copies: Copy[]): Promise<Copy[]> {
    if (copies.length === 0) return copies;
    this.lookups++;
    const { plan, sink, sinkPolicy } = this.#o;
    const rows = await retry(
      () =>
        sink.readByKeys(
          plan,
          copies.map((c) => c.record),
        ),
      sinkPolicy,
    );
    if (rows.length === 0) return copies;
    this.foundOnSecondRead += rows.length;
    return this.#match(copies, rows);
  }

  #collide(copy: Copy, heldBy: string): void {
    const { namespace, id } = copy.record;
    if (this.#o.dlq.has(namespace, id)) {
      this.#o.dlq.markAbsent(namespace, id);
      this.#absent.add(namespace, id, Absent.Collision);
    } else {
      this.#absent.add(namespace, id, Absent.CollisionWritten);
      const entry: DlqEntry = {
        namespace,
        id,
        code: 'ID_COLLISION',
        reason: `id "${id}" is also in ${label(heldBy)}, whose record the target holds: with target.primaryKey "id" the id alone is the primary key, unique across the collection, so ${label(namespace)} lost its copy. Migrate with target.primaryKey: "namespaceAndId" to keep both`,
        at: new Date().toISOString(),
        source: `${copy.partition}:${copy.offset}`,
      };
      this.#pendingDlq.push({ key: recordKey(namespace, id), value: Buffer.from(JSON.stringify(entry)) });
    }
    if (this.#collisions.length < NAMED_SAMPLE) this.#collisions.push({ namespace, id, heldBy });
  }

  async #flushDlq(): Promise<void> {
    if (this.#pendingDlq.length === 0) return;
    const producer = (this.#producer ??= this.#o.log.producer());
    const messages = this.#pendingDlq.splice(0);
    await retry(() => producer.send(dlqTopic(this.#o.jobId), messages), this.#o.logPolicy);
  }

  async close(): Promise<void> {
    await this.#producer?.close();
  }

  result(): JoinResult {
    // Still differing after the last copy: changed, unless the last copy is in the DLQ (refused:
    // the target keeps an earlier copy, and the DLQ says why).
    const changed: RecordMismatch[] = [];
    const changedPerNs = new Map<string, number>();
    for (const [key, mismatches] of this.#differing) {
      const [namespace = '', id = ''] = key.split('\u0000');
      if (this.#o.dlq.has(namespace, id)) continue;
      changedPerNs.set(namespace, (changedPerNs.get(namespace) ?? 0) + 1);
      if (changed.length < NAMED_SAMPLE) changed.push(mismatches[0]!);
    }
    const distinct = this.#absent.distinct();
    const namespaces = new Map<string, NamespaceJoin>();
    for (const [ns, t] of this.#perNs) {
      const kinds = distinct.get(ns);
      const count = (kind: AbsentKind): number => kinds?.get(kind) ?? 0;
      namespaces.set(ns, {
        copies: t.copies,
        published: t.published,
        absentInDlq: count(Absent.InDlq),
        collisions: count(Absent.Collision) + count(Absent.CollisionWritten),
        collisionsWritten: count(Absent.CollisionWritten),
        missing: count(Absent.Missing),
        missingSample: [...t.missingSample],
        changed: changedPerNs.get(ns) ?? 0,
      });
    }
    return {
      namespaces,
      logRecords: this.logRecords,
      lookups: this.lookups,
      foundOnSecondRead: this.foundOnSecondRead,
      found: this.found,
      changed,
      collisions: this.#collisions,
      overflow: this.#overflow,
      sample: this.#sample,
    };
  }
}
