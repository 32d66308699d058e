import { JOBS_TOPIC, errorMessage, type LogAdmin, type Logger } from '@p2m/core';
import type { KafkaOutage } from './decide.ts';

/**
 * Asks Kafka something cheap (the offsets of `p2m.jobs`) once per tick and remembers since when it
 * has not answered: `decide` fails the active jobs this controller drives once that lasts past the
 * Kafka deadline. One probe at a time: a probe hanging on a dead broker is not stacked up.
 */
export class KafkaHealth {
  #down: KafkaOutage | null = null;
  #probing = false;
  /** When Kafka last answered anything of this controller's (ms). */
  #answeredAt = -Infinity;
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Since when Kafka has not answered, with the last error; null while it answers. */
  get down(): KafkaOutage | null {
    return this.#down;
  }

  /**
   * Kafka answered (a probe, or a write of this controller such as an outage's FAILED record): it is
   * up. Without this a probe hanging on the reconnect kept Kafka "down" after it was back, and a job
   * resumed meanwhile was failed again for the outage it had just recovered from.
   */
  answered(at: number = Date.now()): void {
    if (this.#down) this.#logger.info({ downSeconds: Math.round((at - this.#down.since) / 1000) }, 'Kafka answers again');
    this.#down = null;
    this.#answeredAt = Math.max(this.#answeredAt, at);
  }

  async probe(admin: LogAdmin, now: () => number = Date.now): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    const asked = now();
    try {
      await admin.topicOffsets(JOBS_TOPIC);
      this.answered(now());
    } catch (err) {
      // Kafka answered something else since this probe was sent: the failure is from before.
      if (this.#answeredAt >= asked) return;
      if (!this.#down) this.#logger.warn({ err: errorMessage(err) }, 'Kafka does not answer');
      this.#down = { since: this.#down?.since ?? asked, attempts: (this.#down?.attempts ?? 0) + 1, lastError: err };
    } finally {
      this.#probing = false;
    }
  }
}
