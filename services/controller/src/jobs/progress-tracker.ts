import {
  ACTIVE_STATUSES,
  TERMINAL_STATUSES,
  emptyProgress,
  errorMessage,
  loaderGroup,
  recordsTopic,
  type JobBoard,
  type JobProgress,
  type JobRecord,
  type LogAdmin,
  type Logger,
  type VerificationProgress,
} from '@p2m/core';
import { computeProgress, RateWindow, type OffsetsSnapshot } from './progress.ts';

/**
 * Every job's latest progress as this controller measured it (checkpoints from the board, offsets
 * from Kafka, the rate over a sliding window), and what the job view shows: the live figures of an
 * active job, the frozen ones of a finished job.
 */
export class ProgressTracker {
  readonly #board: JobBoard;
  readonly #admin: () => LogAdmin | null;
  readonly #logger: Logger;
  readonly #progress = new Map<string, JobProgress>();
  readonly #rates = new Map<string, RateWindow>();
  readonly #verification = new Map<string, VerificationProgress>();

  constructor(deps: { board: JobBoard; admin: () => LogAdmin | null; logger: Logger }) {
    this.#board = deps.board;
    this.#admin = deps.admin;
    this.#logger = deps.logger;
  }

  /** Measures now; `offsetsKnown` is false when Kafka did not answer (the lag is then unknown, not 0). */
  async measure(record: JobRecord): Promise<{ progress: JobProgress; offsetsKnown: boolean }> {
    const offsets = await this.#offsets(record);
    let rate = this.#rates.get(record.id);
    if (!rate) this.#rates.set(record.id, (rate = new RateWindow()));
    const progress = computeProgress(record, this.#board.checkpoints.get(record.topicJobId), offsets, rate);
    if (record.mode === 'replay') {
      // A replay reads the log, not the source: what was extracted is the whole job.
      progress.etaSeconds =
        progress.consumerLag === 0 ? 0 : progress.recordsPerSecond > 0 ? Math.round(progress.consumerLag / progress.recordsPerSecond) : null;
    }
    this.#progress.set(record.id, progress);
    return { progress, offsetsKnown: offsets !== null };
  }

  async #offsets(record: JobRecord): Promise<OffsetsSnapshot | null> {
    const admin = this.#admin();
    if (!admin) return null;
    try {
      const topic = recordsTopic(record.topicJobId);
      const [high, committed] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(loaderGroup(record.id), topic)]);
      return { high, committed };
    } catch (err) {
      this.#logger.debug({ jobId: record.id, err: errorMessage(err) }, 'offsets unavailable');
      return null;
    }
  }

  /**
   * An active job no tick has measured yet (just created, or this controller just started) is
   * measured now, so an answer never shows a blank progress for a job that has made some.
   */
  async measureIfUnknown(record: JobRecord): Promise<void> {
    if (!ACTIVE_STATUSES.has(record.status) || this.#progress.has(record.id) || !this.#admin()) return;
    await this.measure(record).catch((err: unknown) => this.#logger.debug({ jobId: record.id, err: errorMessage(err) }, 'progress unavailable'));
  }

  current(id: string): JobProgress | undefined {
    return this.#progress.get(id);
  }

  /** A resumed or replayed job starts a new rate window and a new verification. */
  restart(id: string): void {
    this.#rates.get(id)?.reset();
    this.#verification.delete(id);
  }

  /** Verification's `onProgress` for this job: the latest phase goes into the job view. */
  verificationListener(id: string): (phase: VerificationProgress) => void {
    return (phase) => void this.#verification.set(id, phase);
  }

  /** The progress a job view shows. */
  forView(record: JobRecord): JobProgress {
    const live = this.#progress.get(record.id);
    if (TERMINAL_STATUSES.has(record.status)) return record.finalProgress ?? live ?? emptyProgress();
    // Not measured yet: the plan's namespaces and counts, and what the checkpoints say was extracted.
    const progress = live ?? record.finalProgress ?? computeProgress(record, this.#board.checkpoints.get(record.topicJobId), null, new RateWindow());
    const phase = record.status === 'VERIFYING' ? this.#verification.get(record.id) : undefined;
    return phase ? { ...progress, verification: phase } : progress;
  }
}
