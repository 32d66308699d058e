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
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Since when Kafka has not answered, with the last error; null while it answers. */
  get down(): KafkaOutage | null {
    return this.#down;
  }

  async probe(admin: LogAdmin, now: () => number = Date.now): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    const asked = now();
    try {
      await admin.topicOffsets(JOBS_TOPIC);
      if (this.#down) this.#logger.info({ downSeconds: Math.round((now() - this.#down.since) / 1000) }, 'Kafka answers again');
      this.#down = null;
    } catch (err) {
      if (!this.#down) this.#logger.warn({ err: errorMessage(err) }, 'Kafka does not answer');
      this.#down = { since: this.#down?.since ?? asked, attempts: (this.#down?.attempts ?? 0) + 1, lastError: err };
    } finally {
      this.#probing = false;
    }
  }
}
