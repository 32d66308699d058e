import { errorMessage } from './errors.ts';
import type { JobBoard } from './board.ts';
import { workerStatusKey, type JobRecord, type WorkerStatus } from './job-record.ts';
import type { Logger } from './logger.ts';

/**
 * The lifecycle every worker process shares (extractor, loader): follow the job board, run the
 * work of each job this worker wants, abort it when the job moves on (another status, a new
 * generation after resume or replay, or — for the extractor — another owner), and report a failure
 * as a worker status the controller turns into the job's error. The work itself is the role's.
 */
export interface JobWorkSpec {
  role: WorkerStatus['role'];
  board: JobBoard;
  workerId: string;
  logger: Logger;
  /** Start work for this job now (it is not running here). */
  wants(record: JobRecord): boolean;
  /** Keep running work for this job (same generation); default: while it is wanted. */
  keeps?(record: JobRecord): boolean;
  /** The job's work: resolves when it is done or `signal` aborted it; throws when it failed. */
  run(record: JobRecord, signal: AbortSignal, logger: Logger): Promise<void>;
}

interface Running {
  generation: number;
  abort: AbortController;
  done: Promise<void>;
}

export class JobWorkers {
  readonly #spec: JobWorkSpec;
  readonly #running = new Map<string, Running>();
  readonly #onJob = (): void => void this.reconcile();
  #stopped = false;

  constructor(spec: JobWorkSpec) {
    this.#spec = spec;
  }

  start(): void {
    this.#spec.board.on('job', this.#onJob);
    void this.reconcile();
  }

  /** SIGTERM: stop taking work, abort what runs (each role stops safely at its own points), wait for it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#spec.board.off('job', this.#onJob);
    const all = [...this.#running.values()];
    for (const r of all) r.abort.abort();
    await Promise.allSettled(all.map((r) => r.done));
    this.#running.clear();
  }

  /** Brings what runs in line with the board (called on every job change, and by the role when ownership moves). */
  async reconcile(): Promise<void> {
    if (this.#stopped) return;
    const keeps = this.#spec.keeps ?? ((r: JobRecord) => this.#spec.wants(r));
    for (const record of this.#spec.board.jobs.values()) {
      const current = this.#running.get(record.id);
      if (current && (current.generation !== record.generation || !keeps(record))) {
        current.abort.abort();
        this.#running.delete(record.id);
        await current.done.catch(() => undefined);
      }
      if (!this.#stopped && !this.#running.has(record.id) && this.#spec.wants(record)) this.#launch(record);
    }
  }

  #launch(record: JobRecord): void {
    const abort = new AbortController();
    const logger = this.#spec.logger.child({ jobId: record.id, worker: this.#spec.workerId });
    const done = this.#spec.run(record, abort.signal, logger).catch(async (err: unknown) => {
      if (abort.signal.aborted) return;
      logger.error({ err: errorMessage(err) }, `${this.#spec.role} failed`);
      await this.report(record, 'failed', failureOf(err)).catch(() => undefined);
    });
    this.#running.set(record.id, { generation: record.generation, abort, done });
  }

  /** This worker's status for a job, in `p2m.checkpoints` (the controller reads failures from it). */
  async report(record: JobRecord, state: WorkerStatus['state'], error?: WorkerStatus['error']): Promise<void> {
    const status: WorkerStatus = {
      jobId: record.id,
      role: this.#spec.role,
      workerId: this.#spec.workerId,
      generation: record.generation,
      state,
      error,
      at: new Date().toISOString(),
    };
    await this.#spec.board.putWorkerStatus(status, workerStatusKey(status));
  }
}

/** The job's error is what a user sees first: the error's code, its message with what to do, and where. */
function failureOf(err: unknown): NonNullable<WorkerStatus['error']> {
  const e = err as { code?: string; hint?: string; details?: { at?: string } };
  const message = e.hint ? `${errorMessage(err)}; ${e.hint}` : errorMessage(err);
  return { code: e.code ?? 'INTERNAL', message, at: e.details?.at };
}
