import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import { callWithBudget, RateBudget, type BudgetClock } from './rate-budget.ts';

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
