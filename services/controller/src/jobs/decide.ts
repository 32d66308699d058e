import {
  ACTIVE_STATUSES,
  RetriesExhausted,
  errorMessage,
  isRetriable,
  recordsTopic,
  type Checkpoint,
  type EtlError,
  type JobError,
  type JobProgress,
  type JobRecord,
  type VerificationReport,
  type WorkerStatus,
} from '@p2m/core';
import { settleProgress } from './progress.ts';

/**
 * The controller's lifecycle as one pure function (after Kubernetes controllers' `Reconcile`): what
 * was observed about a job → what to do about it. The driver observes (board, offsets, Kafka's
 * health, the clock), calls `decide`, carries the actions out and feeds back what it saw (a
 * verification's outcome), so every lifecycle edge is a row in a table test.
 */

export interface ControllerLimits {
  /** Kafka may stay unreachable this long before the active jobs this controller drives FAIL. */
  kafkaDeadlineMs: number;
  /** Milvus (or anything verification needs) may stay in trouble this long before the job FAILs. */
  sinkDeadlineMs: number;
  /** How long CANCELLING waits for the workers to stop before declaring CANCELLED anyway. */
  cancelGraceMs: number;
}

/** Kafka has not answered this controller's probe since `since` (ms since the epoch). */
export interface KafkaOutage {
  since: number;
  attempts: number;
  lastError: unknown;
}

/** An error that keeps coming back: the latest one, since when and how often. */
export interface Trouble {
  error: unknown;
  troubleSince: number;
  attempts: number;
}

/** What verification came to: a report, or its trouble. */
export type VerificationOutcome = { report: VerificationReport } | Trouble;

/**
 * A permanent error (one that says a retry cannot help) is tried this many times, a tick apart,
 * before it fails the job: a few seconds, never the sink deadline (Milvus Lite answers a few passing
 * conditions as permanent; a collection that cannot be indexed is not one of them).
 */
export const PERMANENT_ATTEMPTS = 3;

/**
 * How long a loading job's records topic may be missing from Kafka before the job FAILs. A deleted
 * topic does not come back, but a topic just created may be missing from a broker's answer for a
 * moment; this is many ticks of that.
 */
export const LOG_MISSING_GRACE_MS = 10_000;

export interface Observations {
  now: number;
  /** This controller holds the job's partition of `p2m.jobs`: it drives the job; the others only measure it. */
  owned: boolean;
  /** Driving the job (set-up, verification) is under way already: only a Kafka outage may act on it now. */
  busy: boolean;
  /** The job was FAILED by a Kafka outage and the record saying so waits for Kafka. */
  failingForOutage: boolean;
  kafkaDown: KafkaOutage | null;
  /** Named in the error of a job failed by a Kafka outage. */
  kafkaBrokers: string;
  limits: ControllerLimits;
  /** The job's worker reports (every generation). */
  workers: readonly WorkerStatus[];
  /** The extractor's checkpoints of the job's records topic, by namespace. */
  checkpoints: ReadonlyMap<string, Checkpoint> | undefined;
  /** Progress measured this tick; null when it was not measured. */
  progress: JobProgress | null;
  /** The records topic's and the loader group's offsets were read: the progress's lag is real. */
  offsetsKnown: boolean;
  /** Members of the job's loader group (CANCELLING); null when not asked or not answered. */
  loaderMembers: number | null;
  /** Since when (ms) the job's records topic has been missing from Kafka; null while it is there or unknown. */
  logMissingSince: number | null;
  /** Fed back after a `verify` action. */
  verification: VerificationOutcome | null;
  /** Fed back after a `setUp` action that failed. */
  setUp?: Trouble | null;
}

export type Action =
  | { kind: 'setUp' }
  | { kind: 'startVerifying' }
  | { kind: 'verify' }
  | { kind: 'finish'; status: 'SUCCESSFUL' | 'FAILED' | 'CANCELLED'; error?: JobError; report?: VerificationReport; finalProgress?: JobProgress; note?: string }
  /** FAILED at once in the API; the record saying so is written once Kafka answers again. */
  | { kind: 'failForOutage'; error: JobError }
  /** Nothing to do this tick but say why (the next tick looks again). */
  | { kind: 'retryLater'; reason: string };

export function decide(job: JobRecord, seen: Observations): Action[] {
  if (!ACTIVE_STATUSES.has(job.status) || seen.failingForOutage) return [];
  const outage = kafkaOutage(seen);
  if (outage) return [outage];
  if (!seen.owned || seen.busy) return [];
  switch (job.status) {
    case 'PENDING':
      return whilePending(job, seen);
    case 'IN_PROGRESS':
      return whileLoading(job, seen);
    case 'VERIFYING':
      return whileVerifying(job, seen);
    case 'CANCELLING':
      return whileCancelling(job, seen);
    default:
      return [];
  }
}

function kafkaOutage(seen: Observations): Action | null {
  const down = seen.kafkaDown;
  const deadline = seen.limits.kafkaDeadlineMs;
  if (!seen.owned || !down || seen.now - down.since <= deadline) return null;
  const exhausted = new RetriesExhausted(`Kafka (${seen.kafkaBrokers})`, down.lastError, down.attempts, seen.now - down.since);
  const message = `${exhausted.message}; past the deadline P2M_KAFKA_DEADLINE_MS=${deadline} ms: once Kafka is back, resume the job`;
  return { kind: 'failForOutage', error: { code: 'LOG_UNAVAILABLE', message, at: 'kafka' } };
}

/** Set-up (topics, the collection) failing: a permanent error fails the job in seconds, a transient one at the sink deadline. */
function whilePending(job: JobRecord, seen: Observations): Action[] {
  const trouble = seen.setUp;
  if (!trouble) return [{ kind: 'setUp' }];
  const failed = lastingTrouble(job, seen, trouble, 'set-up');
  return failed ? [{ kind: 'finish', status: 'FAILED', error: failed }] : [{ kind: 'retryLater', reason: `set-up: ${errorMessage(trouble.error)}` }];
}

/** The error a job fails with when `trouble` has lasted too long, or null while it may still pass. */
function lastingTrouble(job: JobRecord, seen: Observations, trouble: Trouble, at: 'set-up' | 'verification'): JobError | null {
  const deadline = seen.limits.sinkDeadlineMs;
  const elapsed = seen.now - trouble.troubleSince;
  const permanent = !isRetriable(trouble.error);
  if (permanent ? trouble.attempts < PERMANENT_ATTEMPTS : elapsed <= deadline) return null;
  const err = trouble.error;
  const code = (err as EtlError).code ?? 'INTERNAL';
  if (permanent) {
    const hint = (err as EtlError).hint;
    return { code, message: `${at} failed: ${errorMessage(err)}${hint ? `; ${hint}` : ''}; once that is fixed, resume the job`, at };
  }
  const system = code === 'TARGET_UNAVAILABLE' ? `Milvus (${job.spec.target.address})` : `a system ${at} needs`;
  const exhausted = new RetriesExhausted(system, err, trouble.attempts, elapsed);
  return { code: exhausted.code, message: `${exhausted.message}; past the deadline P2M_SINK_DEADLINE_MS=${deadline} ms: once it is back, resume the job`, at };
}

function whileLoading(job: JobRecord, seen: Observations): Action[] {
  const failed = seen.workers.find((w) => w.generation === job.generation && w.state === 'failed');
  if (failed) {
    const error = {
      code: failed.error?.code ?? 'INTERNAL',
      message: `${failed.role} ${failed.workerId}: ${failed.error?.message ?? 'failed'}`,
      at: failed.error?.at,
    };
    return [{ kind: 'finish', status: 'FAILED', error }];
  }
  // Counted from the job's last change too: a job resumed after its topic was deleted gets its topic
  // again at set-up, and a list of topics read just before that must not fail it at once.
  const missingMs = seen.logMissingSince === null ? 0 : seen.now - Math.max(seen.logMissingSince, Date.parse(job.updatedAt) || 0);
  if (missingMs >= LOG_MISSING_GRACE_MS) return [{ kind: 'finish', status: 'FAILED', error: logMissingError(job, missingMs) }];
  // Lag read from offsets that could not be read is no lag: wait for a real measurement.
  if (!seen.progress || !seen.offsetsKnown || seen.progress.consumerLag !== 0) return [];
  if (job.mode === 'replay') return [{ kind: 'startVerifying' }];
  const extracted = job.plan.source.namespaces.every((ns) => seen.checkpoints?.get(ns.name)?.done === true);
  return extracted ? [{ kind: 'startVerifying' }] : [];
}

/** The log a loading job reads was deleted outside p2m: what it held and was not loaded is gone. */
function logMissingError(job: JobRecord, missingMs: number): JobError {
  const topic = recordsTopic(job.topicJobId);
  const seconds = Math.round(missingMs / 1000);
  const what =
    job.mode === 'replay'
      ? `the log this replay reads, topic ${topic} of job ${job.topicJobId}, has been missing from Kafka for ${seconds} s (deleted outside p2m?): without it there is nothing to replay`
      : `the job's records topic ${topic} has been missing from Kafka for ${seconds} s (deleted outside p2m?): the records it held that were not loaded yet are gone`;
  return { code: 'LOG_UNAVAILABLE', message: `${what}; start a new job for the index (into a new collection, or drop this one first)`, at: 'kafka' };
}

function whileVerifying(job: JobRecord, seen: Observations): Action[] {
  const outcome = seen.verification;
  if (!outcome) return [{ kind: 'verify' }];
  if ('report' in outcome) {
    const { report } = outcome;
    const finalProgress = seen.progress ? settleProgress(seen.progress, report) : undefined;
    if (report.passed) return [{ kind: 'finish', status: 'SUCCESSFUL', report, finalProgress }];
    const error = { code: 'VERIFICATION_FAILED', message: report.problems.slice(0, 3).join('; '), at: 'verification' };
    return [{ kind: 'finish', status: 'FAILED', report, finalProgress, error }];
  }
  // Milvus (or the source) in trouble: tried again every tick, up to the sink deadline; a permanent
  // error only a few times.
  const failed = lastingTrouble(job, seen, outcome, 'verification');
  return failed ? [{ kind: 'finish', status: 'FAILED', error: failed }] : [{ kind: 'retryLater', reason: `verification: ${errorMessage(outcome.error)}` }];
}

function whileCancelling(job: JobRecord, seen: Observations): Action[] {
  const requested = Date.parse(job.cancelRequestedAt ?? job.updatedAt);
  const loadersGone = seen.loaderMembers === 0;
  const extractorRunning = seen.workers.some((w) => w.role === 'extractor' && w.generation === job.generation && w.state === 'running');
  if (loadersGone && !extractorRunning) return [{ kind: 'finish', status: 'CANCELLED' }];
  if (seen.now - requested > seen.limits.cancelGraceMs)
    return [{ kind: 'finish', status: 'CANCELLED', note: 'workers did not confirm the stop in time; marking the job CANCELLED' }];
  return [];
}
