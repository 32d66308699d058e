import { randomBytes } from 'node:crypto';
import {
  JOBS_TOPIC,
  JobBoard,
  JobWorkers,
  errorMessage,
  openSecrets,
  recordsTopic,
  type JobRecord,
  type LogClient,
  type LogConsumer,
  type LogProducer,
  type LogRecord,
  type Logger,
  type PineconeSourcePort,
  type PipelineOptions,
} from '@p2m/core';
import type { CheckpointStore } from './checkpoints.ts';
import { runExtraction } from './runtime.ts';

/**
 * An extractor process: it owns jobs through group membership on `p2m.jobs` (group
 * `p2m.extractors`), so exactly one extractor reads a job's index at a time, and a job whose
 * extractor died moves to another one, which resumes from the checkpoints.
 */
export interface ExtractorWorkerOptions {
  log: LogClient;
  board: JobBoard;
  /**
   * Makes the source of a job. A paced source (`pacedSource`) keeps the budgets it was made with —
   * the runtime's factory shares one per index across the process; any other source gets budgets
   * of its own run.
   */
  sourceFactory: (source: {
    apiKey: string;
    index: string;
    controllerHostUrl?: string | undefined;
    rateLimits?: PipelineOptions['rateLimits'] | undefined;
  }) => PineconeSourcePort;
  encodeFor: (topic: string) => Promise<(record: LogRecord) => Promise<Buffer> | Buffer>;
  secretKey: string;
  logger: Logger;
  workerId?: string;
  onExtracted?: (jobId: string, count: number) => void;
  onRetry?: (jobId: string, info: { operation: string; error: unknown }) => void;
}

export class ExtractorWorker {
  readonly workerId: string;
  private readonly opts: ExtractorWorkerOptions;
  private readonly workers: JobWorkers;
  private owned = new Set<number>();
  private membership: LogConsumer | null = null;
  private producer: LogProducer | null = null;

  constructor(opts: ExtractorWorkerOptions) {
    this.opts = opts;
    this.workerId = opts.workerId ?? `extractor-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.workers = new JobWorkers({
      role: 'extractor',
      board: opts.board,
      workerId: this.workerId,
      logger: opts.logger,
      wants: (record) => this.wants(record),
      // A job that moved to another extractor stops here; one whose namespaces are all done runs to its end.
      keeps: (record) => record.status === 'IN_PROGRESS' && this.ownsJob(record.id),
      run: (record, signal, logger) => this.extract(record, signal, logger),
    });
  }

  start(): void {
    this.producer = this.opts.log.producer();
    this.membership = this.opts.log.consumer({
      groupId: 'p2m.extractors',
      topics: [JOBS_TOPIC],
      fromBeginning: true,
      onAssignment: (assigned) => {
        this.owned = new Set(assigned.map((a) => a.partition));
        this.opts.logger.info({ partitions: [...this.owned], worker: this.workerId }, 'extractor owns job partitions');
        void this.workers.reconcile();
      },
    });
    void this.membership.run(async () => {}).catch((err: unknown) => this.opts.logger.error({ err: errorMessage(err) }, 'extractor membership stopped'));
    this.workers.start();
  }

  /** SIGTERM: stop between pages (an unacknowledged page gets no checkpoint), leave the group. */
  async stop(): Promise<void> {
    await this.workers.stop();
    await this.membership?.stop();
    await this.producer?.close();
  }

  private wants(record: JobRecord): boolean {
    const partition = this.opts.board.jobPartitions.get(record.id);
    if (partition === undefined || !this.owned.has(partition)) return false;
    if (record.status !== 'IN_PROGRESS' || record.mode !== 'extract') return false;
    const cps = this.opts.board.checkpoints.get(record.id);
    return !record.plan.source.namespaces.every((ns) => cps?.get(ns.name)?.done === true);
  }

  private ownsJob(id: string): boolean {
    const p = this.opts.board.jobPartitions.get(id);
    return p !== undefined && this.owned.has(p);
  }

  private async extract(record: JobRecord, signal: AbortSignal, logger: Logger): Promise<void> {
    const secrets = openSecrets(record.sealedSecrets, this.opts.secretKey);
    const source = this.opts.sourceFactory({ ...record.spec.source, apiKey: secrets.apiKey, rateLimits: record.spec.options.rateLimits });
    const topic = recordsTopic(record.id);
    const encode = await this.opts.encodeFor(topic);
    await this.workers.report(record, 'running');
    const published = new Map<string, number>();
    const result = await runExtraction({
      jobId: record.id,
      source,
      producer: this.producer!,
      encode,
      topic,
      topicPartitions: record.spec.options.topicPartitions,
      partitionById: record.plan.primaryKey === 'id',
      checkpoints: this.checkpointStore(),
      namespaces: record.plan.source.namespaces.map((n) => n.name),
      options: record.spec.options,
      signal,
      log: logger,
      onProgress: (ns, extracted) => {
        const before = published.get(ns) ?? extracted;
        if (extracted > before) this.opts.onExtracted?.(record.id, extracted - before);
        published.set(ns, extracted);
      },
      onVanished: (namespace, ids) =>
        logger.warn({ namespace, count: ids.length, sample: ids.slice(0, 3) }, 'ids listed but deleted at the source before fetch'),
      onRetry: (info) => this.opts.onRetry?.(record.id, info),
    });
    await this.workers.report(record, result.aborted ? 'stopped' : 'done');
  }

  /** Checkpoints through the board: loaded from its view of `p2m.checkpoints`, saved with acks. */
  private checkpointStore(): CheckpointStore {
    return {
      load: async (jobId) => new Map(this.opts.board.checkpoints.get(jobId) ?? []),
      save: (cp) => this.opts.board.putCheckpoint(cp),
      saveMany: (cps) => this.opts.board.putCheckpoints(cps),
    };
  }
}
