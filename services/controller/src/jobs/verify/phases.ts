import { VERIFICATION_PHASES, type PhaseTiming, type VerificationPhase, type VerificationProgress } from '@p2m/core';

/**
 * Where verification stands, for the job view while it runs and for the report after: the phase,
 * each phase's time, the reconciliation's counters and an ETA from the current phase's own rate.
 * `onProgress` hears every phase change and at most one update a second in between.
 */
export class VerificationTracker {
  readonly #started = Date.now();
  readonly #timings = new Map<VerificationPhase, { start: number; end: number | null }>();
  #phase: VerificationPhase = VERIFICATION_PHASES[0];
  #lastReport = 0;
  readonly #onProgress: ((p: VerificationProgress) => void) | undefined;
  readonly #now: () => number;
  /** Work units of the current phase: done of total (e.g. log records checked). */
  #work = { done: 0, total: 0 };
  namespacesDone = 0;
  namespaces = 0;
  recordsChecked = 0;
  recordsTotal = 0;
  bucketsDone = 0;
  buckets = 0;

  constructor(onProgress?: (p: VerificationProgress) => void, now: () => number = Date.now) {
    this.#onProgress = onProgress;
    this.#now = now;
  }

  /** Runs `fn` as `phase`: timed, reported at its start and its end. */
  async phase<T>(phase: VerificationPhase, fn: () => Promise<T>): Promise<T> {
    this.#phase = phase;
    this.#work = { done: 0, total: 0 };
    this.#timings.set(phase, { start: this.#now(), end: null });
    this.#emit(true);
    try {
      return await fn();
    } finally {
      this.#timings.get(phase)!.end = this.#now();
      this.#emit(true);
    }
  }

  /** The current phase's own progress, for its ETA. */
  work(done: number, total: number): void {
    this.#work = { done, total };
    this.#emit(false);
  }

  timings(): PhaseTiming[] {
    const now = this.#now();
    return VERIFICATION_PHASES.filter((p) => this.#timings.has(p)).map((phase) => {
      const t = this.#timings.get(phase)!;
      return { phase, seconds: Math.round(((t.end ?? now) - t.start) / 100) / 10, done: t.end !== null };
    });
  }

  #eta(): number | null {
    const t = this.#timings.get(this.#phase);
    const { done, total } = this.#work;
    if (!t || total <= 0 || done <= 0) return null;
    if (done >= total) return 0;
    const elapsed = (this.#now() - t.start) / 1000;
    return Math.round((elapsed * (total - done)) / done);
  }

  snapshot(): VerificationProgress {
    return {
      phase: this.#phase,
      startedAt: new Date(this.#started).toISOString(),
      phases: this.timings(),
      namespacesDone: this.namespacesDone,
      namespaces: this.namespaces,
      recordsChecked: this.recordsChecked,
      recordsTotal: this.recordsTotal,
      bucketsDone: this.bucketsDone,
      buckets: this.buckets,
      etaSeconds: this.#eta(),
    };
  }

  #emit(force: boolean): void {
    if (!this.#onProgress) return;
    const now = this.#now();
    if (!force && now - this.#lastReport < 1000) return;
    this.#lastReport = now;
    this.#onProgress(this.snapshot());
  }
}
