import { EtlError, errorMessage, isRetriable, type ErrorCode } from './errors.ts';

/**
 * The one retry helper (after KafkaJS's `src/retry`): capped exponential backoff with full jitter.
 * `fn` gets a `bail(err)` to stop at once with a permanent error. By default only errors that say
 * they are retriable are retried; everything else is thrown straight away.
 */
export interface RetryOptions {
  /** Attempts after the first; Infinity retries until the signal aborts or `deadlineMs` passes. */
  retries?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Give up once this much time has passed since the first attempt. */
  deadlineMs?: number;
  signal?: AbortSignal;
  shouldRetry?: (err: unknown) => boolean;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Random source in [0, 1), injectable so tests can be exact. */
  random?: () => number;
  /**
   * The system the calls go to ("Milvus (127.0.0.1:19530)"). When set, a retriable failure that
   * outlasts `retries` or `deadlineMs` is thrown as `RetriesExhausted`, which says so in words and
   * is no longer retriable: the caller's own retry (or the job) stops there.
   */
  system?: string;
  /** What to do about it, for `RetriesExhausted` ("once Milvus is back, resume the job"). */
  exhaustedHint?: string;
}

/** A transient failure that lasted past its retry policy: the job fails with this, naming the system. */
export class RetriesExhausted extends EtlError {
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly last: unknown;
  constructor(system: string, last: unknown, attempts: number, elapsedMs: number, hint?: string) {
    const code: ErrorCode = last instanceof EtlError ? last.code : 'TRANSIENT';
    super(code, `${system} stayed unreachable for ${Math.round(elapsedMs / 1000)} s (${attempts} attempts): ${errorMessage(last)}`, {
      retriable: false,
      cause: last,
      hint,
    });
    this.name = 'RetriesExhausted';
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
    this.last = last;
  }
}

export class BailError extends Error {
  readonly error: unknown;
  constructor(error: unknown) {
    super('bail');
    this.error = error;
  }
}

export function backoffDelay(attempt: number, opts: Pick<RetryOptions, 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'random'> = {}): number {
  const initial = opts.initialDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 10_000;
  const factor = opts.factor ?? 2;
  const ceiling = Math.min(max, initial * Math.pow(factor, attempt));
  const random = opts.random ?? Math.random;
  // Full jitter, floored at half the ceiling so a retry never fires instantly.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export async function retry<T>(fn: (bail: (err: unknown) => never, attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retries = opts.retries ?? 8;
  const shouldRetry = opts.shouldRetry ?? isRetriable;
  const started = Date.now();
  const bail = (err: unknown): never => {
    throw new BailError(err);
  };
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(bail, attempt);
    } catch (err) {
      if (err instanceof BailError) throw err.error;
      const expired = opts.deadlineMs !== undefined && Date.now() - started >= opts.deadlineMs;
      if (!shouldRetry(err)) throw err;
      if (attempt >= retries || expired) {
        throw opts.system !== undefined && isRetriable(err)
          ? new RetriesExhausted(opts.system, err, attempt + 1, Date.now() - started, opts.exhaustedHint)
          : err;
      }
      const delayMs = backoffDelay(attempt, opts);
      opts.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
      await sleep(delayMs, opts.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new EtlError('CANCELLED', 'aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason ?? new EtlError('CANCELLED', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The named retry policies: one place says how long p2m rides out each kind of trouble.
 * `deadlineMs` comes from configuration (P2M_SINK_DEADLINE_MS, P2M_KAFKA_DEADLINE_MS).
 */
export const RetryPolicies = {
  /** Milvus writes, flushes and reads: until the sink deadline, then the job fails naming Milvus. */
  sink(address: string, deadlineMs: number, signal?: AbortSignal, onRetry?: RetryOptions['onRetry']): RetryOptions {
    return {
      retries: Infinity,
      deadlineMs,
      maxDelayMs: 5_000,
      signal,
      onRetry,
      system: `Milvus (${address})`,
      exhaustedHint: 'once Milvus answers again, resume the job',
    };
  },
  /** Kafka sends, commits and offset reads: until the Kafka deadline. */
  log(deadlineMs: number, signal?: AbortSignal, onRetry?: RetryOptions['onRetry']): RetryOptions {
    return { retries: Infinity, deadlineMs, maxDelayMs: 5_000, signal, onRetry, system: 'Kafka', exhaustedHint: 'once Kafka answers again, resume the job' };
  },
  /** Planning calls a person waits for (describe, capabilities): about 20 s of backoff at most. */
  planning(system: string): RetryOptions {
    return { retries: 8, initialDelayMs: 200, maxDelayMs: 4_000, system, exhaustedHint: 'try again once it answers' };
  },
} as const;

/** How long Milvus and Kafka may stay unreachable by default (P2M_SINK_DEADLINE_MS, P2M_KAFKA_DEADLINE_MS). */
export const DEFAULT_DEADLINE_MS = 120_000;
