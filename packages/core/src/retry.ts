import { EtlError, isRetriable } from './errors.ts';

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
      if (attempt >= retries || expired || !shouldRetry(err)) throw err;
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
