import {
  CHECKPOINTS_TOPIC,
  DEFAULT_DEADLINE_MS,
  EtlError,
  JOBS_TOPIC,
  JobBoard,
  errorMessage,
  openSecrets,
  retry,
  type CollectionPlan,
  type ErrorsPage,
  type JobRecord,
  type JobService,
  type JobView,
  type LogAdmin,
  type LogClient,
  type LogConsumer,
  type LogRecord,
  type Logger,
  type MilvusTarget,
  type RetryOptions,
  type StateCodec,
  type VerificationReport,
} from '@p2m/core';
import { JobCommands } from './commands.ts';
import { JobDriver } from './driver.ts';
import { KafkaHealth } from './kafka-health.ts';
import { JobLedger } from './ledger.ts';
import { OutageFailures } from './outage.ts';
import type { SinkFactory, SourceFactory } from './planning.ts';
import { ProgressTracker } from './progress-tracker.ts';
import { setUpJob } from './setup.ts';
import { verifyJob } from './verify.ts';
import { jobView } from './view.ts';

export type { SinkFactory, SourceFactory } from './planning.ts';

/**
 * The controller's job service: the one implementation of `JobService` behind the HTTP API, the
 * CLI and the embedded run. It is assembled here from its parts: the commands the API asks for, the
 * driver that takes each job it owns through its lifecycle (`decide`), the progress tracker and the
 * Kafka health probe. Ownership is Kafka group membership on `p2m.jobs`, so two controllers never
 * drive the same job, and a controller that dies hands its jobs to another.
 */
export interface ControllerJobServiceOptions {
  log: LogClient;
  sourceFactory: SourceFactory;
  sinkFactory: SinkFactory;
  /** Decoder for the records topic (schema registry aware). */
  decode: (value: Buffer) => Promise<LogRecord>;
  /** Prepare the records topic's schema (register it) before extraction starts. */
  prepareTopic?: (topic: string) => Promise<void>;
  secretKey: string;
  logger: Logger;
  /** How job records, checkpoints and worker reports are written (Avro in the services). */
  stateCodec?: StateCodec;
  tickMs?: number;
  /** How long CANCELLING waits for workers to stop before declaring CANCELLED anyway. */
  cancelGraceMs?: number;
  /** Job topics' partitions (jobs + checkpoints state topics). */
  stateTopicPartitions?: number;
  /** Kafka may stay unreachable this long before this controller's active jobs are FAILED. */
  kafkaDeadlineMs?: number;
  /** Milvus may stay unreachable this long during verification before the job is FAILED. */
  sinkDeadlineMs?: number;
  /** Named in the error of a job failed by a Kafka outage. */
  kafkaBrokers?: string;
  onStatus?: (job: JobView) => void;
}

/** `max.message.bytes` of the jobs topic. */
const JOB_RECORD_MAX_BYTES = 32 * 1024 * 1024;
const STATE_PARTITIONS = 6;
/**
 * `segment.ms` of the state topics. Kafka compacts only segments no longer written to, and with its
 * defaults (7 days or 1 GB) a state topic's one segment held every checkpoint ever written: every
 * process start read them all (33,000 after a day of benchmarks; a checkpoint per 100 records, so
 * 1,000,000 for one 100M-record job). With a new segment every 15 minutes, a start reads the live
 * keys and at most the last quarter of an hour's writes.
 */
const STATE_SEGMENT_MS = 15 * 60 * 1000;
/** A broker that just (re)started refuses for a while ("not the leader"): a service starting then rides it out. */
const STATE_TOPICS_AT_START: RetryOptions = {
  retries: Infinity,
  deadlineMs: DEFAULT_DEADLINE_MS,
  maxDelayMs: 2_000,
  system: 'Kafka',
  exhaustedHint: 'start Kafka (P2M_KAFKA_BROKERS), then this service again',
};

export class ControllerJobService implements JobService {
  readonly board: JobBoard;
  readonly #opts: ControllerJobServiceOptions;
  readonly #logger: Logger;
  readonly #tracker: ProgressTracker;
  readonly #outages: OutageFailures;
  readonly #ledger: JobLedger;
  readonly #commands: JobCommands;
  readonly #driver: JobDriver;
  #admin: LogAdmin | null = null;
  #ownership: LogConsumer | null = null;
  #owned = new Set<number>();

  constructor(opts: ControllerJobServiceOptions) {
    this.#opts = opts;
    this.#logger = opts.logger;
    this.board = new JobBoard(opts.log, opts.stateCodec);
    this.board.on('unreadable', (info: Record<string, unknown>) => this.#logger.warn(info, 'skipped a state record this version cannot read'));
    const admin = (): LogAdmin | null => this.#admin;
    this.#tracker = new ProgressTracker({ board: this.board, admin, logger: this.#logger });
    this.#outages = new OutageFailures(this.#logger);
    this.#ledger = new JobLedger({ board: this.board, tracker: this.#tracker, logger: this.#logger, view: (r) => this.view(r), onStatus: opts.onStatus });
    const setUp = { admin: () => this.#requireAdmin(), prepareTopic: opts.prepareTopic, sinkFor: (r: JobRecord) => this.#sinkFor(r), ledger: this.#ledger };
    this.#commands = new JobCommands({
      ...setUp,
      log: opts.log,
      sourceFactory: opts.sourceFactory,
      sinkFactory: opts.sinkFactory,
      secretKey: opts.secretKey,
      tracker: this.#tracker,
      outages: this.#outages,
      logger: this.#logger,
    });
    this.#driver = new JobDriver({
      board: this.board,
      ledger: this.#ledger,
      tracker: this.#tracker,
      health: new KafkaHealth(this.#logger),
      outages: this.#outages,
      admin,
      owns: (id) => this.#owns(id),
      limits: {
        kafkaDeadlineMs: opts.kafkaDeadlineMs ?? DEFAULT_DEADLINE_MS,
        sinkDeadlineMs: opts.sinkDeadlineMs ?? DEFAULT_DEADLINE_MS,
        cancelGraceMs: opts.cancelGraceMs ?? 15_000,
      },
      kafkaBrokers: opts.kafkaBrokers ?? 'the brokers',
      setUp: (record) => setUpJob(setUp, record),
      verify: (record) => this.#verify(record),
      logger: this.#logger,
    });
  }

  /**
   * Creates the state topics when absent. Every process calls it before following the board: on a
   * new cluster an extractor or loader may well start before any controller.
   */
  async ensureStateTopics(): Promise<void> {
    const admin = this.#opts.log.admin();
    const partitions = this.#opts.stateTopicPartitions ?? STATE_PARTITIONS;
    // A job record grows with its namespaces (compressed, a few MB at 100,000): room beyond Kafka's 1 MB default.
    await retry(
      () => admin.ensureTopic({ topic: JOBS_TOPIC, partitions, compacted: true, segmentMs: STATE_SEGMENT_MS, maxMessageBytes: JOB_RECORD_MAX_BYTES }),
      STATE_TOPICS_AT_START,
    );
    await retry(() => admin.ensureTopic({ topic: CHECKPOINTS_TOPIC, partitions, compacted: true, segmentMs: STATE_SEGMENT_MS }), STATE_TOPICS_AT_START);
  }

  /** Follows the board and answers for every job; with `drive` (the default) also drives the jobs it owns. */
  async start(options: { drive?: boolean } = {}): Promise<void> {
    this.#admin = this.#opts.log.admin();
    await this.ensureStateTopics();
    await this.board.start();
    if (options.drive === false) return;
    this.#ownership = this.#opts.log.consumer({
      groupId: 'p2m.controllers',
      topics: [JOBS_TOPIC],
      fromBeginning: true,
      onAssignment: (assigned) => {
        this.#owned = new Set(assigned.filter((a) => a.topic === JOBS_TOPIC).map((a) => a.partition));
        this.#logger.info({ partitions: [...this.#owned] }, 'controller owns job partitions');
      },
    });
    // Membership only: the board already follows the topic, so batches are ignored, never committed.
    void this.#ownership.run(async () => {}).catch((err: unknown) => this.#logger.error({ err: errorMessage(err) }, 'ownership consumer stopped'));
    this.#driver.start(this.#opts.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.#driver.stop();
    this.#outages.stop();
    await this.#ownership?.stop();
    await this.board.stop();
    await this.#admin?.close();
  }

  /** One round of the driver now (tests step the lifecycle with it instead of waiting for the timer). */
  tick(): void {
    this.#driver.tick();
  }
  /** How many jobs the progress tracker keeps figures for: the active ones, however many have finished. */
  get trackedJobs(): number {
    return this.#tracker.size;
  }

  preview(input: unknown): Promise<CollectionPlan> {
    return this.#commands.preview(input);
  }

  async create(input: unknown): Promise<JobView> {
    return this.view(await this.#commands.create(input));
  }

  async list(): Promise<JobView[]> {
    const records = [...this.board.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    await Promise.all(records.map((r) => this.#tracker.measureIfUnknown(r)));
    return records.map((r) => this.view(this.board.jobs.get(r.id) ?? r));
  }

  async get(id: string): Promise<JobView> {
    const record = this.#ledger.require(id);
    await this.#tracker.measureIfUnknown(record);
    return this.view(this.board.jobs.get(id) ?? record);
  }

  async cancel(id: string): Promise<JobView> {
    return this.view(await this.#commands.cancel(id));
  }

  async resume(id: string): Promise<JobView> {
    return this.view(await this.#commands.resume(id));
  }

  async replay(id: string, options: { collection?: string | undefined }): Promise<JobView> {
    return this.view(await this.#commands.replay(id, options));
  }

  errors(id: string, page: { cursor?: string | undefined; limit?: number | undefined }): Promise<ErrorsPage> {
    return this.#commands.errors(id, page);
  }

  view(stored: JobRecord): JobView {
    const failedByOutage = this.#outages.errorOf(stored.id);
    return jobView(stored, this.#tracker.forView(stored), failedByOutage);
  }

  #owns(jobId: string): boolean {
    const partition = this.board.jobPartitions.get(jobId);
    return partition !== undefined && this.#owned.has(partition);
  }

  #requireAdmin(): LogAdmin {
    if (!this.#admin) throw new EtlError('INTERNAL', 'the controller is not started');
    return this.#admin;
  }

  #sinkFor(record: JobRecord): MilvusTarget {
    const secrets = openSecrets(record.sealedSecrets, this.#opts.secretKey);
    return this.#opts.sinkFactory({ address: record.spec.target.address, token: secrets.token });
  }

  /** Verification over the job's target, log and (for an extraction) its source. */
  async #verify(record: JobRecord): Promise<VerificationReport> {
    const secrets = openSecrets(record.sealedSecrets, this.#opts.secretKey);
    const sink = this.#sinkFor(record);
    const source = record.mode === 'extract' ? this.#opts.sourceFactory({ ...record.spec.source, apiKey: secrets.apiKey }) : null;
    try {
      return await verifyJob(
        {
          record,
          log: this.#opts.log,
          sink,
          source,
          decode: this.#opts.decode,
          sampleSize: record.spec.options.verifySampleSize,
          checkpoints: this.board.checkpoints.get(record.topicJobId),
        },
        this.#tracker.verificationListener(record.id),
      );
    } finally {
      await sink.close();
    }
  }
}
