import {
  EtlError,
  TERMINAL_STATUSES,
  dlqTopic,
  errorMessage,
  isRetriable,
  loaderGroup,
  openSecrets,
  parseJobSpec,
  recordsTopic,
  redactSpec,
  retry,
  sealSecrets,
  type CollectionPlan,
  type DlqEntry,
  type ErrorsPage,
  type JobRecord,
  type JobSpec,
  type LogClient,
  type Logger,
} from '@p2m/core';
import { newJobId, type JobLedger } from './ledger.ts';
import type { OutageFailures } from './outage.ts';
import { planFor, refuseExistingCollection, type PlanningDeps } from './planning.ts';
import type { ProgressTracker } from './progress-tracker.ts';
import { ensureCollection, setUpJob, type SetUpDeps } from './setup.ts';

/**
 * The command side of the job service (what the API, the CLI and the embedded run ask for): each
 * command checks the job's state, writes the new record through the ledger, and leaves the rest
 * (set-up after a postponement, loading, verification) to the driver.
 */
export interface JobCommandsDeps extends PlanningDeps, SetUpDeps {
  log: LogClient;
  secretKey: string;
  tracker: ProgressTracker;
  outages: OutageFailures;
  logger: Logger;
}

/** Set-up while the caller of `create` waits: broker or Milvus trouble is ridden out this long, then the job stays PENDING. */
const SET_UP_WHILE_CREATING = { retries: 6, deadlineMs: 30_000, maxDelayMs: 5_000 };
/** How long `resume` waits for the record of an outage failure to land. */
const OUTAGE_RECORD_WAIT_MS = 10_000;

export class JobCommands {
  readonly #deps: JobCommandsDeps;
  readonly #ledger: JobLedger;

  constructor(deps: JobCommandsDeps) {
    this.#deps = deps;
    this.#ledger = deps.ledger;
  }

  async preview(input: unknown): Promise<CollectionPlan> {
    return planFor(this.#deps, parseJobSpec(input));
  }

  async create(input: unknown): Promise<JobRecord> {
    const spec = parseJobSpec(input);
    const plan = await planFor(this.#deps, spec);
    await refuseExistingCollection(this.#deps, spec.target, plan.collection);
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
      sealedSecrets: sealSecrets({ apiKey: spec.source.apiKey, token: spec.target.token }, this.#deps.secretKey),
      plan,
    };
    await this.#ledger.put(record);
    this.#deps.logger.info({ jobId: id, collection: plan.collection, records: plan.source.totalRecords }, 'job created');
    await this.#setUpNow(record);
    return this.#ledger.latest(record);
  }

  /** Set up now so the caller sees IN_PROGRESS; trouble that lasts leaves it PENDING for its owner to finish. */
  async #setUpNow(record: JobRecord): Promise<void> {
    try {
      await retry(() => setUpJob(this.#deps, this.#ledger.latest(record)), SET_UP_WHILE_CREATING);
    } catch (err) {
      if (!isRetriable(err)) {
        const error = { code: (err as EtlError).code ?? 'INTERNAL', message: errorMessage(err), at: 'set-up' };
        await this.#ledger.finish(this.#ledger.latest(record), 'FAILED', { error });
        throw err;
      }
      this.#deps.logger.warn({ jobId: record.id, err: errorMessage(err) }, 'set-up postponed: the job stays PENDING until Kafka and Milvus answer');
    }
  }

  async cancel(id: string): Promise<JobRecord> {
    const record = this.#ledger.require(id);
    if (record.status === 'CANCELLING' || record.status === 'CANCELLED') return record;
    if (TERMINAL_STATUSES.has(record.status)) {
      throw new EtlError('JOB_STATE', `job ${id} is ${record.status} and cannot be cancelled`, { hint: 'only active jobs can be cancelled' });
    }
    return this.#ledger.transition(record, 'CANCELLING', { cancelRequestedAt: new Date().toISOString() });
  }

  async resume(id: string): Promise<JobRecord> {
    // FAILED by a Kafka outage: the record saying so lands once Kafka is back; resume after it.
    if (!(await this.#deps.outages.written(id, OUTAGE_RECORD_WAIT_MS))) {
      throw new EtlError('LOG_UNAVAILABLE', `job ${id} failed because Kafka is unreachable; resume it once Kafka is back`, {
        hint: 'start Kafka again, then resume',
      });
    }
    const record = this.#ledger.require(id);
    if (record.status !== 'FAILED' && record.status !== 'CANCELLED') {
      throw new EtlError('JOB_STATE', `job ${id} is ${record.status}; only FAILED or CANCELLED jobs can be resumed`);
    }
    const next = await this.#ledger.transition(record, 'IN_PROGRESS', {
      generation: record.generation + 1,
      error: undefined,
      report: undefined,
      finalProgress: undefined,
      cancelRequestedAt: undefined,
    });
    this.#deps.tracker.restart(id);
    return next;
  }

  async replay(id: string, options: { collection?: string | undefined }): Promise<JobRecord> {
    const record = this.#ledger.require(id);
    if (!TERMINAL_STATUSES.has(record.status)) {
      throw new EtlError('JOB_STATE', `job ${id} is ${record.status}; cancel it or let it finish before replaying`);
    }
    const { plan, spec } = await this.#replayTarget(record, options.collection);
    const admin = this.#deps.admin();
    if ((await admin.groupMemberCount(loaderGroup(id))) > 0) {
      throw new EtlError('JOB_STATE', `loaders of job ${id} are still running; wait until they stopped and replay again`);
    }
    await admin.resetGroupOffsets(loaderGroup(id), recordsTopic(record.topicJobId));
    await ensureCollection(this.#deps.sinkFor(record), plan);
    this.#deps.tracker.restart(id);
    const patch = {
      mode: 'replay' as const,
      generation: record.generation + 1,
      plan,
      spec,
      error: undefined,
      report: undefined,
      finalProgress: undefined,
      cancelRequestedAt: undefined,
    };
    const next = await this.#ledger.transition(record, 'IN_PROGRESS', patch);
    this.#deps.logger.info({ jobId: id, collection: plan.collection }, 'replaying the job log');
    return next;
  }

  /** The plan and spec a replay writes to: the job's own collection, or a new one that must not exist. */
  async #replayTarget(record: JobRecord, collection: string | undefined): Promise<{ plan: CollectionPlan; spec: JobSpec }> {
    if (!collection || collection === record.plan.collection) return { plan: record.plan, spec: record.spec };
    const secrets = openSecrets(record.sealedSecrets, this.#deps.secretKey);
    const { spec } = record;
    const full = parseJobSpec({ ...spec, source: { ...spec.source, apiKey: secrets.apiKey }, target: { ...spec.target, token: secrets.token, collection } });
    await refuseExistingCollection(this.#deps, full.target, collection);
    return { plan: { ...record.plan, collection }, spec: redactSpec(full) };
  }

  async errors(id: string, page: { cursor?: string | undefined; limit?: number | undefined }): Promise<ErrorsPage> {
    this.#ledger.require(id);
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 1000);
    const start = page.cursor ? Number.parseInt(page.cursor, 10) : 0;
    if (!Number.isInteger(start) || start < 0) throw new EtlError('SPEC_INVALID', 'cursor must be a cursor returned by a previous page', { field: 'cursor' });
    // A record refused again (by a replay, or a batch redelivered after a crash) is listed once,
    // with its latest reason: the same accounting as the verification report and the progress.
    const byRecord = new Map<string, DlqEntry>();
    if (await this.#deps.admin().topicExists(dlqTopic(id))) {
      await this.#deps.log.scanToEnd(dlqTopic(id), (m) => {
        if (!m.value) return;
        const entry = JSON.parse(m.value.toString('utf8')) as DlqEntry;
        byRecord.set(`${entry.namespace}\u0000${entry.id}`, entry);
      });
    }
    const total = byRecord.size;
    const entries = [...byRecord.values()].slice(start, start + limit);
    return { entries, total, next: start + entries.length < total ? String(start + entries.length) : null };
  }
}
