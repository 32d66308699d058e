import { EventEmitter } from 'node:events';
import { errorMessage } from './errors.ts';
import { checkpointKey, jsonStateCodec, type Checkpoint, type JobRecord, type StateCodec, type WorkerStatus } from './job-record.ts';
import { TERMINAL_STATUSES } from './job.ts';
import type { IncomingMessage, LogClient, LogProducer, TopicTail } from './ports.ts';
import { DEFAULT_DEADLINE_MS, retry } from './retry.ts';
import { CHECKPOINTS_TOPIC, JOBS_TOPIC } from './topics.ts';

/** A broker that just (re)started answers "not the leader" for a while: ride that out at start. */
const START_RETRY = { retries: Infinity, deadlineMs: DEFAULT_DEADLINE_MS, maxDelayMs: 2_000 };

/**
 * Every process's view of the cluster's jobs: it follows the compacted `p2m.jobs` and
 * `p2m.checkpoints` topics from the beginning, so a process restarted with SIGKILL comes back with
 * every job, its status and its checkpoints. Kafka is the only state store.
 */
export class JobBoard extends EventEmitter {
  readonly jobs = new Map<string, JobRecord>();
  /** Partition of `p2m.jobs` that holds each job: the unit of ownership. */
  readonly jobPartitions = new Map<string, number>();
  readonly checkpoints = new Map<string, Map<string, Checkpoint>>();
  readonly workers = new Map<string, Map<string, WorkerStatus>>();
  private tails: TopicTail[] = [];
  private readonly log: LogClient;
  private readonly codec: StateCodec;
  private producer: LogProducer | null = null;

  constructor(log: LogClient, codec: StateCodec = jsonStateCodec) {
    super();
    this.log = log;
    this.codec = codec;
  }

  /**
   * Resolves with a complete view: each tail resolves once it has read its topic up to where it ended
   * at the call, in one read (it used to be read to its end, then again from the beginning by the
   * tail, after the process said it had started). Checkpoints first: a job seen is then seen with its
   * checkpoints.
   */
  async start(): Promise<void> {
    this.tails.push(await retry(() => this.log.tail(CHECKPOINTS_TOPIC, (m) => this.applyCheckpoint(m)), START_RETRY));
    this.tails.push(await retry(() => this.log.tail(JOBS_TOPIC, (m) => this.applyJob(m)), START_RETRY));
  }

  async stop(): Promise<void> {
    await Promise.all(this.tails.map((t) => t.stop()));
    this.tails = [];
    await this.producer?.close();
    this.producer = null;
  }

  private getProducer(): LogProducer {
    this.producer ??= this.log.producer();
    return this.producer;
  }

  /** Write a job record and apply it locally once Kafka acknowledged it. */
  async putJob(record: JobRecord): Promise<void> {
    await this.getProducer().send(JOBS_TOPIC, [{ key: record.id, value: this.codec.encodeJob(record) }]);
    this.upsertJob(record, this.jobPartitions.get(record.id));
  }

  async putWorkerStatus(status: WorkerStatus, key: string): Promise<void> {
    await this.getProducer().send(CHECKPOINTS_TOPIC, [{ key, value: this.codec.encodeWorker(status) }]);
    this.upsertWorker(status);
  }

  /** Save an extractor checkpoint; resolves once Kafka acknowledged it. */
  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.putCheckpoints([checkpoint]);
  }

  /** Save several checkpoints in one write (many small namespaces finish together). */
  async putCheckpoints(checkpoints: Checkpoint[]): Promise<void> {
    await this.getProducer().send(
      CHECKPOINTS_TOPIC,
      checkpoints.map((cp) => ({ key: checkpointKey(cp.jobId, cp.namespace), value: this.codec.encodeCheckpoint(cp) })),
    );
    for (const cp of checkpoints) this.upsertCheckpoint(cp);
  }

  private upsertCheckpoint(cp: Checkpoint): void {
    let byNs = this.checkpoints.get(cp.jobId);
    if (!byNs) this.checkpoints.set(cp.jobId, (byNs = new Map()));
    byNs.set(cp.namespace, cp);
    this.emit('checkpoint', cp);
  }

  private upsertJob(incoming: JobRecord, partition: number | undefined): void {
    const prev = this.jobs.get(incoming.id);
    // Kafka delivers in order per key, but a local put may race its own echo: keep the newest,
    // with any cancel request either of them carries.
    const record = prev ? mergeJob(prev, incoming) : incoming;
    if (record === prev) return;
    this.jobs.set(record.id, record);
    if (partition !== undefined) this.jobPartitions.set(record.id, partition);
    this.emit('job', record, prev);
  }

  private upsertWorker(status: WorkerStatus): void {
    let byWorker = this.workers.get(status.jobId);
    if (!byWorker) this.workers.set(status.jobId, (byWorker = new Map()));
    byWorker.set(`${status.role}/${status.workerId}`, status);
    this.emit('worker', status);
  }

  /**
   * A value this version cannot read (written by something else, or by a newer, incompatible
   * version) is skipped and reported, never allowed to stop the process that follows the topic.
   */
  private unreadable(m: IncomingMessage, err: unknown): void {
    this.emit('unreadable', { topic: m.topic, partition: m.partition, offset: m.offset, key: m.key?.toString('utf8'), error: errorMessage(err) });
  }

  private applyJob(m: IncomingMessage): void {
    try {
      this.applyJobValue(m);
    } catch (err) {
      this.unreadable(m, err);
    }
  }

  private applyJobValue(m: IncomingMessage): void {
    if (!m.value) {
      const id = m.key?.toString('utf8');
      if (id) this.jobs.delete(id);
      return;
    }
    this.upsertJob(this.codec.decodeJob(m.value), m.partition);
  }

  private applyCheckpoint(m: IncomingMessage): void {
    const key = m.key?.toString('utf8') ?? '';
    if (!m.value) return;
    try {
      if (key.startsWith('extract/')) this.upsertCheckpoint(this.codec.decodeCheckpoint(m.value));
      else if (key.startsWith('worker/')) this.upsertWorker(this.codec.decodeWorker(m.value));
    } catch (err) {
      this.unreadable(m, err);
    }
  }
}

/**
 * Two writes of one job record, the newer (`updatedAt`) winning — except that a cancel request is
 * never lost to a write that did not see it. Any controller writes CANCELLING when asked (the API
 * answers wherever it is called), while the job's owner writes its own changes from the record it
 * last read: the two race, and the owner's write can be the newer one. Within a run (`generation`;
 * resume and replay start a new one), a cancel request stays on the record until the job ends:
 * the newer record keeps it, CANCELLING unless it already is terminal. The result does not depend
 * on the order the two writes arrive in, so every board agrees.
 */
export function mergeJob(prev: JobRecord, incoming: JobRecord): JobRecord {
  const [older, newer] = prev.updatedAt > incoming.updatedAt ? [incoming, prev] : [prev, incoming];
  const cancel = older.cancelRequestedAt;
  if (cancel === undefined || newer.cancelRequestedAt !== undefined || older.generation !== newer.generation) return newer;
  if (TERMINAL_STATUSES.has(newer.status) || newer.status === 'CANCELLING') return newer;
  return { ...newer, status: 'CANCELLING', cancelRequestedAt: cancel };
}
