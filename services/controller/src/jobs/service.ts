import { randomBytes } from 'node:crypto';
import {
  ACTIVE_STATUSES,
  EtlError,
  JobBoard,
  JOBS_TOPIC,
  CHECKPOINTS_TOPIC,
  TERMINAL_STATUSES,
  canTransition,
  dlqTopic,
  emptyProgress,
  errorMessage,
  isRetriable,
  loaderGroup,
  openSecrets,
  parseJobSpec,
  planCollection,
  recordsTopic,
  redactSpec,
  retry,
  RetryPolicies,
  sealSecrets,
  type CollectionPlan,
  type DlqEntry,
  type ErrorsPage,
  type JobError,
  type JobProgress,
  type JobRecord,
  type JobService,
  type JobSpec,
  type JobStatus,
  type JobView,
  type LogAdmin,
  type LogClient,
  type LogConsumer,
  type LogRecord,
  type Logger,
  type MilvusTarget,
  type TargetCapabilities,
  type PineconeSourcePort,
  type VerificationProgress,
  type StateCodec,
} from '@p2m/core';
import { computeProgress, RateWindow, settleProgress, type OffsetsSnapshot } from './progress.ts';
import { verifyJob } from './verify.ts';

/**
 * The controller's job service: the one implementation of `JobService` behind the HTTP API, the
 * CLI and the embedded run. It plans and creates, then drives each job it owns through its
 * lifecycle. Ownership is Kafka group membership on `p2m.jobs`, so two controllers never drive the
 * same job, and a controller that dies hands its jobs to another.
 */
export interface SourceFactory {
  (source: { apiKey: string; index: string; controllerHostUrl?: string | undefined }): PineconeSourcePort;
}
export interface SinkFactory {
  (target: { address: string; token?: string | undefined }): MilvusTarget;
}

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
  /** Kafka may stay unreachable this long before this controller's active jobs are FAILED (default 120 s). */
  kafkaDeadlineMs?: number;
  /** Milvus may stay unreachable this long during verification before the job is FAILED (default 120 s). */
  sinkDeadlineMs?: number;
  /** Named in the error of a job failed by a Kafka outage. */
  kafkaBrokers?: string;
  onStatus?: (job: JobView) => void;
}

const STATE_PARTITIONS = 6;

export class ControllerJobService implements JobService {
  readonly board: JobBoard;
  private readonly opts: ControllerJobServiceOptions;
  private readonly logger: Logger;
  private admin: LogAdmin | null = null;
  private ownership: LogConsumer | null = null;
  private owned = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly progress = new Map<string, JobProgress>();
  private readonly rates = new Map<string, RateWindow>();
  private readonly busy = new Set<string>();
  private ticking = false;
  /** When Kafka stopped answering this controller (ms since epoch); null while it answers. */
  private kafkaDownSince: number | null = null;
  private probing = false;
  /**
   * Jobs failed by a Kafka outage: FAILED is what the API shows at once, while the record saying
   * so waits for Kafka to come back (it is written then, and only then can the job be resumed).
   */
  private readonly outage = new Map<string, { error: JobError; written: Promise<void> }>();
  /** Since when verification of a job has found Milvus unreachable. */
  private readonly verifyTroubleSince = new Map<string, number>();
  /** The latest phase report of each job this controller verifies (the view shows it while VERIFYING). */
  private readonly verifying = new Map<string, VerificationProgress>();

  constructor(opts: ControllerJobServiceOptions) {
    this.opts = opts;
    this.logger = opts.logger;
    this.board = new JobBoard(opts.log, opts.stateCodec);
    this.board.on('unreadable', (info: Record<string, unknown>) => this.logger.warn(info, 'skipped a state record this version cannot read'));
  }

  /**
   * Creates the state topics when absent. Every process calls it before following the board: on a
   * new cluster an extractor or loader may well start before any controller.
   */
  async ensureStateTopics(): Promise<void> {
    const admin = this.opts.log.admin();
    const partitions = this.opts.stateTopicPartitions ?? STATE_PARTITIONS;
    // A broker that just (re)started refuses for a while ("not the leader"): a service starting
    // then rides it out instead of exiting.
    const again = { retries: Infinity, deadlineMs: 120_000, maxDelayMs: 2_000 };
    await retry(() => admin.ensureTopic({ topic: JOBS_TOPIC, partitions, compacted: true }), again);
    await retry(() => admin.ensureTopic({ topic: CHECKPOINTS_TOPIC, partitions, compacted: true }), again);
  }

  async start(): Promise<void> {
    this.admin = this.opts.log.admin();
    await this.ensureStateTopics();
    await this.board.start();
    this.ownership = this.opts.log.consumer({
      groupId: 'p2m.controllers',
      topics: [JOBS_TOPIC],
      fromBeginning: true,
      onAssignment: (assigned) => {
        this.owned = new Set(assigned.filter((a) => a.topic === JOBS_TOPIC).map((a) => a.partition));
        this.logger.info({ partitions: [...this.owned] }, 'controller owns job partitions');
      },
    });
    // Membership only: the board already follows the topic, so batches are ignored, never committed.
    void this.ownership.run(async () => {}).catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'ownership consumer stopped'));
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ownership?.stop();
    await this.board.stop();
    await this.admin?.close();
  }

  // ------------------------------------------------------------------ JobService

  async preview(input: unknown): Promise<CollectionPlan> {
    const spec = parseJobSpec(input);
    return (await this.planFor(spec)).plan;
  }

  async create(input: unknown): Promise<JobView> {
    const spec = parseJobSpec(input);
    const { plan } = await this.planFor(spec);
    await this.refuseExistingCollection(spec, plan.collection);
    const now = new Date().toISOString();
    const id = newJobId();
    const record: JobRecord = {
      id,
      status: 'PENDING',
      createdAt: now,
      updatedAt: now,
      generation: 1,
      mode: 'extract',
      topicJobId: id,
      spec: redactSpec(spec),
      sealedSecrets: sealSecrets({ apiKey: spec.source.apiKey, token: spec.target.token }, this.opts.secretKey),
      plan,
    };
    await this.board.putJob(record);
    this.logger.info({ jobId: id, collection: plan.collection, records: plan.source.totalRecords }, 'job created');
    // Set up now so the caller sees IN_PROGRESS. Broker or Milvus trouble is retried for a while;
    // if it lasts, the job stays PENDING and its owner finishes the set-up once they are back.
    try {
      await retry(() => this.setup(this.board.jobs.get(id) ?? record), { retries: 6, deadlineMs: 30_000, maxDelayMs: 5_000 });
    } catch (err) {
      if (!isRetriable(err)) {
        await this.finish(this.board.jobs.get(id) ?? record, 'FAILED', { error: { code: (err as EtlError).code ?? 'INTERNAL', message: errorMessage(err), at: 'set-up' } });
        throw err;
      }
      this.logger.warn({ jobId: id, err: errorMessage(err) }, 'set-up postponed: the job stays PENDING until Kafka and Milvus answer');
    }
    return this.view(this.board.jobs.get(id) ?? record);
  }

  async list(): Promise<JobView[]> {
    const records = [...this.board.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    await Promise.all(records.map((r) => this.measureIfUnknown(r)));
    return records.map((r) => this.view(this.board.jobs.get(r.id) ?? r));
  }

  async get(id: string): Promise<JobView> {
    const record = this.requireJob(id);
    await this.measureIfUnknown(record);
    return this.view(this.board.jobs.get(id) ?? record);
  }

  async cancel(id: string): Promise<JobView> {
    const record = this.requireJob(id);
    if (record.status === 'CANCELLING' || record.status === 'CANCELLED') return this.view(record);
    if (TERMINAL_STATUSES.has(record.status)) {
      throw new EtlError('JOB_STATE', `job ${id} is ${record.status} and cannot be cancelled`, { hint: 'only active jobs can be cancelled' });
    }
    const now = new Date().toISOString();
    return this.view(await this.transition(record, 'CANCELLING', { cancelRequestedAt: now }));
  }

  async resume(id: string): Promise<JobView> {
    const pending = this.outage.get(id);
    if (pending) {
      // FAILED by a Kafka outage: the record saying so lands once Kafka is back; resume after it.
      const landed = await Promise.race([pending.written.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
      if (!landed) throw new EtlError('LOG_UNAVAILABLE', `job ${id} failed because Kafka is unreachable; resume it once Kafka is back`, { hint: 'start Kafka again, then resume' });
    }
    const record = this.requireJob(id);
    if (record.status !== 'FAILED' && record.status !== 'CANCELLED') {
      throw new EtlError('JOB_STATE', `job ${id} is ${record.status}; only FAILED or CANCELLED jobs can be resumed`);
    }
    const next = await this.transition(record, 'IN_PROGRESS', { generation: record.generation + 1, error: undefined, report: undefined, finalProgress: undefined, cancelRequestedAt: undefined });
    this.rates.get(id)?.reset();
    return this.view(next);
  }

  async replay(id: string, options: { collection?: string | undefined }): Promise<JobView> {
    const record = this.requireJob(id);
    if (!TERMINAL_STATUSES.has(record.status)) {
      throw new EtlError('JOB_STATE', `job ${id} is ${record.status}; cancel it or let it finish before replaying`);
    }
    const secrets = openSecrets(record.sealedSecrets, this.opts.secretKey);
    let plan = record.plan;
    let spec = record.spec;
    if (options.collection && options.collection !== record.plan.collection) {
      const full: JobSpec = parseJobSpec({ ...spec, source: { ...spec.source, apiKey: secrets.apiKey }, target: { ...spec.target, token: secrets.token, collection: options.collection } });
      await this.refuseExistingCollection(full, options.collection);
      plan = { ...plan, collection: options.collection };
      spec = redactSpec(full);
    }
    const admin = this.requireAdmin();
    if ((await admin.groupMemberCount(loaderGroup(id))) > 0) {
      throw new EtlError('JOB_STATE', `loaders of job ${id} are still running; wait until they stopped and replay again`);
    }
    await admin.resetGroupOffsets(loaderGroup(id), recordsTopic(record.topicJobId));
    const sink = this.sinkFor(record);
    try {
      if (!(await sink.collectionExists(plan.collection))) await sink.createCollection(plan);
    } finally {
      await sink.close();
    }
    this.rates.get(id)?.reset();
    const next = await this.transition(record, 'IN_PROGRESS', {
      mode: 'replay',
      generation: record.generation + 1,
      plan,
      spec,
      error: undefined,
      report: undefined,
      finalProgress: undefined,
      cancelRequestedAt: undefined,
    });
    this.logger.info({ jobId: id, collection: plan.collection }, 'replaying the job log');
    return this.view(next);
  }

  async errors(id: string, page: { cursor?: string | undefined; limit?: number | undefined }): Promise<ErrorsPage> {
    this.requireJob(id);
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 1000);
    const start = page.cursor ? Number.parseInt(page.cursor, 10) : 0;
    if (!Number.isInteger(start) || start < 0) throw new EtlError('SPEC_INVALID', 'cursor must be a cursor returned by a previous page', { field: 'cursor' });
    // A record refused again (by a replay, or a batch redelivered after a crash) is listed once,
    // with its latest reason: the same accounting as the verification report and the progress.
    const byRecord = new Map<string, DlqEntry>();
    if (await this.requireAdmin().topicExists(dlqTopic(id))) {
      await this.opts.log.scanToEnd(dlqTopic(id), (m) => {
        if (!m.value) return;
        const entry = JSON.parse(m.value.toString('utf8')) as DlqEntry;
        byRecord.set(`${entry.namespace}\u0000${entry.id}`, entry);
      });
    }
    const total = byRecord.size;
    const entries = [...byRecord.values()].slice(start, start + limit);
    return { entries, total, next: start + entries.length < total ? String(start + entries.length) : null };
  }

  // ------------------------------------------------------------------ planning and setup

  private async planFor(spec: JobSpec): Promise<{ plan: CollectionPlan }> {
    const source = this.opts.sourceFactory(spec.source);
    // A 429 or 5xx from the source must not refuse the job: retry it (bounded, the caller waits).
    // Permanent answers (401, 404, a pod index) are not retriable and fail at once.
    const { index, namespaces } = await retry(async () => ({ index: await source.describeIndex(), namespaces: await source.listNamespaces() }), RetryPolicies.planning('Pinecone'));
    // What the target can do, asked of it: the plan refuses here what it cannot hold.
    const target = this.opts.sinkFactory(spec.target);
    let capabilities: TargetCapabilities;
    try {
      capabilities = await retry(() => target.capabilities(), RetryPolicies.planning(`Milvus (${spec.target.address})`));
    } finally {
      await target.close();
    }
    const plan = planCollection({ spec, index, namespaces, capabilities });
    if (spec.source.namespaces) {
      const known = new Set(namespaces.map((n) => n.name));
      const unknown = plan.source.namespaces.filter((n) => !known.has(n.name)).map((n) => n.name);
      if (unknown.length > 0) {
        throw new EtlError('SPEC_INVALID', `namespaces ${unknown.map((n) => JSON.stringify(n)).join(', ')} do not exist in index "${index.name}"`, {
          field: 'source.namespaces',
          hint: 'list only namespaces the index has, or leave source.namespaces out to migrate all',
        });
      }
    }
    return { plan };
  }

  private async refuseExistingCollection(spec: JobSpec, collection: string): Promise<void> {
    const sink = this.opts.sinkFactory(spec.target);
    try {
      if (await sink.collectionExists(collection)) {
        throw new EtlError('TARGET_COLLECTION_EXISTS', `collection "${collection}" already exists in the target`, {
          field: 'target.collection',
          hint: 'choose another collection name (target.collection); p2m never writes into a collection it did not create',
        });
      }
    } finally {
      await sink.close();
    }
  }

  /** PENDING → IN_PROGRESS: topics and the collection exist. Idempotent, so an owner can redo it. */
  private async setup(record: JobRecord): Promise<void> {
    const admin = this.requireAdmin();
    await admin.ensureTopic({ topic: recordsTopic(record.id), partitions: record.spec.options.topicPartitions, retentionMs: -1 });
    await admin.ensureTopic({ topic: dlqTopic(record.id), partitions: 1, retentionMs: -1 });
    await this.opts.prepareTopic?.(recordsTopic(record.id));
    const sink = this.sinkFor(record);
    try {
      if (!(await sink.collectionExists(record.plan.collection))) await sink.createCollection(record.plan);
    } finally {
      await sink.close();
    }
    const current = this.board.jobs.get(record.id) ?? record;
    if (current.status === 'PENDING') await this.transition(current, 'IN_PROGRESS');
  }

  // ------------------------------------------------------------------ driving

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    void this.probeKafka();
    try {
      for (const record of this.board.jobs.values()) {
        if (!ACTIVE_STATUSES.has(record.status) || this.outage.has(record.id)) continue;
        const partition = this.board.jobPartitions.get(record.id);
        const owned = partition !== undefined && this.owned.has(partition);
        if (this.busy.has(record.id)) continue;
        this.busy.add(record.id);
        // Any controller answers for every job: the ones another controller drives (or that this
        // one is about to own after a restart) are measured too, just not driven.
        void (owned ? this.drive(record) : this.refreshProgress(record))
          .catch((err: unknown) => this.logger.warn({ jobId: record.id, err: errorMessage(err) }, owned ? 'driving the job failed; will retry' : 'measuring the job failed; will retry'))
          .finally(() => this.busy.delete(record.id));
      }
    } finally {
      this.ticking = false;
    }
  }

  private async drive(record: JobRecord): Promise<void> {
    switch (record.status) {
      case 'PENDING':
        await this.setup(record);
        return;
      case 'IN_PROGRESS': {
        const failure = this.workerFailure(record);
        if (failure) {
          await this.finish(record, 'FAILED', { error: failure });
          return;
        }
        const progress = await this.refreshProgress(record);
        if (this.loadComplete(record, progress)) await this.transition(record, 'VERIFYING');
        return;
      }
      case 'VERIFYING':
        try {
          await this.verify(record);
          this.verifyTroubleSince.delete(record.id);
        } catch (err) {
          // Milvus (or the source) down during verification: retried every tick, up to the sink
          // deadline; then the job FAILs naming the cause, and resume verifies again.
          if (!isRetriable(err)) throw err;
          const since = this.verifyTroubleSince.get(record.id) ?? Date.now();
          this.verifyTroubleSince.set(record.id, since);
          const deadline = this.opts.sinkDeadlineMs ?? 120_000;
          if (Date.now() - since <= deadline) throw err;
          this.verifyTroubleSince.delete(record.id);
          const code = (err as EtlError).code ?? 'TRANSIENT';
          const what = code === 'TARGET_UNAVAILABLE' ? `Milvus (${record.spec.target.address})` : 'a system verification needs';
          await this.finish(record, 'FAILED', {
            error: { code, message: `${what} stayed unreachable during verification past the deadline (P2M_SINK_DEADLINE_MS=${deadline} ms): ${errorMessage(err)}; once it is back, resume the job`, at: 'verification' },
          });
        }
        return;
      case 'CANCELLING': {
        await this.refreshProgress(record);
        const requested = Date.parse(record.cancelRequestedAt ?? record.updatedAt);
        const loadersGone = (await this.requireAdmin().groupMemberCount(loaderGroup(record.id))) === 0;
        const extractorRunning = [...(this.board.workers.get(record.id)?.values() ?? [])].some((w) => w.role === 'extractor' && w.generation === record.generation && w.state === 'running');
        const overdue = Date.now() - requested > (this.opts.cancelGraceMs ?? 15_000);
        if ((loadersGone && !extractorRunning) || overdue) {
          if (overdue) this.logger.warn({ jobId: record.id }, 'workers did not confirm the stop in time; marking the job CANCELLED');
          await this.finish(record, 'CANCELLED', {});
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * Asks Kafka something cheap on every tick. When it has not answered for longer than the Kafka
   * deadline, the active jobs this controller drives are FAILED with a cause naming Kafka: shown by
   * the API at once, written to the job records once Kafka is back, then resume finishes them.
   */
  private async probeKafka(): Promise<void> {
    if (this.probing || !this.admin) return;
    this.probing = true;
    const asked = Date.now();
    try {
      await this.admin.topicOffsets(JOBS_TOPIC);
      if (this.kafkaDownSince !== null) this.logger.info({ downSeconds: Math.round((Date.now() - this.kafkaDownSince) / 1000) }, 'Kafka answers again');
      this.kafkaDownSince = null;
    } catch (err) {
      if (this.kafkaDownSince === null) {
        this.kafkaDownSince = asked;
        this.logger.warn({ err: errorMessage(err) }, 'Kafka does not answer');
      }
      const deadline = this.opts.kafkaDeadlineMs ?? 120_000;
      if (Date.now() - this.kafkaDownSince > deadline) this.failForKafkaOutage(err, deadline);
    } finally {
      this.probing = false;
    }
  }

  private failForKafkaOutage(cause: unknown, deadlineMs: number): void {
    for (const record of this.board.jobs.values()) {
      if (!ACTIVE_STATUSES.has(record.status) || this.outage.has(record.id)) continue;
      const partition = this.board.jobPartitions.get(record.id);
      if (partition === undefined || !this.owned.has(partition)) continue;
      const error: JobError = {
        code: 'LOG_UNAVAILABLE',
        message: `Kafka (${this.opts.kafkaBrokers ?? 'the brokers'}) stayed unreachable past the deadline (P2M_KAFKA_DEADLINE_MS=${deadlineMs} ms): ${errorMessage(cause)}; once Kafka is back, resume the job`,
        at: 'kafka',
      };
      this.logger.error({ jobId: record.id, err: error.message }, 'job FAILED: Kafka unreachable past the deadline');
      const written = retry(
        async () => {
          const current = this.board.jobs.get(record.id) ?? record;
          if (ACTIVE_STATUSES.has(current.status)) await this.finish(current, 'FAILED', { error });
        },
        {
          retries: Infinity,
          initialDelayMs: 1_000,
          maxDelayMs: 5_000,
          shouldRetry: () => this.timer !== null,
        },
      )
        .catch((err: unknown) => this.logger.warn({ jobId: record.id, err: errorMessage(err) }, 'could not record the Kafka outage failure'))
        .finally(() => this.outage.delete(record.id));
      this.outage.set(record.id, { error, written });
    }
  }

  private workerFailure(record: JobRecord): JobError | null {
    for (const w of this.board.workers.get(record.id)?.values() ?? []) {
      if (w.generation === record.generation && w.state === 'failed') {
        return { code: w.error?.code ?? 'INTERNAL', message: `${w.role} ${w.workerId}: ${w.error?.message ?? 'failed'}`, at: w.error?.at };
      }
    }
    return null;
  }

  private loadComplete(record: JobRecord, progress: JobProgress): boolean {
    if (progress.consumerLag !== 0) return false;
    if (record.mode === 'replay') return true;
    const cps = this.board.checkpoints.get(record.topicJobId);
    return record.plan.source.namespaces.every((ns) => cps?.get(ns.name)?.done === true);
  }

  private async refreshProgress(record: JobRecord): Promise<JobProgress> {
    const admin = this.requireAdmin();
    let offsets: OffsetsSnapshot | null = null;
    try {
      const topic = recordsTopic(record.topicJobId);
      const [high, committed] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(loaderGroup(record.id), topic)]);
      offsets = { high, committed };
    } catch (err) {
      this.logger.debug({ jobId: record.id, err: errorMessage(err) }, 'offsets unavailable');
    }
    let rate = this.rates.get(record.id);
    if (!rate) this.rates.set(record.id, (rate = new RateWindow()));
    const progress = computeProgress(record, this.board.checkpoints.get(record.topicJobId), offsets, rate);
    if (record.mode === 'replay') {
      // A replay reads the log, not the source: what was extracted is the whole job.
      progress.etaSeconds = progress.consumerLag === 0 ? 0 : progress.recordsPerSecond > 0 ? Math.round(progress.consumerLag / progress.recordsPerSecond) : null;
    }
    this.progress.set(record.id, progress);
    return progress;
  }

  private async verify(record: JobRecord): Promise<void> {
    const secrets = openSecrets(record.sealedSecrets, this.opts.secretKey);
    const sink = this.opts.sinkFactory({ address: record.spec.target.address, token: secrets.token });
    const source = record.mode === 'extract' ? this.opts.sourceFactory({ ...record.spec.source, apiKey: secrets.apiKey }) : null;
    try {
      const progress = await this.refreshProgress(record);
      const report = await verifyJob(
        { record, log: this.opts.log, sink, source, decode: this.opts.decode, sampleSize: record.spec.options.verifySampleSize, checkpoints: this.board.checkpoints.get(record.topicJobId) },
        (phase) => this.verifying.set(record.id, phase),
      );
      const finalProgress = settleProgress(progress, report);
      if (report.passed) {
        await this.finish(record, 'SUCCESSFUL', { report, finalProgress });
      } else {
        await this.finish(record, 'FAILED', {
          report,
          finalProgress,
          error: { code: 'VERIFICATION_FAILED', message: report.problems.slice(0, 3).join('; '), at: 'verification' },
        });
      }
    } finally {
      await sink.close();
    }
  }

  private async finish(record: JobRecord, status: JobStatus, patch: Partial<JobRecord>): Promise<void> {
    this.verifying.delete(record.id);
    const finalProgress = patch.finalProgress ?? this.progress.get(record.id) ?? record.finalProgress;
    await this.transition(record, status, { ...patch, finalProgress });
    this.logger.info({ jobId: record.id, status, error: patch.error?.message }, `job ${status}`);
  }

  private async transition(record: JobRecord, status: JobStatus, patch: Partial<JobRecord> = {}): Promise<JobRecord> {
    const current = this.board.jobs.get(record.id) ?? record;
    if (current.status !== status && !canTransition(current.status, status)) {
      throw new EtlError('JOB_STATE', `job ${record.id} cannot go from ${current.status} to ${status}`);
    }
    const next: JobRecord = { ...current, ...patch, status, updatedAt: laterIso(current.updatedAt) };
    await this.board.putJob(next);
    this.opts.onStatus?.(this.view(next));
    return next;
  }

  // ------------------------------------------------------------------ helpers

  /**
   * An active job no tick has measured yet (just created, or this controller just started) is
   * measured now, so an answer never shows a blank progress for a job that has made some.
   */
  private async measureIfUnknown(record: JobRecord): Promise<void> {
    if (!ACTIVE_STATUSES.has(record.status) || this.progress.has(record.id) || !this.admin) return;
    await this.refreshProgress(record).catch((err: unknown) => this.logger.debug({ jobId: record.id, err: errorMessage(err) }, 'progress unavailable'));
  }

  private sinkFor(record: JobRecord): MilvusTarget {
    const secrets = openSecrets(record.sealedSecrets, this.opts.secretKey);
    return this.opts.sinkFactory({ address: record.spec.target.address, token: secrets.token });
  }

  private requireJob(id: string): JobRecord {
    const record = this.board.jobs.get(id);
    if (!record) throw new EtlError('JOB_NOT_FOUND', `job ${id} does not exist`, { hint: 'list jobs with GET /v1/jobs or `p2m jobs list`' });
    return record;
  }

  private requireAdmin(): LogAdmin {
    if (!this.admin) throw new EtlError('INTERNAL', 'the controller is not started');
    return this.admin;
  }

  view(stored: JobRecord): JobView {
    const failedByOutage = this.outage.get(stored.id);
    const record: JobRecord = failedByOutage && ACTIVE_STATUSES.has(stored.status) ? { ...stored, status: 'FAILED', error: failedByOutage.error } : stored;
    const { spec } = record;
    const measured = TERMINAL_STATUSES.has(record.status) ? (record.finalProgress ?? this.progress.get(record.id) ?? emptyProgress()) : (this.progress.get(record.id) ?? record.finalProgress ?? emptyProgress());
    const verification = record.status === 'VERIFYING' ? this.verifying.get(record.id) : undefined;
    const progress = verification ? { ...measured, verification } : measured;
    return {
      id: record.id,
      status: record.status,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      mode: record.mode,
      topicJobId: record.topicJobId,
      generation: record.generation,
      source: { index: spec.source.index, controllerHostUrl: spec.source.controllerHostUrl, namespaces: spec.source.namespaces },
      target: {
        address: spec.target.address,
        collection: record.plan.collection,
        description: spec.target.description,
        partitionKey: spec.target.partitionKey,
        maxIdLength: spec.target.maxIdLength,
        primaryKey: spec.target.primaryKey,
        fields: spec.target.fields,
      },
      options: spec.options,
      plan: record.plan,
      progress,
      error: record.error,
      report: record.report,
    };
  }
}

function newJobId(): string {
  const stamp = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** Strictly later than `prev`, so the newest record always wins on the board. */
function laterIso(prev: string): string {
  const now = Date.now();
  const before = Date.parse(prev);
  return new Date(Number.isNaN(before) || now > before ? now : before + 1).toISOString();
}
