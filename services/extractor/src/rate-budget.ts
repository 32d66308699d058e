import { EtlError, retry, sleep, type PipelineOptions, type RetryOptions } from '@p2m/core';

/**
 * One rate budget per source index and operation (list, fetch), shared by every namespace task, so a
 * run uses the whole Pinecone allowance without provoking a storm of 429s.
 *
 * A token bucket with a FIFO queue of waiters: tokens refill at the current rate up to `burst`; a
 * waiter is let through when a token is there. On a 429 (`onThrottled`) the rate halves (at most once
 * per `cutCooldownMs`: the requests already in flight were sent at the old rate and will 429 too),
 * the bucket is emptied, a Retry-After pauses it, and after `holdMs` the rate climbs linearly back to
 * the configured one over `recoveryMs` (additive increase, multiplicative decrease).
 */

export interface BudgetClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: BudgetClock = {
  now: () => performance.now(),
  sleep: (ms) => sleep(ms),
};

export interface RateBudgetOptions {
  name: string;
  ratePerSecond: number;
  /** Requests that may go at once after a quiet spell; default 1/20 s worth of the rate. */
  burst?: number;
  /** The rate never halves below this; default rate / 64 (at least 0.5/s). */
  minRatePerSecond?: number;
  /** Time at the reduced rate after a cut before recovery starts; default 2 s. */
  holdMs?: number;
  /** Time to climb from the reduced rate back to the configured one; default 10 s. */
  recoveryMs?: number;
  /** 429s this soon after a cut belong to the same overload and do not cut again; default 1 s. */
  cutCooldownMs?: number;
  clock?: BudgetClock;
}

export interface RateBudgetState {
  name: string;
  ratePerSecond: number;
  configuredRatePerSecond: number;
  waiting: number;
  /** 429s reported so far. */
  throttled: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class RateBudget {
  readonly name: string;
  readonly configuredRate: number;
  private readonly burst: number;
  private readonly minRate: number;
  private readonly holdMs: number;
  private readonly recoveryMs: number;
  private readonly cutCooldownMs: number;
  private readonly clock: BudgetClock;

  private tokens: number;
  private refilledAt: number;
  /** The rate right after the last cut; null while at the configured rate. */
  private reducedRate: number | null = null;
  private cutAt = -Infinity;
  private pausedUntil = -Infinity;
  private throttled = 0;
  private readonly queue: Waiter[] = [];
  private timerPending = false;

  constructor(options: RateBudgetOptions) {
    if (!(options.ratePerSecond > 0)) throw new EtlError('INTERNAL', `rate budget "${options.name}" needs a positive rate`);
    this.name = options.name;
    this.configuredRate = options.ratePerSecond;
    this.burst = Math.max(1, options.burst ?? Math.ceil(options.ratePerSecond / 20));
    this.minRate = Math.min(this.configuredRate, options.minRatePerSecond ?? Math.max(0.5, options.ratePerSecond / 64));
    this.holdMs = options.holdMs ?? 2_000;
    this.recoveryMs = Math.max(1, options.recoveryMs ?? 10_000);
    this.cutCooldownMs = options.cutCooldownMs ?? 1_000;
    this.clock = options.clock ?? systemClock;
    this.tokens = this.burst;
    this.refilledAt = this.clock.now();
  }

  /** Requests per second allowed at `now`. */
  rate(now = this.clock.now()): number {
    if (this.reducedRate === null) return this.configuredRate;
    const since = now - this.cutAt;
    if (since <= this.holdMs) return this.reducedRate;
    const progress = Math.min(1, (since - this.holdMs) / this.recoveryMs);
    return this.reducedRate + (this.configuredRate - this.reducedRate) * progress;
  }

  /** Resolves when the caller may send one request; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.queue.indexOf(waiter);
          if (at !== -1) this.queue.splice(at, 1);
          reject(signal?.reason ?? new EtlError('CANCELLED', 'aborted'));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** A request of this budget was answered 429. */
  onThrottled(retryAfterMs?: number): void {
    const now = this.clock.now();
    this.refill(now);
    this.throttled += 1;
    if (now - this.cutAt >= this.cutCooldownMs) {
      this.reducedRate = Math.max(this.minRate, this.rate(now) / 2);
      this.cutAt = now;
    }
    this.tokens = Math.min(this.tokens, 0);
    if (retryAfterMs !== undefined && retryAfterMs > 0) this.pausedUntil = Math.max(this.pausedUntil, now + retryAfterMs);
  }

  state(): RateBudgetState {
    return { name: this.name, ratePerSecond: this.rate(), configuredRatePerSecond: this.configuredRate, waiting: this.queue.length, throttled: this.throttled };
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.refilledAt);
    this.refilledAt = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.rate(now));
    if (this.reducedRate !== null && now - this.cutAt >= this.holdMs + this.recoveryMs) this.reducedRate = null;
  }

  private pump(): void {
    const now = this.clock.now();
    this.refill(now);
    while (this.queue.length > 0 && now >= this.pausedUntil && this.tokens >= 1) {
      const waiter = this.queue.shift()!;
      this.tokens -= 1;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    if (this.queue.length === 0 || this.timerPending) return;
    const untilToken = ((1 - this.tokens) / this.rate(now)) * 1000;
    const wait = Math.max(1, Math.ceil(Math.max(untilToken, this.pausedUntil - now)));
    this.timerPending = true;
    void this.clock.sleep(wait).then(() => {
      this.timerPending = false;
      this.pump();
    });
  }
}

export interface SourceBudgets {
  list: RateBudget;
  fetch: RateBudget;
}

export function createSourceBudgets(
  limits: PipelineOptions['rateLimits'],
  tuning: Omit<RateBudgetOptions, 'name' | 'ratePerSecond'> = {},
): SourceBudgets {
  return {
    list: new RateBudget({ ...tuning, name: 'list', ratePerSecond: limits.listPerSecond }),
    fetch: new RateBudget({ ...tuning, name: 'fetch', ratePerSecond: limits.fetchPerSecond }),
  };
}

/** How the runtime retries a source call; the defaults ride out a few minutes of Pinecone trouble. */
export type SourceRetryOptions = Pick<RetryOptions, 'retries' | 'initialDelayMs' | 'maxDelayMs' | 'deadlineMs' | 'random'>;

export const DEFAULT_SOURCE_RETRY: SourceRetryOptions = {
  retries: Infinity,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  deadlineMs: 5 * 60_000,
};

function retryAfterOf(err: unknown): number | undefined {
  const v = err instanceof EtlError ? err.details?.['retryAfterMs'] : undefined;
  return typeof v === 'number' ? v : undefined;
}

/**
 * One source call under its budget: take a token, call, and on a retriable failure back off with
 * capped exponential backoff and jitter (`retry`) and take a new token. A 429 also slows the budget
 * for every task sharing it.
 */
export function callWithBudget<T>(
  budget: RateBudget,
  fn: () => Promise<T>,
  options: { signal?: AbortSignal | undefined; retry?: SourceRetryOptions | undefined; onRetry?: ((error: unknown, delayMs: number) => void) | undefined } = {},
): Promise<T> {
  return retry(
    async () => {
      await budget.acquire(options.signal);
      return fn();
    },
    {
      ...DEFAULT_SOURCE_RETRY,
      ...options.retry,
      signal: options.signal,
      onRetry: ({ error, delayMs }) => {
        if (error instanceof EtlError && error.code === 'RATE_LIMITED') budget.onThrottled(retryAfterOf(error));
        options.onRetry?.(error, delayMs);
      },
    },
  );
}
