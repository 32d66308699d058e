import {
  retry,
  type CollectionPlan,
  type IncomingMessage,
  type LogClient,
  type LogRecord,
  type RecordKey,
  type RetryOptions,
  type SinkReader,
} from '@p2m/core';
import { BucketDigests, hashKey, type BucketLayout } from './buckets.ts';
import type { VerificationTracker } from './phases.ts';

/**
 * Naming the target rows the log does not hold, in bounded memory, when the row counts say there
 * are some. The target is walked once into per-bucket digests of its keys; reconciliation already
 * summed, per bucket, the log records it found in the target. Buckets where the two digests agree
 * hold no stranger; only the others are drilled into: their log keys are collected (8 bytes each),
 * and a second walk of the target names its rows in those buckets that the log lacks. A bucket also
 * disagrees when the log holds a record twice (a page sent again), which the drill settles.
 */

export interface UnexpectedOptions {
  plan: CollectionPlan;
  topic: string;
  log: LogClient;
  sink: SinkReader;
  decode: (value: Buffer) => Promise<LogRecord>;
  layout: BucketLayout;
  /** Log records found in the target under their own namespace, per bucket (from reconciliation). */
  found: BucketDigests;
  tracker: VerificationTracker;
  sinkPolicy: RetryOptions;
  /** Log keys collected per round (8 bytes each); the buckets to drill are split into rounds that fit. */
  keysPerRound?: number;
  maxRounds?: number;
}

export interface UnexpectedResult {
  /** Rows per namespace in the target (exact: from the walk). */
  targetRows: Map<string, number>;
  /** Unexpected rows per namespace (in the buckets drilled). */
  unexpected: Map<string, number>;
  named: RecordKey[];
  buckets: number;
  bucketsDrilled: number;
  /** Every disagreeing bucket was drilled into (false: too many for the rounds allowed). */
  complete: boolean;
}

const NAMED = 100;

/** Log keys of some buckets, as sorted distinct 64-bit hashes. */
class KeySet {
  #hi = new Uint32Array(1024);
  #lo = new Uint32Array(1024);
  #n = 0;
  #sorted = false;

  add(hash: Uint32Array): void {
    if (this.#n === this.#hi.length) {
      const hi = new Uint32Array(this.#n * 2);
      const lo = new Uint32Array(this.#n * 2);
      hi.set(this.#hi);
      lo.set(this.#lo);
      this.#hi = hi;
      this.#lo = lo;
    }
    this.#hi[this.#n] = hash[0]!;
    this.#lo[this.#n] = hash[1]!;
    this.#n++;
    this.#sorted = false;
  }

  has(hash: Uint32Array): boolean {
    if (!this.#sorted) this.#sort();
    const hi = hash[0]!;
    const lo = hash[1]!;
    let a = 0;
    let b = this.#n - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const mh = this.#hi[m]!;
      const ml = this.#lo[m]!;
      if (mh === hi && ml === lo) return true;
      if (mh < hi || (mh === hi && ml < lo)) a = m + 1;
      else b = m - 1;
    }
    return false;
  }

  #sort(): void {
    const order = Array.from({ length: this.#n }, (_, i) => i);
    const hi = this.#hi;
    const lo = this.#lo;
    order.sort((a, b) => (hi[a]! !== hi[b]! ? hi[a]! - hi[b]! : lo[a]! - lo[b]!));
    this.#hi = Uint32Array.from(order, (i) => hi[i]!);
    this.#lo = Uint32Array.from(order, (i) => lo[i]!);
    this.#sorted = true;
  }
}

/** A records-topic message's (namespace, id), from its key (`recordKey`), decoding only a message without one. */
async function keyOf(m: IncomingMessage, decode: (value: Buffer) => Promise<LogRecord>): Promise<RecordKey | null> {
  if (m.key) {
    const key = m.key.toString('utf8');
    const cut = key.indexOf('\u0000');
    if (cut >= 0) {
      const id = key.slice(cut + 1);
      return id === '' ? null : { namespace: key.slice(0, cut), id }; // '' is an end-of-namespace marker
    }
  }
  if (!m.value) return null;
  const r = await decode(m.value);
  return r.kind === 'vector' ? { namespace: r.namespace, id: r.id } : null;
}

/**
 * One walk of the whole target, folded into a fresh state per attempt: a walk that fails mid-way
 * (Milvus unreachable) starts again from the first page, so nothing is counted twice.
 */
async function walkTarget<S>(o: UnexpectedOptions, fresh: () => S, each: (state: S, k: RecordKey) => void): Promise<S> {
  return retry(async () => {
    const state = fresh();
    for await (const page of o.sink.scanKeys(o.plan)) for (const k of page) each(state, k);
    return state;
  }, o.sinkPolicy);
}

export async function findUnexpectedRows(o: UnexpectedOptions): Promise<UnexpectedResult> {
  const keysPerRound = o.keysPerRound ?? 1_000_000;
  const maxRounds = o.maxRounds ?? 4;
  const hash = new Uint32Array(2);

  const { target, targetRows } = await walkTarget(
    o,
    () => ({ target: new BucketDigests(o.layout), targetRows: new Map<string, number>() }),
    (s, k) => {
      s.target.add(k.namespace, k.id);
      s.targetRows.set(k.namespace, (s.targetRows.get(k.namespace) ?? 0) + 1);
    },
  );

  const differing = target.differing(o.found);
  o.tracker.buckets = differing.length;
  // Rounds of buckets whose keys fit the budget.
  const rounds: Set<number>[] = [];
  let current = new Set<number>();
  let keys = 0;
  for (const b of differing) {
    const size = Math.max(target.count(b), o.found.count(b));
    if (current.size > 0 && keys + size > keysPerRound) {
      rounds.push(current);
      current = new Set();
      keys = 0;
    }
    current.add(b);
    keys += size;
  }
  if (current.size > 0) rounds.push(current);

  const unexpected = new Map<string, number>();
  const named: RecordKey[] = [];
  let drilled = 0;
  for (const round of rounds.slice(0, maxRounds)) {
    const logKeys = new KeySet();
    await o.log.scanToEnd(o.topic, async (m) => {
      const k = await keyOf(m, o.decode);
      if (!k) return;
      hashKey(k.namespace, k.id, hash);
      if (round.has(o.layout.bucketOf(k.namespace, hash))) logKeys.add(hash);
    });
    const strangers = await walkTarget(
      o,
      () => [] as RecordKey[],
      (found, k) => {
        hashKey(k.namespace, k.id, hash);
        if (round.has(o.layout.bucketOf(k.namespace, hash)) && !logKeys.has(hash)) found.push(k);
      },
    );
    for (const k of strangers) {
      unexpected.set(k.namespace, (unexpected.get(k.namespace) ?? 0) + 1);
      if (named.length < NAMED) named.push(k);
    }
    drilled += round.size;
    o.tracker.bucketsDone = drilled;
    o.tracker.work(drilled, differing.length);
  }
  return { targetRows, unexpected, named, buckets: o.layout.buckets, bucketsDrilled: drilled, complete: rounds.length <= maxRounds };
}
