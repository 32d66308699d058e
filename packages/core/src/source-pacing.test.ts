import { describe, expect, it } from 'vitest';
import { EtlError } from './errors.ts';
import type { PineconeSourcePort, SourceRequestRunner } from './ports.ts';
import { RetriesExhausted } from './retry.ts';
import type { ListPage, NamespaceInfo, SourceVector } from './source-model.ts';
import {
  callWithBudget,
  createSourceBudgets,
  isPacedSource,
  pacedSource,
  RateBudget,
  SourceBudgetRegistry,
  type BudgetClock,
  type SourceRetryInfo,
} from './source-pacing.ts';

/** A manual clock: `advance` moves time forward and fires due sleeps in order. */
class FakeClock implements BudgetClock {
  private t = 0;
  private timers: { at: number; resolve: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timers.push({ at: this.t + ms, resolve });
      this.timers.sort((a, b) => a.at - b.at);
    });
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    for (;;) {
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.resolve();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Fire `n` acquisitions at once and record when each was granted. */
function acquireMany(budget: RateBudget, clock: FakeClock, n: number): number[] {
  const granted: number[] = [];
  for (let i = 0; i < n; i++) void budget.acquire().then(() => granted.push(clock.now()));
  return granted;
}

describe('RateBudget', () => {
  it('lets a burst through at once, then holds the configured rate', async () => {
    const clock = new FakeClock();
    const budget = new RateBudget({ name: 'list', ratePerSecond: 200, burst: 10, clock });
    const granted = acquireMany(budget, clock, 500);
    await clock.advance(0);
    expect(granted).toHaveLength(10);
    await clock.advance(1000);
    // 10 burst + 200 per second, never more
    expect(granted.length).toBeGreaterThanOrEqual(205);
    expect(granted.length).toBeLessThanOrEqual(211);
    await clock.advance(1000);
    expect(granted.length).toBeGreaterThanOrEqual(405);
    expect(granted.length).toBeLessThanOrEqual(411);
  });

  it('serves waiters in arrival order', async () => {
    const clock = new FakeClock();
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 10, burst: 1, clock });
    const order: number[] = [];
    for (let i = 0; i < 5; i++) void budget.acquire().then(() => order.push(i));
    await clock.advance(1000);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('halves the rate on a 429, once per overload, holds it, then recovers gradually', async () => {
    const clock = new FakeClock();
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 100, holdMs: 2000, recoveryMs: 10_000, cutCooldownMs: 1000, clock });
    budget.onThrottled();
    budget.onThrottled(); // in-flight requests of the same overload
    expect(budget.rate()).toBe(50);
    await clock.advance(500);
    budget.onThrottled(); // within the cooldown: still the same overload
    expect(budget.rate()).toBe(50);
    await clock.advance(1500);
    expect(budget.rate()).toBe(50); // end of hold
    await clock.advance(5000);
    expect(budget.rate()).toBeCloseTo(75);
    await clock.advance(5000);
    expect(budget.rate()).toBe(100);
    expect(budget.state().throttled).toBe(3);
  });

  it('cuts again for a new overload, never below the floor', async () => {
    const clock = new FakeClock();
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 100, minRatePerSecond: 20, cutCooldownMs: 100, clock });
    for (let i = 0; i < 5; i++) {
      budget.onThrottled();
      await clock.advance(150);
    }
    expect(budget.rate()).toBe(20);
  });

  it('grants at the reduced rate after a 429 and honours Retry-After', async () => {
    const clock = new FakeClock();
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 100, burst: 5, holdMs: 60_000, clock });
    budget.onThrottled(500);
    const granted = acquireMany(budget, clock, 200);
    await clock.advance(499);
    expect(granted).toHaveLength(0); // paused by Retry-After
    await clock.advance(1501);
    // 2 s elapsed, 0.5 s paused, bucket emptied by the 429: about 1.5 s at 50/s (plus what accrued while paused)
    expect(granted.length).toBeGreaterThanOrEqual(74);
    expect(granted.length).toBeLessThanOrEqual(106);
    expect(granted.every((t) => t >= 500)).toBe(true);
  });

  it('drops an aborted waiter without consuming a token', async () => {
    const clock = new FakeClock();
    const budget = new RateBudget({ name: 'list', ratePerSecond: 1, burst: 1, clock });
    await budget.acquire();
    const ac = new AbortController();
    const aborted = budget.acquire(ac.signal);
    const next = budget.acquire();
    ac.abort(new EtlError('CANCELLED', 'stop'));
    await expect(aborted).rejects.toThrow('stop');
    let done = false;
    void next.then(() => (done = true));
    await clock.advance(1000);
    expect(done).toBe(true);
    expect(budget.state().waiting).toBe(0);
  });
});

describe('callWithBudget', () => {
  it('retries a 429 after backing off, slows the shared budget, and succeeds', async () => {
    // real clock: the retry's own backoff sleeps in real time anyway
    const budget = new RateBudget({ name: 'list', ratePerSecond: 1000, burst: 1000 });
    let calls = 0;
    const result = await callWithBudget(
      budget,
      async () => {
        calls += 1;
        if (calls <= 2) throw new EtlError('RATE_LIMITED', 'slow down', { details: { retryAfterMs: 0 } });
        return 'ok';
      },
      { retry: { initialDelayMs: 1, maxDelayMs: 2 } },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(budget.state().throttled).toBe(2);
    expect(budget.rate()).toBe(500); // the second 429 fell inside the cut's cooldown
  });

  it('does not retry a permanent error', async () => {
    const budget = new RateBudget({ name: 'list', ratePerSecond: 1000 });
    let calls = 0;
    const err = new EtlError('SOURCE_UNAUTHORIZED', 'no', { retriable: false });
    await expect(
      callWithBudget(budget, async () => {
        calls += 1;
        throw err;
      }),
    ).rejects.toBe(err);
    expect(calls).toBe(1);
  });
});

/** A clock the calls move by hand; a budget's own waits move it too and resolve at once. */
function steppedClock(): BudgetClock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

const rateLimited = () => new EtlError('RATE_LIMITED', 'Pinecone rate-limited fetch (HTTP 429)', { details: { status: 429 } });
const fast = { initialDelayMs: 1, maxDelayMs: 2 };

describe('callWithBudget deadline', () => {
  it('gives up on a source that answers nothing past the deadline, saying how long it tried', async () => {
    const clock = steppedClock();
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 1e6, burst: 1e6, clock });
    let calls = 0;
    const err = await callWithBudget(
      budget,
      async () => {
        calls += 1;
        clock.t += 400;
        throw new EtlError('TRANSIENT', 'Pinecone unreachable for fetch: ECONNREFUSED');
      },
      { retry: { ...fast, deadlineMs: 1_000 } },
    ).catch((e: unknown) => e as EtlError);
    expect(calls).toBe(3); // 400, 800, 1200 ms: the third failure is past the deadline
    expect(err).toBeInstanceOf(RetriesExhausted);
    expect(err.code).toBe('TRANSIENT');
    expect(err.retriable).toBe(false); // the caller's own retry stops here
    expect(err.message).toBe('Pinecone stayed unreachable for 1 s (3 attempts): Pinecone unreachable for fetch: ECONNREFUSED');
  });

  it('keeps retrying a 429 past the deadline while other calls of the budget are answered, and stops once they are not', async () => {
    const clock = steppedClock();
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 1e6, burst: 1e6, cutCooldownMs: 0, clock });
    let calls = 0;
    let othersAnswered = true;
    const err = await callWithBudget(
      budget,
      async () => {
        calls += 1;
        clock.t += 300;
        // Meanwhile other namespaces' fetches get through: the index makes progress.
        if (othersAnswered) await callWithBudget(budget, async () => 'other answer');
        if (calls === 10) othersAnswered = false;
        throw rateLimited();
      },
      { retry: { ...fast, deadlineMs: 1_000 } },
    ).catch((e: unknown) => e as EtlError);
    // 10 calls (3,000 ms) with progress around them, then 1,000 ms more without any answer.
    expect(calls).toBe(14);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.message).toMatch(/^Pinecone stayed unreachable for 4 s \(14 attempts\)/);
    expect(budget.state().throttled).toBe(13);
  });

  it('a stop ends the wait at once with the signal’s reason, not a source failure', async () => {
    const budget = new RateBudget({ name: 'fetch', ratePerSecond: 1000 });
    const ac = new AbortController();
    const stop = new EtlError('CANCELLED', 'job cancelled');
    const call = callWithBudget(
      budget,
      async () => {
        ac.abort(stop);
        throw rateLimited();
      },
      { signal: ac.signal, retry: { initialDelayMs: 60_000 } },
    );
    await expect(call).rejects.toBe(stop);
  });
});

/** A source whose list namespaces takes `pages` requests and whose calls fail as told. */
class ScriptedSource implements PineconeSourcePort {
  readonly calls: string[] = [];
  readonly failures = new Map<string, unknown[]>();

  private fail(what: string): void {
    this.calls.push(what);
    const next = this.failures.get(what)?.shift();
    if (next !== undefined) throw next;
  }

  async describeIndex(): Promise<never> {
    this.fail('describe');
    throw new EtlError('INTERNAL', 'not used', { retriable: false });
  }

  async listNamespaces(run?: SourceRequestRunner): Promise<NamespaceInfo[]> {
    const out: NamespaceInfo[] = [];
    const request = <T>(fn: () => Promise<T>): Promise<T> => (run ? run('list_namespaces', fn) : fn());
    for (let page = 1; page <= 3; page++) {
      out.push(
        ...(await request(async () => {
          this.fail(`namespaces page ${page}`);
          return [{ name: `ns-${page}`, recordCount: page }];
        })),
      );
    }
    return out;
  }

  async listPage(namespace: string): Promise<ListPage> {
    this.fail(`list ${namespace}`);
    return { ids: ['a'], next: null };
  }

  async fetch(namespace: string, ids: string[]): Promise<SourceVector[]> {
    this.fail(`fetch ${namespace}`);
    return ids.map((id) => ({ id, values: [1] }));
  }
}

describe('pacedSource', () => {
  it('retries one page of list namespaces on a 429, not the whole listing, under the list budget', async () => {
    const inner = new ScriptedSource();
    inner.failures.set('namespaces page 2', [rateLimited(), rateLimited()]);
    const budgets = createSourceBudgets({ listPerSecond: 1000, fetchPerSecond: 1000 });
    const retries: SourceRetryInfo[] = [];
    const source = pacedSource(inner, budgets, { retry: fast, onRetry: (info) => retries.push(info) });
    await expect(source.listNamespaces()).resolves.toEqual([
      { name: 'ns-1', recordCount: 1 },
      { name: 'ns-2', recordCount: 2 },
      { name: 'ns-3', recordCount: 3 },
    ]);
    expect(inner.calls).toEqual(['namespaces page 1', 'namespaces page 2', 'namespaces page 2', 'namespaces page 2', 'namespaces page 3']);
    expect(retries.map((r) => r.operation)).toEqual(['list_namespaces', 'list_namespaces']);
    expect(budgets.list.state().throttled).toBe(2);
    expect(budgets.fetch.state().throttled).toBe(0);
  });

  it('paces and retries fetch under the fetch budget, naming the namespace; a refused key fails at once', async () => {
    const inner = new ScriptedSource();
    inner.failures.set('fetch tenant-7', [rateLimited()]);
    inner.failures.set('list tenant-8', [new EtlError('SOURCE_UNAUTHORIZED', 'the Pinecone API key was refused', { retriable: false })]);
    const budgets = createSourceBudgets();
    const retries: SourceRetryInfo[] = [];
    const source = pacedSource(inner, budgets, { retry: fast, onRetry: (info) => retries.push(info) });
    await expect(source.fetch('tenant-7', ['x'])).resolves.toEqual([{ id: 'x', values: [1] }]);
    expect(retries).toMatchObject([{ operation: 'fetch', namespace: 'tenant-7', delayMs: expect.any(Number) }]);
    expect(budgets.fetch.state().throttled).toBe(1);
    await expect(source.listPage('tenant-8', null)).rejects.toMatchObject({ code: 'SOURCE_UNAUTHORIZED' });
    expect(inner.calls.filter((c) => c === 'list tenant-8')).toHaveLength(1);
  });

  it('withPacing keeps the budgets; pacing a paced source twice is refused', async () => {
    const budgets = createSourceBudgets();
    const source = pacedSource(new ScriptedSource(), budgets);
    const other = source.withPacing({ retry: fast });
    expect(isPacedSource(other)).toBe(true);
    expect(other.budgets).toBe(budgets);
    expect(isPacedSource(new ScriptedSource())).toBe(false);
    expect(() => pacedSource(source, createSourceBudgets())).toThrow(/paced already/);
  });

  it('holds every caller of one index to one budget: 300 fetches from two callers at 100/s take about 3 s of budget', async () => {
    const clock = new FakeClock();
    const registry = new SourceBudgetRegistry({ clock, burst: 1 });
    const index = { index: 'docs', controllerHostUrl: 'http://127.0.0.1:5080' };
    const planner = pacedSource(new ScriptedSource(), registry.budgetsFor(index));
    const extractor = pacedSource(new ScriptedSource(), registry.budgetsFor(index, { listPerSecond: 200, fetchPerSecond: 100 }));
    expect(registry.budgetsFor(index)).toBe(planner.budgets);
    expect(extractor.budgets).toBe(planner.budgets);
    expect(registry.budgetsFor({ index: 'other' })).not.toBe(planner.budgets);
    expect(registry.budgetsFor(index, { listPerSecond: 200, fetchPerSecond: 20 })).not.toBe(planner.budgets);
    let done = 0;
    for (let i = 0; i < 150; i++) {
      void planner.fetch('a', ['x']).then(() => done++);
      void extractor.fetch('b', ['y']).then(() => done++);
    }
    await clock.advance(1000);
    expect(done).toBeGreaterThanOrEqual(99);
    expect(done).toBeLessThanOrEqual(102);
    await clock.advance(2000);
    expect(done).toBe(300);
  });
});
