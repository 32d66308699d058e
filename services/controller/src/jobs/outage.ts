import { errorMessage, retry, type JobError, type JobRecord, type Logger } from '@p2m/core';

/**
 * Jobs FAILED by a Kafka outage. The API shows FAILED at once, while the record saying so waits for
 * Kafka to come back: it is written then (retried until this controller stops), and only then can
 * the job be resumed.
 */
export class OutageFailures {
  readonly #pending = new Map<string, { error: JobError; written: Promise<void> }>();
  readonly #logger: Logger;
  #running = true;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** `write` records the failure (it throws while Kafka is still down, and is tried again). */
  fail(record: JobRecord, error: JobError, write: () => Promise<void>): void {
    if (this.#pending.has(record.id)) return;
    this.#logger.error({ jobId: record.id, err: error.message }, 'job FAILED: Kafka unreachable past the deadline');
    const written = retry(write, { retries: Infinity, initialDelayMs: 1_000, maxDelayMs: 5_000, shouldRetry: () => this.#running })
      .catch((err: unknown) => this.#logger.warn({ jobId: record.id, err: errorMessage(err) }, 'could not record the Kafka outage failure'))
      .finally(() => this.#pending.delete(record.id));
    this.#pending.set(record.id, { error, written });
  }

  /** The error a job was failed with while its record is not written yet. */
  errorOf(id: string): JobError | undefined {
    return this.#pending.get(id)?.error;
  }

  /** Whether the record of an outage failure landed within `ms` (true when none is pending). */
  async written(id: string, ms: number): Promise<boolean> {
    const pending = this.#pending.get(id);
    if (!pending) return true;
    return Promise.race([pending.written.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  }

  stop(): void {
    this.#running = false;
  }
}
