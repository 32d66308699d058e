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

/** How old the list of Kafka's topics may be when it shows a job's records topic. */
const TOPIC_LIST_MAX_AGE_MS = 5_000;
/** How old it may be when it lacks one: a topic created since is not taken for a deleted one. */
const TOPIC_LIST_RECHECK_MS = 1_000;

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
  /** Records topics found missing from Kafka, and since when (a topic seen again is dropped). */
  readonly #missing = new Map<string, number>();
  /** Each job's last offsets Kafka gave, and when: shown while Kafka does not answer, not zeros. */
  readonly #lastOffsets = new Map<string, { snapshot: OffsetsSnapshot; at: number }>();
  /** Kafka's topics, listed once for all the jobs measured (null: they could not be listed). */
  #topicList: { at: number; names: Promise<ReadonlySet<string> | null> } | null = null;

  constructor(deps: { board: JobBoard; admin: () => LogAdmin | null; logger: Logger }) {
    this.#board = deps.board;
    this.#admin = deps.admin;
    this.#logger = deps.logger;
  }

  /** Measures now; `offsetsKnown` is false when Kafka did not answer (the lag is then unknown, not 0). */
  async measure(record: JobRecord): Promise<{ progress: JobProgress; offsetsKnown: boolean }> {
    const offsets = await this.#offsets(record);
    const now = Date.now();
    if (offsets) this.#lastOffsets.set(record.id, { snapshot: offsets, at: now });
    // Kafka not answering does not undo what was loaded: the last counts it gave stand, dated.
    const last = this.#lastOffsets.get(record.id);
    let rate = this.#rates.get(record.id);
    if (!rate) this.#rates.set(record.id, (rate = new RateWindow()));
    const progress = computeProgress(record, this.#board.checkpoints.get(record.topicJobId), last?.snapshot ?? null, rate, now, last?.at ?? now);
    if (record.mode === 'replay' && offsets) {
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
    const topic = recordsTopic(record.topicJobId);
    // A topic deleted outside p2m is not asked for its offsets: KafkaJS would retry the question for
    // half a minute, logging an error each time, on every tick, for as long as the job is active.
    if ((await this.#exists(admin, topic)) === false) {
      if (!this.#missing.has(topic)) this.#logger.warn({ jobId: record.id, topic }, "the job's records topic is missing from Kafka");
      this.#missing.set(topic, this.#missing.get(topic) ?? Date.now());
      return null;
    }
    this.#missing.delete(topic);
    try {
      const [high, committed] = await Promise.all([admin.topicOffsets(topic), admin.groupOffsets(loaderGroup(record.id), topic)]);
      return { high, committed };
    } catch (err) {
      this.#logger.debug({ jobId: record.id, err: errorMessage(err) }, 'offsets unavailable');
      return null;
    }
  }

  /** Whether Kafka has `topic`; null when its topics could not be listed. */
  async #exists(admin: LogAdmin, topic: string): Promise<boolean | null> {
    let names = await this.#topics(admin, TOPIC_LIST_MAX_AGE_MS);
    if (names && !names.has(topic)) names = await this.#topics(admin, TOPIC_LIST_RECHECK_MS);
    return names ? names.has(topic) : null;
  }

  #topics(admin: LogAdmin, maxAgeMs: number): Promise<ReadonlySet<string> | null> {
    const now = Date.now();
    if (!this.#topicList || now - this.#topicList.at > maxAgeMs) {
      const names = admin.listTopics().then(
        (topics) => new Set(topics),
        (err: unknown) => {
          this.#logger.debug({ err: errorMessage(err) }, 'topics unavailable');
          return null;
        },
      );
      this.#topicList = { at: now, names };
    }
    return this.#topicList.names;
  }

  /**
   * Since when (ms) the job's records topic has been missing from Kafka, as the last measurements
   * found it; null while it is there or was not looked for.
   */
  logMissingSince(record: JobRecord): number | null {
    return this.#missing.get(recordsTopic(record.topicJobId)) ?? null;
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

  /**
   * Forgets what was kept for jobs that are no longer active (finished, deleted): a finished job's
   * view shows its record's frozen progress, and a controller that runs for months with thousands
   * of jobs must not keep a rate window, offsets and a verification phase for each of them.
   */
  retain(active: readonly JobRecord[]): void {
    const ids = new Set(active.map((r) => r.id));
    for (const map of [this.#progress, this.#rates, this.#verification, this.#lastOffsets]) {
      for (const id of map.keys()) if (!ids.has(id)) map.delete(id);
    }
    const topics = new Set(active.map((r) => recordsTopic(r.topicJobId)));
    for (const topic of this.#missing.keys()) if (!topics.has(topic)) this.#missing.delete(topic);
  }

  /** How many jobs this tracker keeps figures for (what `retain` bounds). */
  get size(): number {
    return new Set([...this.#progress.keys(), ...this.#rates.keys(), ...this.#verification.keys(), ...this.#lastOffsets.keys()]).size;
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
