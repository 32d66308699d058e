import { ACTIVE_STATUSES, errorMessage, loaderGroup, type JobBoard, type JobRecord, type LogAdmin, type Logger, type VerificationReport } from '@p2m/core';
import { decide, type Action, type ControllerLimits, type Observations, type Trouble, type VerificationOutcome } from './decide.ts';
import type { KafkaHealth } from './kafka-health.ts';
import type { JobLedger } from './ledger.ts';
import type { OutageFailures } from './outage.ts';
import type { ProgressTracker } from './progress-tracker.ts';

/**
 * The thin side of the controller's loop: every tick it observes each active job (the board,
 * offsets, Kafka's health, the clock), asks `decide`, and carries the actions out. Any controller
 * measures every job; only the owner of a job's partition of `p2m.jobs` drives it. A job is driven by
 * one action sequence at a time; while that runs, only a Kafka outage acts on it.
 */
export interface JobDriverDeps {
  board: JobBoard;
  ledger: JobLedger;
  tracker: ProgressTracker;
  health: KafkaHealth;
  outages: OutageFailures;
  admin: () => LogAdmin | null;
  owns: (jobId: string) => boolean;
  limits: ControllerLimits;
  kafkaBrokers: string;
  setUp: (record: JobRecord) => Promise<void>;
  /** The verification of a job (`verifyJob` over the job's target, log and source). */
  verify: (record: JobRecord) => Promise<VerificationReport>;
  logger: Logger;
}

export class JobDriver {
  readonly #deps: JobDriverDeps;
  readonly #busy = new Set<string>();
  /** Since when, and how often, verification of a job has failed. */
  readonly #trouble = new Map<string, { since: number; attempts: number }>();
  #timer: NodeJS.Timeout | null = null;

  constructor(deps: JobDriverDeps) {
    this.#deps = deps;
  }

  start(tickMs: number): void {
    this.#timer = setInterval(() => this.tick(), tickMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  tick(): void {
    const admin = this.#deps.admin();
    if (admin) void this.#deps.health.probe(admin);
    const active: JobRecord[] = [];
    for (const record of this.#deps.board.jobs.values()) {
      if (!ACTIVE_STATUSES.has(record.status)) continue;
      active.push(record);
      if (this.#busy.has(record.id)) {
        void this.#act(record, decide(record, this.#glance(record, true)), null).catch((err: unknown) =>
          this.#deps.logger.warn({ jobId: record.id, err: errorMessage(err) }, 'acting on the job failed; will retry'),
        );
        continue;
      }
      this.#busy.add(record.id);
      const owned = this.#deps.owns(record.id);
      void this.#drive(record)
        .catch((err: unknown) =>
          this.#deps.logger.warn(
            { jobId: record.id, err: errorMessage(err) },
            owned ? 'driving the job failed; will retry' : 'measuring the job failed; will retry',
          ),
        )
        .finally(() => this.#busy.delete(record.id));
    }
    // A job that finished (here or on another controller) or was deleted leaves nothing behind.
    this.#deps.tracker.retain(active);
    for (const id of this.#trouble.keys()) if (!active.some((r) => r.id === id)) this.#trouble.delete(id);
  }

  /** What is known without asking anyone: the board, Kafka's health, the clock. */
  #glance(record: JobRecord, busy: boolean): Observations {
    return {
      now: Date.now(),
      owned: this.#deps.owns(record.id),
      busy,
      failingForOutage: this.#deps.outages.errorOf(record.id) !== undefined,
      kafkaDown: this.#deps.health.down,
      kafkaBrokers: this.#deps.kafkaBrokers,
      limits: this.#deps.limits,
      workers: [...(this.#deps.board.workers.get(record.id)?.values() ?? [])],
      checkpoints: this.#deps.board.checkpoints.get(record.topicJobId),
      progress: null,
      offsetsKnown: false,
      loaderMembers: null,
      logMissingSince: null,
      verification: null,
    };
  }

  /** The glance plus what takes a call: the progress (offsets), and the loader group while cancelling. */
  async #observe(record: JobRecord): Promise<Observations> {
    const seen = this.#glance(record, false);
    if (record.status === 'PENDING' || seen.failingForOutage) return seen;
    const { progress, offsetsKnown } = await this.#deps.tracker.measure(record);
    let loaderMembers: number | null = null;
    if (record.status === 'CANCELLING' && seen.owned) loaderMembers = (await this.#deps.admin()?.groupMemberCount(loaderGroup(record.id))) ?? null;
    return { ...seen, progress, offsetsKnown, loaderMembers, logMissingSince: this.#deps.tracker.logMissingSince(record) };
  }

  async #drive(record: JobRecord): Promise<void> {
    const seen = await this.#observe(record);
    await this.#act(record, decide(record, seen), seen);
  }

  async #act(record: JobRecord, actions: Action[], seen: Observations | null): Promise<void> {
    for (const action of actions) {
      switch (action.kind) {
        case 'setUp': {
          const trouble = await this.#setUp(record);
          if (!trouble) break;
          const after = { ...(seen ?? this.#glance(record, false)), now: Date.now(), setUp: trouble };
          await this.#act(record, decide(record, after), after);
          break;
        }
        case 'startVerifying':
          await this.#deps.ledger.transition(record, 'VERIFYING');
          break;
        case 'verify': {
          const outcome = await this.#verify(record);
          const after = { ...(seen ?? this.#glance(record, false)), now: Date.now(), verification: outcome };
          await this.#act(record, decide(record, after), after);
          break;
        }
        case 'finish':
          if (action.note) this.#deps.logger.warn({ jobId: record.id }, action.note);
          this.#trouble.delete(record.id);
          await this.#deps.ledger.finish(record, action.status, { error: action.error, report: action.report, finalProgress: action.finalProgress });
          break;
        case 'failForOutage':
          // Decided on a glance taken before a slow measurement: Kafka may have answered since.
          if (!this.#deps.health.down) break;
          this.#deps.outages.fail(record, action.error, async () => {
            await this.#recordOutage(record, action.error);
            this.#deps.health.answered();
          });
          break;
        case 'retryLater':
          this.#deps.logger.warn({ jobId: record.id, reason: action.reason }, 'will try again');
          break;
      }
    }
  }

  /** Sets the job up; its trouble (kept across ticks) when that failed. */
  async #setUp(record: JobRecord): Promise<Trouble | null> {
    try {
      await this.#deps.setUp(record);
      this.#trouble.delete(record.id);
      return null;
    } catch (err) {
      return this.#noteTrouble(record, err);
    }
  }

  #noteTrouble(record: JobRecord, err: unknown): Trouble {
    const before = this.#trouble.get(record.id);
    const trouble = { since: before?.since ?? Date.now(), attempts: (before?.attempts ?? 0) + 1 };
    this.#trouble.set(record.id, trouble);
    return { error: err, troubleSince: trouble.since, attempts: trouble.attempts };
  }

  async #verify(record: JobRecord): Promise<VerificationOutcome> {
    try {
      const report = await this.#deps.verify(record);
      this.#trouble.delete(record.id);
      return { report };
    } catch (err) {
      return this.#noteTrouble(record, err);
    }
  }

  /** The FAILED record of an outage, once Kafka takes it (a job that moved on meanwhile is left alone). */
  async #recordOutage(record: JobRecord, error: { code: string; message: string; at?: string | undefined }): Promise<void> {
    const current = this.#deps.ledger.latest(record);
    if (ACTIVE_STATUSES.has(current.status) && current.generation === record.generation) await this.#deps.ledger.finish(current, 'FAILED', { error });
  }
}
