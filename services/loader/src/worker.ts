import { randomBytes } from 'node:crypto';
import {
  DEFAULT_DEADLINE_MS,
  JobBoard,
  JobWorkers,
  RetryPolicies,
  dlqTopic,
  loaderGroup,
  openSecrets,
  recordsTopic,
  type JobRecord,
  type LogClient,
  type LogConsumer,
  type LogRecord,
  type Logger,
  type MilvusTarget,
  type SinkWriter,
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
  sinkFactory: (target: { address: string; token?: string | undefined }) => MilvusTarget;
  decode: (value: Buffer) => Promise<LogRecord>;
  secretKey: string;
  logger: Logger;
  workerId?: string;
  /** Milvus may stay down this long before the job is failed (it can be resumed). */
  sinkDeadlineMs?: number;
  /** Kafka (and the registry) may stay down this long before the job is failed. */
  kafkaDeadlineMs?: number;
  onBatch?: (jobId: string, info: { loaded: number; failed: number; seconds: number; bytes: number }) => void;
  onRetry?: (jobId: string, error: unknown) => void;
}

/** Enough for a few hundred 768-d rows per upsert; more only delays the first write. */
const FETCH_MIN_BYTES = 1024 * 1024;
/**
 * Partitions a loader works on at once: a write to a remote Milvus waits for the network, and while
 * it does, the batches of the other partitions this member owns are decoded and written.
 */
const PARTITIONS_IN_FLIGHT = 4;

/**
 * A loader process's jobs: every job IN_PROGRESS (in any mode), as one member of its loader group.
 * The lifecycle (follow the board, abort on a new generation, report failures) is `JobWorkers`'.
 */
export class LoaderWorker {
  readonly workerId: string;
  private readonly opts: LoaderWorkerOptions;
  private readonly workers: JobWorkers;

  constructor(opts: LoaderWorkerOptions) {
    this.opts = opts;
    this.workerId = opts.workerId ?? `loader-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.workers = new JobWorkers({
      role: 'loader',
      board: opts.board,
      workerId: this.workerId,
      logger: opts.logger,
      wants: (record) => record.status === 'IN_PROGRESS',
      run: (record, signal, logger) => this.load(record, signal, logger),
    });
  }

  start(): void {
    this.workers.start();
  }

  /** SIGTERM path: stop taking work, let in-flight batches finish or be abandoned uncommitted. */
  stop(): Promise<void> {
    return this.workers.stop();
  }

  /** A member of the job's loader group; partitions it loses are forgotten by the writer. */
  private joinGroup(record: JobRecord, writer: SinkWriter): LogConsumer {
    const topic = recordsTopic(record.topicJobId);
    let owned = new Set<number>();
    return this.opts.log.consumer({
      groupId: loaderGroup(record.id),
      topics: [topic],
      fromBeginning: true,
      maxBytesPerPartition: record.spec.options.batchBytes,
      // While the topic is still being filled, wait (at most batchMaxWaitMs) for fuller batches.
      minBytes: Math.min(record.spec.options.batchBytes, FETCH_MIN_BYTES),
      maxWaitMs: record.spec.options.batchMaxWaitMs,
      partitionsConsumedConcurrently: PARTITIONS_IN_FLIGHT,
      onAssignment: (assigned) => {
        const now = new Set(assigned.filter((a) => a.topic === topic).map((a) => a.partition));
        writer.forget([...owned].filter((p) => !now.has(p)));
        owned = now;
      },
    });
  }

  private async load(record: JobRecord, signal: AbortSignal, logger: Logger): Promise<void> {
    const secrets = openSecrets(record.sealedSecrets, this.opts.secretKey);
    const target = this.opts.sinkFactory({ address: record.spec.target.address, token: secrets.token });
    // Plans made before the target was probed carry no decision: flush before commit then (safe).
    const flushBeforeCommit = record.plan.flushBeforeCommit ?? record.spec.options.flushBeforeCommit !== 'never';
    const writer = target.writer(record.plan, {
      flushBeforeCommit,
      // One line each: what was sent again and why, or which flush failed (see SinkWriterOptions).
      onDurability: (event) =>
        logger.warn(event, event.kind === 'rewrite' ? 'writes lost by the target sent again' : 'flush failed; its writes will be sent again'),
    });
    const admin = this.opts.log.admin();
    const producer = this.opts.log.producer();
    const topic = recordsTopic(record.topicJobId);
    const group = loaderGroup(record.id);
    const consumer = this.joinGroup(record, writer);
    const onRetry = ({ error }: { error: unknown }): void => this.opts.onRetry?.(record.id, error);
    try {
      logger.info({ topic, group, flushBeforeCommit }, 'loader joined the job');
      await runLoader({
        jobId: record.id,
        topic,
        dlqTopic: dlqTopic(record.id),
        plan: record.plan,
        consumer,
        producer,
        writer,
        decode: this.opts.decode,
        batchBytes: record.spec.options.batchBytes,
        ...(record.spec.options.rateLimits.upsertRecordsPerSecond
          ? { partitionRecordsPerSecond: record.spec.options.rateLimits.upsertRecordsPerSecond / record.spec.options.topicPartitions }
          : {}),
        committed: async (partition) => {
          const o = (await admin.groupOffsets(group, topic)).find((c) => c.partition === partition);
          return o ? { offset: o.offset, metadata: o.metadata ?? null } : null;
        },
        policies: {
          sink: RetryPolicies.sink(record.spec.target.address, this.opts.sinkDeadlineMs ?? DEFAULT_DEADLINE_MS, signal, onRetry),
          log: RetryPolicies.log(this.opts.kafkaDeadlineMs ?? DEFAULT_DEADLINE_MS, signal, onRetry),
        },
        signal,
        log: logger,
        onBatch: (info) => this.opts.onBatch?.(record.id, info),
      });
    } finally {
      await consumer.stop().catch(() => undefined);
      await producer.close().catch(() => undefined);
      await admin.close().catch(() => undefined);
      await target.close().catch(() => undefined);
    }
  }
}
