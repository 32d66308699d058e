import { EventEmitter } from 'node:events';
import { decodeJson, encodeJson, type JobRecord, type WorkerStatus } from './job-record.ts';
import type { IncomingMessage, LogClient, LogProducer, TopicTail } from './ports.ts';
import { CHECKPOINTS_TOPIC, JOBS_TOPIC } from './topics.ts';

/**
 * Every process's view of the cluster's jobs: it follows the compacted `p2m.jobs` and
 * `p2m.checkpoints` topics from the beginning, so a process restarted with SIGKILL comes back with
 * every job, its status and its checkpoints. Kafka is the only state store.
 */
export interface ExtractCheckpoint {
  jobId: string;
  namespace: string;
  paginationToken: string | null;
  recordsPublished: number;
  pages: number;
  done: boolean;
  generation?: number;
  updatedAt?: string;
}

export class JobBoard extends EventEmitter {
  readonly jobs = new Map<string, JobRecord>();
  /** Partition of `p2m.jobs` that holds each job: the unit of ownership. */
  readonly jobPartitions = new Map<string, number>();
  readonly checkpoints = new Map<string, Map<string, ExtractCheckpoint>>();
  readonly workers = new Map<string, Map<string, WorkerStatus>>();
  private tails: TopicTail[] = [];
  private readonly log: LogClient;
  private producer: LogProducer | null = null;

  constructor(log: LogClient) {
    super();
    this.log = log;
  }

  async start(): Promise<void> {
    // Replay what exists synchronously first, so callers start from a complete view.
    for (const m of await this.log.readTopicToEnd(JOBS_TOPIC)) this.applyJob(m);
    for (const m of await this.log.readTopicToEnd(CHECKPOINTS_TOPIC)) this.applyCheckpoint(m);
    this.tails.push(await this.log.tail(JOBS_TOPIC, (m) => this.applyJob(m)));
    this.tails.push(await this.log.tail(CHECKPOINTS_TOPIC, (m) => this.applyCheckpoint(m)));
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
    await this.getProducer().send(JOBS_TOPIC, [{ key: record.id, value: encodeJson(record) }]);
    this.upsertJob(record, this.jobPartitions.get(record.id));
  }

  async putWorkerStatus(status: WorkerStatus, key: string): Promise<void> {
    await this.getProducer().send(CHECKPOINTS_TOPIC, [{ key, value: encodeJson(status) }]);
    this.upsertWorker(status);
  }

  private upsertJob(record: JobRecord, partition: number | undefined): void {
    const prev = this.jobs.get(record.id);
    // Kafka delivers in order per key, but a local put may race its own echo: keep the newest.
    if (prev && prev.updatedAt > record.updatedAt) return;
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

  private applyJob(m: IncomingMessage): void {
    const record = decodeJson<JobRecord>(m.value);
    if (!record) {
      const id = m.key?.toString('utf8');
      if (id) this.jobs.delete(id);
      return;
    }
    this.upsertJob(record, m.partition);
  }

  private applyCheckpoint(m: IncomingMessage): void {
    const key = m.key?.toString('utf8') ?? '';
    if (key.startsWith('extract/')) {
      const cp = decodeJson<ExtractCheckpoint>(m.value);
      if (!cp) return;
      let byNs = this.checkpoints.get(cp.jobId);
      if (!byNs) this.checkpoints.set(cp.jobId, (byNs = new Map()));
      byNs.set(cp.namespace, cp);
      this.emit('checkpoint', cp);
    } else if (key.startsWith('worker/')) {
      const status = decodeJson<WorkerStatus>(m.value);
      if (status) this.upsertWorker(status);
    }
  }
}
