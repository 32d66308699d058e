import { EtlError, isRetriable } from './errors.ts';
import type { PineconeSourcePort, SourceRequestRunner } from './ports.ts';
import { RetriesExhausted, retry, sleep, type RetryOptions } from './retry.ts';
import type { IndexDescription, ListPage, NamespaceInfo, SourceVector } from './source-model.ts';
import type { PipelineOptions } from './spec.ts';

/**
 * Every Pinecone call of a process goes through one rate budget per source index and operation
 * family, so the extractor's namespaces, the controller's planning and verification's sampled
 * fetches share Pinecone's per-index allowance instead of each assuming it has all of it.
 *
 * A budget is a token bucket with a FIFO queue of waiters: tokens refill at the current rate up to
 * `burst`; a waiter is let through when a token is there. On a 429 (`onThrottled`) the rate halves
 * (at most once per `cutCooldownMs`: the requests already in flight were sent at the old rate and
 * will 429 too), the bucket is emptied, a Retry-After pauses it, and after `holdMs` the rate climbs
 * linearly back to the configured one over `recoveryMs` (additive increase, multiplicative decrease).
 *
 * `pacedSource` wraps a `PineconeSourcePort` so each of its calls takes a token, retries retriable
 * failures with capped exponential backoff and jitter, and slows the shared budget on a 429.
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
  readonly clock: BudgetClock;
  private readonly burst: number;
  private readonly minRate: number;
  private readonly holdMs: number;
  private readonly recoveryMs: number;
  private readonly cutCooldownMs: number;

  private tokens: number;
  private refilledAt: number;
  /** The rate right after the last cut; null while at the configured rate. */
  private reducedRate: number | null = null;
  private cutAt = -Infinity;
  private pausedUntil = -Infinity;
  private throttled = 0;
  private answeredAt = -Infinity;
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

  /** A request of this budget got an answer: the index is making progress. */
  onAnswered(): void {
    this.answeredAt = this.clock.now();
  }

  /** When a request of this budget last got an answer (clock ms; -Infinity before the first). */
  lastAnsweredAt(): number {
    return this.answeredAt;
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

/** Pinecone's describe_index_stats limit per serverless index; describe_index shares it here. */
export const DESCRIBE_PER_SECOND = 100;

/**
 * The budgets of one source index: `list` (list and list namespaces), `fetch`, and `describe`
 * (describe_index_stats and describe_index).
 */
export interface SourceBudgets {
  list: RateBudget;
  fetch: RateBudget;
  describe: RateBudget;
}

export type SourceRateLimits = Pick<PipelineOptions['rateLimits'], 'listPerSecond' | 'fetchPerSecond'>;

/** Pinecone's serverless limits per index (standard plan), the job spec's defaults. */
export const PINECONE_RATE_LIMITS: SourceRateLimits = { listPerSecond: 200, fetchPerSecond: 100 };

export function createSourceBudgets(
  limits: SourceRateLimits = PINECONE_RATE_LIMITS,
  tuning: Omit<RateBudgetOptions, 'name' | 'ratePerSecond'> = {},
): SourceBudgets {
  return {
    list: new RateBudget({ ...tuning, name: 'list', ratePerSecond: limits.listPerSecond }),
    fetch: new RateBudget({ ...tuning, name: 'fetch', ratePerSecond: limits.fetchPerSecond }),
    describe: new RateBudget({ ...tuning, name: 'describe', ratePerSecond: Math.min(DESCRIBE_PER_SECOND, limits.fetchPerSecond) }),
  };
}

/**
 * The budgets of every source index one process reads, made on first use. An index is known by
 * its control-plane URL and name; jobs that set other `rateLimits` for the same index get budgets of
 * their own at those rates. Budgets are per process: two processes reading one index (an extractor
 * and a controller verifying, or two extractors' jobs) each pace to the full limits, and Pinecone's
 * 429s, which slow every budget that sees them, settle the sum.
 */
export class SourceBudgetRegistry {
  private readonly byIndex = new Map<string, SourceBudgets>();
  private readonly tuning: Omit<RateBudgetOptions, 'name' | 'ratePerSecond'>;

  constructor(tuning: Omit<RateBudgetOptions, 'name' | 'ratePerSecond'> = {}) {
    this.tuning = tuning;
  }

  budgetsFor(index: { index: string; controllerHostUrl?: string | undefined }, limits: SourceRateLimits = PINECONE_RATE_LIMITS): SourceBudgets {
    const key = [index.controllerHostUrl ?? 'pinecone', index.index, limits.listPerSecond, limits.fetchPerSecond].join('\u0000');
    let budgets = this.byIndex.get(key);
    if (!budgets) this.byIndex.set(key, (budgets = createSourceBudgets(limits, this.tuning)));
    return budgets;
  }
}

/** How a source call is retried; the defaults ride out a few minutes of Pinecone trouble. */
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

const isRateLimited = (err: unknown): boolean => err instanceof EtlError && err.code === 'RATE_LIMITED';

/**
 * One source call under its budget: take a token, call, and on a retriable failure back off with
 * capped exponential backoff and jitter (`retry`) and take a new token. A 429 also slows the budget
 * for every caller sharing it, and honours Retry-After through it.
 *
 * The call gives up once `deadlineMs` passed since it began — except on a 429 while the budget's
 * other calls are still answered within that window: a 429 says "slower", not "down", so it never
 * ends a call while the index makes progress. That wait still ends: the other calls run out of work
 * (their job is finite) or stop being answered, and then the deadline applies. Giving up throws
 * `RetriesExhausted` naming `system` (not retriable: the caller's own retry stops there too).
 */
export function callWithBudget<T>(
  budget: RateBudget,
  fn: () => Promise<T>,
  options: {
    signal?: AbortSignal | undefined;
    retry?: SourceRetryOptions | undefined;
    onRetry?: ((error: unknown, delayMs: number) => void) | undefined;
    /** Who did not answer, for the error ("Pinecone"). */
    system?: string | undefined;
  } = {},
): Promise<T> {
  const policy = { ...DEFAULT_SOURCE_RETRY, ...options.retry };
  const deadlineMs = policy.deadlineMs ?? Infinity;
  const clock = budget.clock;
  const started = clock.now();
  let lastError: unknown;
  let attempts = 0;
  const shouldRetry = (err: unknown): boolean => {
    lastError = err;
    if (!isRetriable(err)) return false;
    const now = clock.now();
    if (now - started < deadlineMs) return true;
    return isRateLimited(err) && now - budget.lastAnsweredAt() < deadlineMs;
  };
  return retry(
    async () => {
      await budget.acquire(options.signal);
      attempts += 1;
      const value = await fn();
      budget.onAnswered();
      return value;
    },
    {
      retries: policy.retries,
      initialDelayMs: policy.initialDelayMs,
      maxDelayMs: policy.maxDelayMs,
      random: policy.random,
      signal: options.signal,
      shouldRetry,
      onRetry: ({ error, delayMs }) => {
        if (isRateLimited(error)) budget.onThrottled(retryAfterOf(error));
        options.onRetry?.(error, delayMs);
      },
    },
  ).catch((err: unknown) => {
    // A stop is not a source failure; anything else past its deadline says so.
    if (options.signal?.aborted || err !== lastError || !isRetriable(err)) throw err;
    throw new RetriesExhausted(options.system ?? 'Pinecone', err, attempts, clock.now() - started, 'once Pinecone answers again, resume the job');
  });
}

// ---------------------------------------------------------------- the paced source

export type SourceCallOperation = 'describe_index' | 'describe_index_stats' | 'list_namespaces' | 'list' | 'fetch';

export interface SourceRetryInfo {
  operation: SourceCallOperation;
  /** For list and fetch. */
  namespace?: string | undefined;
  error: unknown;
  delayMs: number;
}

/** What one caller brings to the shared budgets: its stop signal, retry policy and retry reporting. */
export interface SourcePacing {
  /** Names the source in errors (default "Pinecone"). */
  system?: string | undefined;
  /** Ends waits and retries at once (the call then rejects with the signal's reason). */
  signal?: AbortSignal | undefined;
  retry?: SourceRetryOptions | undefined;
  onRetry?: ((info: SourceRetryInfo) => void) | undefined;
}

/** A source whose every call is paced by `budgets` and retried; see `pacedSource`. */
export interface PacedSource extends PineconeSourcePort {
  readonly budgets: SourceBudgets;
  /** The same source on the same budgets, for a caller with its own signal, retry policy or reporting (what it sets replaces this source's). */
  withPacing(pacing: SourcePacing): PacedSource;
}

const PACED = Symbol('p2m.pacedSource');

export function isPacedSource(source: PineconeSourcePort): source is PacedSource {
  return (source as { [PACED]?: true })[PACED] === true;
}

/**
 * `source` with every call under `budgets` (describe → describe, each list-namespaces page and list →
 * list, fetch → fetch) and retried per `pacing` (`callWithBudget`). A source is paced once: wrapping a
 * paced source is refused, use its `withPacing` to change signal, policy or reporting.
 */
export function pacedSource(source: PineconeSourcePort, budgets: SourceBudgets, pacing: SourcePacing = {}): PacedSource {
  if (isPacedSource(source)) {
    throw new EtlError('INTERNAL', 'this Pinecone source is paced already; use its withPacing() instead of pacing it twice', { retriable: false });
  }
  const call = <T>(budget: RateBudget, operation: SourceCallOperation, namespace: string | undefined, fn: () => Promise<T>): Promise<T> =>
    callWithBudget(budget, fn, {
      signal: pacing.signal,
      retry: pacing.retry,
      system: pacing.system,
      onRetry: pacing.onRetry ? (error, delayMs) => pacing.onRetry?.({ operation, namespace, error, delayMs }) : undefined,
    });
  const runRequest: SourceRequestRunner = (operation, request) =>
    call(operation === 'list_namespaces' ? budgets.list : budgets.describe, operation, undefined, request);
  const paced: PacedSource & { [PACED]: true } = {
    [PACED]: true,
    budgets,
    withPacing: (next) => pacedSource(source, budgets, { ...pacing, ...next }),
    describeIndex: (): Promise<IndexDescription> => call(budgets.describe, 'describe_index', undefined, () => source.describeIndex()),
    // Page by page: a 429 on page 500 of 1,000 retries that page, not the whole listing.
    listNamespaces: (): Promise<NamespaceInfo[]> => source.listNamespaces(runRequest),
    listPage: (namespace: string, token: string | null, limit?: number): Promise<ListPage> =>
      call(budgets.list, 'list', namespace, () => source.listPage(namespace, token, limit)),
    fetch: (namespace: string, ids: string[]): Promise<SourceVector[]> => call(budgets.fetch, 'fetch', namespace, () => source.fetch(namespace, ids)),
  };
  return paced;
}
