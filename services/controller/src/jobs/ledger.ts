import { randomBytes } from 'node:crypto';
import { EtlError, canTransition, type JobBoard, type JobRecord, type JobStatus, type JobView, type Logger } from '@p2m/core';
import type { ProgressTracker } from './progress-tracker.ts';

/**
 * The one place job records are written: every status change checks the lifecycle
 * (core/job.ts `canTransition`), lands in `p2m.jobs` through the board, and is announced.
 */
export interface JobLedgerDeps {
  board: JobBoard;
  tracker: ProgressTracker;
  logger: Logger;
  view: (record: JobRecord) => JobView;
  onStatus?: ((job: JobView) => void) | undefined;
}

export class JobLedger {
  readonly #deps: JobLedgerDeps;

  constructor(deps: JobLedgerDeps) {
    this.#deps = deps;
  }

  require(id: string): JobRecord {
    const record = this.#deps.board.jobs.get(id);
    if (!record) throw new EtlError('JOB_NOT_FOUND', `job ${id} does not exist`, { hint: 'list jobs with GET /v1/jobs or `p2m jobs list`' });
    return record;
  }

  /** The board's newest record of this job (it may have moved on since `record` was read). */
  latest(record: JobRecord): JobRecord {
    return this.#deps.board.jobs.get(record.id) ?? record;
  }

  async put(record: JobRecord): Promise<void> {
    await this.#deps.board.putJob(record);
  }

  async transition(record: JobRecord, status: JobStatus, patch: Partial<JobRecord> = {}): Promise<JobRecord> {
    const current = this.latest(record);
    if (current.status !== status && !canTransition(current.status, status)) {
      throw new EtlError('JOB_STATE', `job ${record.id} cannot go from ${current.status} to ${status}`);
    }
    const next: JobRecord = { ...current, ...patch, status, updatedAt: laterIso(current.updatedAt) };
    await this.#deps.board.putJob(next);
    this.#deps.onStatus?.(this.#deps.view(next));
    return next;
  }

  /** A terminal status, with the progress frozen as it was last measured (unless the patch settles it). */
  async finish(record: JobRecord, status: JobStatus, patch: Partial<JobRecord>): Promise<void> {
    // Decided about a run the job has left (resumed or replayed meanwhile): not this run's ending.
    if (this.latest(record).generation !== record.generation) {
      this.#deps.logger.info({ jobId: record.id, status, generation: record.generation }, 'not finishing: the job was resumed or replayed meanwhile');
      return;
    }
    const finalProgress = patch.finalProgress ?? this.#deps.tracker.current(record.id) ?? record.finalProgress;
    await this.transition(record, status, { ...patch, finalProgress });
    this.#deps.logger.info({ jobId: record.id, status, error: patch.error?.message }, `job ${status}`);
  }
}

export function newJobId(): string {
  const stamp = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** Strictly later than `prev`, so the newest record always wins on the board. */
export function laterIso(prev: string): string {
  const now = Date.now();
  const before = Date.parse(prev);
  return new Date(Number.isNaN(before) || now > before ? now : before + 1).toISOString();
}
