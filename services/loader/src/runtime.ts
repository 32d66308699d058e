import {
  EtlError,
  errorMessage,
  recordKey,
  retry,
  type CollectionPlan,
  type ConsumerBatch,
  type DlqEntry,
  type LogConsumer,
  type LogProducer,
  type LogRecord,
  type Logger,
  type RetryOptions,
  type SinkWriter,
} from '@p2m/core';
import { tally, PartitionCounts, encodeCounts, type CommittedPosition, type LoaderCounts } from './counts.ts';
import { PendingCommits } from './commits.ts';
import { PartitionPacer } from './pacer.ts';
import { dedupeLastWins, planBatches, type Rejection, type SourcedRecord } from './task.ts';

export { decodeCounts, encodeCounts, type CommittedPosition, type LoaderCounts } from './counts.ts';
export { PartitionPacer } from './pacer.ts';

/**
 * The loader runtime (after Kafka Connect's sink runtime): it owns the consumer, the commits, the
 * retry policy and the dead-letter queue; the task turns records into batches, and the writer
 * (the Milvus sink) owns what "written" and "durable" mean on its target.
 *
 * Per fetched batch: decode → plan batches → write each (retrying transient errors) → the refused
 * records to the DLQ (acked) → offer the next offset with the running counts → preCommit → commit
 * what the writer says is durable. A crash anywhere before the commit replays the batch, and upsert
 * by primary key makes the replay harmless.
 */
export interface LoaderOptions {
  jobId: string;
  topic: string;
  dlqTopic: string;
  plan: CollectionPlan;
  consumer: LogConsumer;
  producer: LogProducer;
  writer: SinkWriter;
  decode: (value: Buffer) => Promise<LogRecord>;
  batchBytes: number;
  /** A partition's committed offset and metadata (the counts so far), read when this member takes the partition (over). */
  committed: (partition: number) => Promise<CommittedPosition | null>;
  /**
   * Records per second this member may write per partition it loads (the job's
   * `rateLimits.upsertRecordsPerSecond` over the topic's partitions: a partition has one owner at
   * a time, so the members together stay within the job's limit). Unset = no pacing.
   */
  partitionRecordsPerSecond?: number | undefined;
  /** How long Milvus trouble is ridden out (`RetryPolicies.sink`), and Kafka trouble (`RetryPolicies.log`). */
  policies: { sink: RetryOptions; log: RetryOptions };
  /** How often pending commits are offered to the writer again (a drained topic brings no batch to do it). */
  settleIntervalMs?: number;
  signal: AbortSignal;
  log: Logger;
  onBatch?: (info: { partition: number; loaded: number; failed: number; seconds: number; bytes: number }) => void;
  onEndOfNamespace?: (namespace: string, partition: number) => void;
}

export async function runLoader(opts: LoaderOptions): Promise<void> {
  // Stopped before it started (cancelled while getting ready): an 'abort' listener added now would
  // never fire, and the consumer would stay in the group holding partitions it never loads.
  if (opts.signal.aborted) return;
  const counts = new PartitionCounts(opts.committed, opts.policies.log);
  const commits = new PendingCommits({ ...opts, sinkPolicy: opts.policies.sink, logPolicy: opts.policies.log });
  const pacer = opts.partitionRecordsPerSecond ? new PartitionPacer(opts.partitionRecordsPerSecond) : undefined;
  let failure: unknown = null;
  const fail = (err: unknown): void => {
    failure ??= err;
    void opts.consumer.stop();
  };
  const timer = setInterval(() => {
    if (commits.size > 0) commits.settle().catch(fail);
  }, opts.settleIntervalMs ?? 500);
  const onStop = (): void => void opts.consumer.stop();
  opts.signal.addEventListener('abort', onStop, { once: true });
  try {
    await opts.consumer.run(async (batch) => {
      if (abandoned(opts, batch) || batch.messages.length === 0) return;
      const { counts: base, from } = await counts.before(batch);
      const fresh: ConsumerBatch = { ...batch, messages: batch.messages.filter((m) => BigInt(m.offset) >= from) };
      if (fresh.messages.length === 0) return; // all of it written and committed already
      // Paced, a fetched batch can hold minutes of budget: it is loaded and committed a second's
      // worth at a time, so progress (and a crash's redo) moves in steps of a second, not a fetch.
      let counted = base;
      for (const part of pacer ? pacer.parts(fresh) : [fresh]) {
        const next = await loadBatch(opts, part, structuredClone(counted), pacer);
        if (next === null) return; // abandoned: nothing more offered, the rest will be read again
        const last = part.messages[part.messages.length - 1]!;
        counts.set(batch.partition, next, (BigInt(last.offset) + 1n).toString());
        commits.offer(part, encodeCounts(next));
        await commits.settle();
        counted = next;
      }
    });
  } finally {
    clearInterval(timer);
    opts.signal.removeEventListener('abort', onStop);
  }
  if (failure !== null) throw failure;
}

function abandoned(opts: LoaderOptions, batch: ConsumerBatch): boolean {
  return opts.signal.aborted || batch.isStale();
}

/** Decode → write → DLQ for one fetched batch; the counts after it, or null when it was abandoned. */
async function loadBatch(opts: LoaderOptions, batch: ConsumerBatch, counts: LoaderCounts, pacer?: PartitionPacer): Promise<LoaderCounts | null> {
  const started = performance.now();
  // The registry down makes decoding fail retriably: ride it out like Kafka trouble.
  const { records, rejected } = await retry(() => decodeMessages(opts, batch), opts.policies.log);
  const planned = planBatches(opts.plan, records, opts.batchBytes);
  rejected.push(...planned.rejected);
  let loaded = 0;
  let bytes = 0;
  for (const b of planned.batches) {
    if (pacer && !(await pacer.pace(batch, b.records.length, opts.signal))) return null;
    if (abandoned(opts, batch)) return null;
    const sent = dedupeLastWins(opts.plan, b);
    const result = await retry(() => opts.writer.write(sent, batch.partition), opts.policies.sink);
    const refused = new Set<string>();
    for (const r of result.rejected) {
      refused.add(sent.sources[r.index]!);
      rejected.push({ record: sent.records[r.index]!, source: sent.sources[r.index]!, code: r.code, reason: r.reason });
    }
    b.records.forEach((r, i) => {
      if (refused.has(b.sources[i]!)) return;
      tally(counts, r.namespace, 'loaded');
      loaded++;
    });
    bytes += b.bytes;
    await batch.heartbeat();
  }
  if (abandoned(opts, batch)) return null;
  if (rejected.length > 0) {
    await writeDlq(opts, rejected);
    for (const r of rejected) tally(counts, r.record.namespace, 'failed');
  }
  if (abandoned(opts, batch)) return null;
  opts.onBatch?.({ partition: batch.partition, loaded, failed: rejected.length, seconds: (performance.now() - started) / 1000, bytes });
  return counts;
}

/** The batch's records; end-of-namespace markers are reported, undecodable messages become rejections. */
async function decodeMessages(opts: LoaderOptions, batch: ConsumerBatch): Promise<{ records: SourcedRecord[]; rejected: Rejection[] }> {
  const records: SourcedRecord[] = [];
  const rejected: Rejection[] = [];
  for (const message of batch.messages) {
    const source = `${batch.partition}:${message.offset}`;
    if (!message.value) continue;
    let decoded: LogRecord;
    try {
      decoded = await opts.decode(message.value);
    } catch (err) {
      if (err instanceof EtlError && err.retriable) throw err;
      const key = message.key?.toString('utf8') ?? '';
      const [namespace = '', id = key] = key.split('\u0000');
      rejected.push({
        record: { kind: 'vector', namespace, id, values: null, sparse: null, metadata: null },
        source,
        code: 'RECORD_INVALID',
        reason: `the record could not be decoded: ${errorMessage(err)}`,
      });
      continue;
    }
    if (decoded.kind === 'end') opts.onEndOfNamespace?.(decoded.namespace, batch.partition);
    else records.push({ record: decoded, source });
  }
  return { records, rejected };
}

async function writeDlq(opts: LoaderOptions, rejected: Rejection[]): Promise<void> {
  const at = new Date().toISOString();
  const messages = rejected.map((r) => {
    const entry: DlqEntry = { namespace: r.record.namespace, id: r.record.id, code: r.code, reason: r.reason, at, source: r.source };
    return { key: recordKey(r.record.namespace, r.record.id), value: Buffer.from(JSON.stringify(entry)) };
  });
  await retry(() => opts.producer.send(opts.dlqTopic, messages), opts.policies.log);
  opts.log.warn({ count: rejected.length, first: rejected[0]?.reason }, 'records sent to the dead-letter topic');
}
