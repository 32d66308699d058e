import { randomBytes } from 'node:crypto';
import {
  JobBoard,
  dlqTopic,
  errorMessage,
  loaderGroup,
  openSecrets,
  recordsTopic,
  retry,
  workerStatusKey,
  type JobRecord,
  type LogClient,
  type LogRecord,
  type Logger,
  type MilvusSinkPort,
} from '@p2m/core';
import { runLoader } from './runtime.ts';

/**
 * A loader process: it follows the job board and, for every job IN_PROGRESS, joins that job's
 * consumer group (`p2m.loader.<jobId>`) on its records topic. More processes = more members =
 * more partitions loaded at once, up to the topic's partition count.
 */
export interface LoaderWorkerOptions {
  log: LogClient;
  board: JobBoard;
  sinkFactory: (target: { address: string; token?: string | undefined }) => MilvusSinkPort;
  decode: (value: Buffer) => Promise<LogRecord>;
  secretKey: string;
  logger: Logger;
  workerId?: string;
  /** Milvus may stay down this long before the job is failed (it can be resumed). */
  sinkDeadlineMs?: number;
  onBatch?: (jobId: string, info: { loaded: number; failed: number; seconds: number; bytes: number }) => void;
  onRetry?: (jobId: string, error: unknown) => void;
}

/** Enough for a few hundred 768-d rows per upsert; more only delays the first write. */
const FETCH_MIN_BYTES = 1024 * 1024;

interface Running {
  generation: number;
  abort: AbortController;
  done: Promise<void>;
}

export class LoaderWorker {
  readonly workerId: string;
  private readonly opts: LoaderWorkerOptions;
  private readonly running = new Map<string, Running>();
  private readonly onJob = (): void => void this.reconcile();
  private stopped = false;

  constructor(opts: LoaderWorkerOptions) {
    this.opts = opts;
    this.workerId = opts.workerId ?? `loader-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  start(): void {
    this.opts.board.on('job', this.onJob);
    void this.reconcile();
  }

  /** SIGTERM path: stop taking work, let in-flight batches finish or be abandoned uncommitted. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.board.off('job', this.onJob);
    const all = [...this.running.values()];
    for (const r of all) r.abort.abort();
    await Promise.allSettled(all.map((r) => r.done));
    this.running.clear();
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    for (const record of this.opts.board.jobs.values()) {
      const current = this.running.get(record.id);
      const wanted = record.status === 'IN_PROGRESS';
      if (current && (!wanted || current.generation !== record.generation)) {
        current.abort.abort();
        this.running.delete(record.id);
        await current.done.catch(() => undefined);
      }
      if (wanted && !this.running.has(record.id)) this.launch(record);
    }
  }

  private launch(record: JobRecord): void {
    const abort = new AbortController();
    const logger = this.opts.logger.child({ jobId: record.id, worker: this.workerId });
    const done = this.load(record, abort.signal, logger).catch(async (err: unknown) => {
      if (abort.signal.aborted) return;
      logger.error({ err: errorMessage(err) }, 'loading failed');
      const code = (err as { code?: string }).code ?? 'INTERNAL';
      // The job's error is what a user sees first: say which system is down and what to do.
      const message =
        code === 'TARGET_UNAVAILABLE' && (err as { retriable?: boolean }).retriable === true
          ? `Milvus (${record.spec.target.address}) stayed unreachable past the sink deadline (P2M_SINK_DEADLINE_MS=${this.opts.sinkDeadlineMs ?? 120_000} ms): ${errorMessage(err)}; once Milvus is back, resume the job`
          : errorMessage(err);
      await this.report(record, 'failed', { code, message }).catch(() => undefined);
    });
    this.running.set(record.id, { generation: record.generation, abort, done });
  }

  private async load(record: JobRecord, signal: AbortSignal, logger: Logger): Promise<void> {
    const secrets = openSecrets(record.sealedSecrets, this.opts.secretKey);
    const sink = this.opts.sinkFactory({ address: record.spec.target.address, token: secrets.token });
    const admin = this.opts.log.admin();
    const producer = this.opts.log.producer();
    const topic = recordsTopic(record.topicJobId);
    const group = loaderGroup(record.id);
    const consumer = this.opts.log.consumer({
      groupId: group,
      topics: [topic],
      fromBeginning: true,
      maxBytesPerPartition: record.spec.options.batchBytes,
      // While the topic is still being filled, wait (at most batchMaxWaitMs) for fuller batches.
      minBytes: Math.min(record.spec.options.batchBytes, FETCH_MIN_BYTES),
      maxWaitMs: record.spec.options.batchMaxWaitMs,
    });
    try {
      const mode = record.spec.options.flushBeforeCommit ?? 'auto';
      const flushBeforeCommit =
        mode === 'always' ||
        (mode === 'auto' &&
          !(await retry(() => sink.persistsAcknowledgedWrites(), { retries: Infinity, deadlineMs: this.opts.sinkDeadlineMs ?? 120_000, signal, maxDelayMs: 5_000 })));
      if (signal.aborted) return;
      logger.info({ topic, group, flushBeforeCommit }, 'loader joined the job');
      await runLoader({
        jobId: record.id,
        topic,
        dlqTopic: dlqTopic(record.id),
        plan: record.plan,
        consumer,
        producer,
        sink,
        decode: this.opts.decode,
        batchBytes: record.spec.options.batchBytes,
        flushBeforeCommit,
        ...(record.spec.options.rateLimits.upsertRecordsPerSecond
          ? { partitionRecordsPerSecond: record.spec.options.rateLimits.upsertRecordsPerSecond / record.spec.options.topicPartitions }
          : {}),
        committedMetadata: async (partition) => (await admin.groupOffsets(group, topic)).find((o) => o.partition === partition)?.metadata ?? null,
        sinkDeadlineMs: this.opts.sinkDeadlineMs ?? 120_000,
        signal,
        log: logger,
        onBatch: (info) => this.opts.onBatch?.(record.id, info),
        onRetry: (error) => this.opts.onRetry?.(record.id, error),
      });
    } finally {
      await consumer.stop().catch(() => undefined);
      await producer.close().catch(() => undefined);
      await admin.close().catch(() => undefined);
      await sink.close().catch(() => undefined);
    }
  }

  private async report(record: JobRecord, state: 'failed', error: { code: string; message: string }): Promise<void> {
    const status = { jobId: record.id, role: 'loader' as const, workerId: this.workerId, generation: record.generation, state, error, at: new Date().toISOString() };
    await this.opts.board.putWorkerStatus(status, workerStatusKey(status));
  }
}
