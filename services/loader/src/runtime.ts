import {
  EtlError,
  errorMessage,
  isRetriable,
  recordKey,
  retry,
  sleep,
  type CollectionPlan,
  type ConsumerBatch,
  type DlqEntry,
  type LogConsumer,
  type LogProducer,
  type LogRecord,
  type MilvusSinkPort,
  type PartitionOffset,
} from '@p2m/core';
import type { Logger } from 'pino';
import { dedupeLastWins, planBatches, type PlannedBatch, type Rejection, type SourcedRecord } from './task.ts';

/**
 * The loader runtime (after Kafka Connect's sink runtime): it owns the consumer, the commits, the
 * retry policy and the dead-letter queue; the task only turns records into batches.
 *
 * Order per fetched batch: decode → validate → upsert every Milvus batch (retrying transient
 * errors) → write rejected records to the DLQ (acked) → commit the next offset with the running
 * counts as offset metadata. A crash anywhere before the commit replays the batch, and upsert by
 * primary key makes the replay harmless.
 */

export interface LoaderCounts {
  loaded: number;
  failed: number;
  /** Per namespace, only while small enough to ride along in the offset metadata. */
  byNamespace: Record<string, { l: number; d: number }>;
}

export interface LoaderOptions {
  jobId: string;
  topic: string;
  dlqTopic: string;
  plan: CollectionPlan;
  consumer: LogConsumer;
  producer: LogProducer;
  sink: MilvusSinkPort;
  decode: (value: Buffer) => Promise<LogRecord>;
  batchBytes: number;
  /** Committed metadata for a partition (the counts so far), read when this member takes the partition (over). */
  committedMetadata: (partition: number) => Promise<string | null>;
  /**
   * Records per second this member may write per partition it loads (the job's
   * `rateLimits.upsertRecordsPerSecond` over the topic's partitions: a partition has one owner at
   * a time, so the members together stay within the job's limit). Unset = no pacing.
   */
  partitionRecordsPerSecond?: number;
  /**
   * Commit offsets only after a flush of the collection (for a target that keeps acknowledged
   * writes in memory, like Milvus Lite). Commits are then deferred and coalesced: at most one flush
   * per `flushIntervalMs`, after which every pending commit of a partition still owned is made.
   */
  flushBeforeCommit?: boolean;
  flushIntervalMs?: number;
  /** Give up on Milvus after it stays unavailable this long (the job then fails and can be resumed). */
  sinkDeadlineMs: number;
  signal: AbortSignal;
  log: Logger;
  onBatch?: (info: { partition: number; loaded: number; failed: number; seconds: number; bytes: number }) => void;
  onRetry?: (error: unknown) => void;
  onEndOfNamespace?: (namespace: string, partition: number) => void;
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

export async function runLoader(opts: LoaderOptions): Promise<void> {
  // Stopped before it started (the job was cancelled while the loader was getting ready): an
  // 'abort' listener added later would never fire, and the consumer would stay in the group as a
  // member that holds partitions and loads nothing. Return before anything (the flush timer) starts.
  if (opts.signal.aborted) return;
  /** Per partition: the counts this member last committed, and the offset it committed them at. */
  const counts = new Map<number, { counts: LoaderCounts; next: string }>();
  const { log } = opts;
  const pacer = opts.partitionRecordsPerSecond ? new PartitionPacer(opts.partitionRecordsPerSecond) : undefined;
  const retryForever = { retries: Infinity, deadlineMs: opts.sinkDeadlineMs, signal: opts.signal, onRetry: ({ error }: { error: unknown }) => opts.onRetry?.(error) };

  /**
   * Commits that wait for the next flush (flushBeforeCommit), by partition: only the newest matters.
   * `epoch`: the sink's connection epoch before all of `written` was upserted, null if it differed
   * between them or the sink could not tell.
   */
  const pending = new Map<number, { topic: string; commit: PartitionOffset; isStale: () => boolean; written: PlannedBatch[]; epoch: number | null }>();
  const flushInterval = opts.flushIntervalMs ?? 2_000;
  let flushedAt = performance.now();
  // The batch handler and the timer below take turns: a flush covers exactly the upserts before it.
  let turn: Promise<void> = Promise.resolve();
  const exclusive = (fn: () => Promise<void>): Promise<void> => {
    const run = turn.then(fn);
    turn = run.catch(() => undefined);
    return run;
  };
  const commitNow = async (topic: string, commit: PartitionOffset, isStale: () => boolean): Promise<void> => {
    // A broker restart makes the commit fail retriably: retry while this member still owns the
    // partition. Once it lost it, the new owner re-reads the batch (upsert makes that harmless).
    try {
      await retry(() => opts.consumer.commit(topic, [commit]), { ...retryForever, shouldRetry: (err) => isRetriable(err) && !isStale() });
    } catch (err) {
      if (!isStale()) throw err;
      // The partition moved on (a rebalance refused the commit): not a failure of the job.
      log.info({ partition: commit.partition, offset: commit.offset }, 'offsets not committed: the partition has a new owner, which reads these records again');
    }
  };
  const settle = async (): Promise<void> => {
    if (pending.size === 0 || opts.signal.aborted) return;
    const due = [...pending.entries()];
    await retry(() => opts.sink.flush(opts.plan), retryForever);
    // A flush covers the writes the server still holds. If it restarted between an upsert and the
    // flush, the flush ran on a server that never had them: read the ids back before committing —
    // unless the connection the upserts went over stayed up from before the first of them until
    // after the flush (the same epoch), which rules a restart out. The read-back costs Milvus Lite
    // about a third more CPU per record; the epoch check costs nothing.
    const epoch = opts.sink.connectionEpoch();
    const sameServer = epoch !== null && due.every(([, p]) => p.epoch === epoch);
    if (!sameServer) await retry(() => confirmDurable(opts, due.flatMap(([, p]) => p.written)), retryForever);
    flushedAt = performance.now();
    for (const [partition, p] of due) {
      pending.delete(partition);
      // Stopping: leave the rest uncommitted (read again later; upsert makes that harmless).
      if (opts.signal.aborted) return;
      if (!p.isStale()) await commitNow(p.topic, p.commit, p.isStale);
    }
  };
  // A drained topic brings no more batches: the last commits still come within the interval.
  const timer = opts.flushBeforeCommit
    ? setInterval(() => {
        if (pending.size > 0 && performance.now() - flushedAt >= flushInterval) {
          exclusive(settle).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'flush before commit failed; the batches will be read again'));
        }
      }, Math.max(50, Math.floor(flushInterval / 4)))
    : null;

  const onStop = (): void => {
    void opts.consumer.stop();
  };
  opts.signal.addEventListener('abort', onStop, { once: true });
  try {
    await opts.consumer.run((batch) => exclusive(async () => {
      if (opts.signal.aborted || batch.isStale() || batch.messages.length === 0) return;
      // Our counts hold only while the partition continues where this member committed. A batch
      // starting anywhere else means another member owned the partition meanwhile (a rebalance
      // moved it away and back) and committed its own counts: read them again.
      const cached = counts.get(batch.partition);
      // Reading them fails retriably while the broker restarts: ride that out like the commit below.
      const committed = () =>
        retry(() => opts.committedMetadata(batch.partition), { retries: Infinity, deadlineMs: opts.sinkDeadlineMs, signal: opts.signal, onRetry: ({ error }) => opts.onRetry?.(error) });
      const base = cached && cached.next === batch.messages[0]!.offset ? cached.counts : decodeCounts(await committed());
      // Retriable trouble outside the upsert (the registry or the DLQ producer down) retries the
      // whole batch; upserts are idempotent, so that is safe.
      // What Milvus acknowledged, kept until a flush is confirmed (flushBeforeCommit only).
      const written: PlannedBatch[] = [];
      // Read before the upserts: a connection that breaks from here on changes it (settle, above).
      const epoch = opts.flushBeforeCommit ? opts.sink.connectionEpoch() : null;
      const attempt = (): Promise<LoaderCounts | null> => {
        written.length = 0;
        return processBatch(opts, batch, structuredClone(base), pacer, opts.flushBeforeCommit ? written : undefined);
      };
      const next = await retry(attempt, {
        retries: Infinity,
        deadlineMs: opts.sinkDeadlineMs,
        signal: opts.signal,
        onRetry: ({ error }) => opts.onRetry?.(error),
      });
      if (next === null) return; // abandoned: nothing committed, the batch will be read again
      const last = batch.messages[batch.messages.length - 1]!;
      const commit: PartitionOffset = { partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString(), metadata: encodeCounts(next) };
      counts.set(batch.partition, { counts: next, next: commit.offset });
      if (!opts.flushBeforeCommit) {
        await commitNow(batch.topic, commit, () => batch.isStale());
        return;
      }
      const earlier = pending.get(batch.partition);
      pending.set(batch.partition, {
        topic: batch.topic,
        commit,
        isStale: () => batch.isStale(),
        written: [...(earlier?.written ?? []), ...written],
        epoch: earlier === undefined || earlier.epoch === epoch ? epoch : null,
      });
      if (performance.now() - flushedAt >= flushInterval) await settle();
    }));
  } finally {
    if (timer) clearInterval(timer);
    opts.signal.removeEventListener('abort', onStop);
  }
}

/**
 * Reads back the ids of batches Milvus acknowledged and a flush since then should have made
 * durable; writes the ones that are gone again (and flushes) until all are there. Only for targets
 * that keep acknowledged writes in memory (flushBeforeCommit).
 */
async function confirmDurable(opts: LoaderOptions, batches: PlannedBatch[]): Promise<void> {
  let check = batches.filter((b) => b.records.length > 0);
  for (let round = 0; check.length > 0; round++) {
    const found = await opts.sink.namespacesOf(opts.plan, check.flatMap((b) => b.records.map((r) => r.id)));
    const missing: PlannedBatch[] = [];
    for (const b of check) {
      const keep = b.records.map((r, i) => (found.get(r.id) === r.namespace ? -1 : i)).filter((i) => i >= 0);
      if (keep.length > 0) missing.push({ partition: b.partition, records: keep.map((i) => b.records[i]!), sources: keep.map((i) => b.sources[i]!), bytes: b.bytes });
    }
    if (missing.length === 0) return;
    const count = missing.reduce((n, b) => n + b.records.length, 0);
    if (round >= 3) throw new EtlError('TARGET_UNAVAILABLE', `${count} records Milvus acknowledged are still missing after writing them again ${round} times`, { retriable: true });
    opts.log.warn({ count, first: missing[0]!.records[0]!.id }, 'records Milvus acknowledged are gone (it restarted before they were flushed); writing them again');
    for (const b of missing) await upsertIsolating(opts, b);
    await retry(() => opts.sink.flush(opts.plan), { retries: Infinity, deadlineMs: opts.sinkDeadlineMs, signal: opts.signal });
    check = missing;
  }
}

async function processBatch(opts: LoaderOptions, batch: ConsumerBatch, counts: LoaderCounts, pacer?: PartitionPacer, written?: PlannedBatch[]): Promise<LoaderCounts | null> {
  const started = performance.now();
  const records: SourcedRecord[] = [];
  const undecodable: Rejection[] = [];
  for (const message of batch.messages) {
    const source = `${batch.partition}:${message.offset}`;
    if (!message.value) continue;
    let decoded: LogRecord;
    try {
      decoded = await opts.decode(message.value);
    } catch (err) {
      if (err instanceof EtlError && err.retriable) throw err; // e.g. the registry is down: retry the batch
      const key = message.key?.toString('utf8') ?? '';
      const [namespace = '', id = key] = key.split('\u0000');
      undecodable.push({
        record: { kind: 'vector', namespace, id, values: null, sparse: null, metadata: null },
        source,
        code: 'RECORD_INVALID',
        reason: `the record could not be decoded: ${errorMessage(err)}`,
      });
      continue;
    }
    if (decoded.kind === 'end') {
      opts.onEndOfNamespace?.(decoded.namespace, batch.partition);
      continue;
    }
    records.push({ record: decoded, source });
  }

  const collisions = await crossNamespaceCollisions(opts, records);
  const collided = new Set(collisions.map((c) => c.source));
  const { batches, rejected } = planBatches(opts.plan, collided.size ? records.filter((r) => !collided.has(r.source)) : records, opts.batchBytes);
  rejected.push(...undecodable, ...collisions);
  let loadedBytes = 0;
  let loaded = 0;
  for (const planned of batches) {
    if (pacer && !(await pacer.pace(batch, planned.records.length, opts.signal))) return null;
    if (opts.signal.aborted || batch.isStale()) return null;
    const sent = dedupeLastWins(planned);
    const failures = await upsertIsolating(opts, sent);
    rejected.push(...failures);
    const failedSources = new Set(failures.map((f) => f.source));
    if (written) {
      const ok = sent.records.map((_, i) => i).filter((i) => !failedSources.has(sent.sources[i]!));
      written.push(ok.length === sent.records.length ? sent : { partition: sent.partition, records: ok.map((i) => sent.records[i]!), sources: ok.map((i) => sent.sources[i]!), bytes: sent.bytes });
    }
    for (let i = 0; i < planned.records.length; i++) {
      if (failedSources.has(planned.sources[i]!)) continue;
      const ns = planned.records[i]!.namespace;
      counts.loaded++;
      loaded++;
      const entry = (counts.byNamespace[ns] ??= { l: 0, d: 0 });
      entry.l++;
    }
    loadedBytes += planned.bytes;
    await batch.heartbeat();
  }

  if (rejected.length > 0) {
    if (opts.signal.aborted || batch.isStale()) return null;
    await writeDlq(opts, rejected);
    for (const r of rejected) {
      counts.failed++;
      const entry = (counts.byNamespace[r.record.namespace] ??= { l: 0, d: 0 });
      entry.d++;
    }
  }
  if (opts.signal.aborted || batch.isStale()) return null;
  opts.onBatch?.({
    partition: batch.partition,
    loaded,
    failed: rejected.length,
    seconds: (performance.now() - started) / 1000,
    bytes: loadedBytes,
  });
  return counts;
}

/**
 * Spaces a partition's upserts so it writes at most `ratePerSecond` records per second on average:
 * each batch waits until the records before it have had their time. Waits are cut into slices with
 * a heartbeat in between, so a slow rate never costs the member its place in the group.
 */
export class PartitionPacer {
  readonly #ratePerSecond: number;
  readonly #nextAt = new Map<number, number>();
  readonly #now: () => number;

  constructor(ratePerSecond: number, now: () => number = () => performance.now()) {
    this.#ratePerSecond = ratePerSecond;
    this.#now = now;
  }

  /** How long the next `records` of `partition` must wait, booking their time (ms). */
  book(partition: number, records: number): number {
    const now = this.#now();
    const start = Math.max(now, this.#nextAt.get(partition) ?? now);
    this.#nextAt.set(partition, start + (records / this.#ratePerSecond) * 1000);
    return start - now;
  }

  /** Waits the booked time; false when the member was stopped or lost the partition meanwhile. */
  async pace(batch: Pick<ConsumerBatch, 'partition' | 'heartbeat' | 'isStale'>, records: number, signal: AbortSignal): Promise<boolean> {
    let wait = this.book(batch.partition, records);
    while (wait > 0) {
      if (signal.aborted || batch.isStale()) return false;
      const slice = Math.min(wait, 2_000);
      await sleep(slice, signal).catch(() => undefined);
      wait -= slice;
      if (wait > 0) await batch.heartbeat();
    }
    return !signal.aborted && !batch.isStale();
  }
}

/**
 * Upsert a batch; transient errors retry with backoff until the sink deadline. When Milvus refuses
 * the data itself, split the batch in halves until the refused records are alone, so one poison
 * record never holds back the rest.
 */
async function upsertIsolating(opts: LoaderOptions, batch: PlannedBatch): Promise<Rejection[]> {
  try {
    await retry(() => opts.sink.upsert(opts.plan, batch), {
      retries: Infinity,
      deadlineMs: opts.sinkDeadlineMs,
      maxDelayMs: 5_000,
      signal: opts.signal,
      onRetry: ({ attempt, error }) => {
        opts.onRetry?.(error);
        opts.log.warn({ attempt, err: errorMessage(error) }, 'Milvus write failed, retrying');
      },
    });
    return [];
  } catch (err) {
    if (!(err instanceof EtlError) || err.code !== 'RECORD_REJECTED') throw err;
    if (batch.records.length === 1) {
      return [{ record: batch.records[0]!, source: batch.sources[0]!, code: 'RECORD_REJECTED', reason: `Milvus refused the record: ${err.message}` }];
    }
    const mid = Math.ceil(batch.records.length / 2);
    const half = (from: number, to: number): PlannedBatch => ({
      partition: batch.partition,
      records: batch.records.slice(from, to),
      sources: batch.sources.slice(from, to),
      bytes: Math.ceil((batch.bytes * (to - from)) / batch.records.length),
    });
    return [...(await upsertIsolating(opts, half(0, mid))), ...(await upsertIsolating(opts, half(mid, batch.records.length)))];
  }
}

async function writeDlq(opts: LoaderOptions, rejected: Rejection[]): Promise<void> {
  const at = new Date().toISOString();
  const messages = rejected.map((r) => {
    const entry: DlqEntry = { namespace: r.record.namespace, id: r.record.id, code: r.code, reason: r.reason, at, source: r.source };
    return { key: recordKey(r.record.namespace, r.record.id), value: Buffer.from(JSON.stringify(entry)) };
  });
  await retry(() => opts.producer.send(opts.dlqTopic, messages), { retries: Infinity, deadlineMs: opts.sinkDeadlineMs, signal: opts.signal });
  opts.log.warn({ count: rejected.length, first: rejected[0]?.reason }, 'records sent to the dead-letter topic');
}

/** Partition-mode lookups cost one query per partition; past this many namespaces, verification alone guards. */
const MAX_PARTITIONS_TO_PROBE = 64;

/**
 * A Milvus primary key is unique in the whole collection, a Pinecone id only within its namespace:
 * writing an id that another namespace already holds would silently replace that record. Such a
 * record goes to the DLQ instead, naming the namespace that holds the id. (Two loaders racing on
 * the same id in two namespaces can still collide; verification then fails the job with the id.)
 */
async function crossNamespaceCollisions(opts: LoaderOptions, records: SourcedRecord[]): Promise<Rejection[]> {
  const plan = opts.plan;
  const namespaces = plan.source.namespaces.length;
  if (namespaces < 2 || records.length === 0) return [];
  if (plan.namespaceMode === 'partitions' && namespaces > MAX_PARTITIONS_TO_PROBE) return [];
  const stored = await retry(() => opts.sink.namespacesOf(plan, records.map((r) => r.record.id)), {
    retries: Infinity,
    deadlineMs: opts.sinkDeadlineMs,
    signal: opts.signal,
    onRetry: ({ error }) => opts.onRetry?.(error),
  });
  const claimed = new Map(stored);
  const out: Rejection[] = [];
  for (const item of records) {
    const { id, namespace } = item.record;
    const holder = claimed.get(id);
    if (holder === undefined) {
      claimed.set(id, namespace);
    } else if (holder !== namespace) {
      out.push({
        record: item.record,
        source: item.source,
        code: 'RECORD_REJECTED',
        reason: `id ${JSON.stringify(id)} is already stored for namespace ${JSON.stringify(holder)}; a Milvus primary key is unique across the collection, so loading it would replace that record`,
      });
    }
  }
  return out;
}
