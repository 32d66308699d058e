import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import type { MilvusConnection } from './connection.ts';
import { loadAndWait } from './load.ts';

/** A connection whose server reports these loading percentages, one per poll, the last one forever. */
function target(progress: number[], longTimeout: number) {
  const calls = { load: 0, polls: 0 };
  const client = {
    loadCollectionAsync: () => (calls.load++, Promise.resolve({ error_code: 'Success', code: 0, reason: '' })),
    getLoadingProgress: () => {
      const p = progress[Math.min(calls.polls++, progress.length - 1)];
      return Promise.resolve({ status: { error_code: 'Success', code: 0, reason: '' }, progress: String(p) });
    },
  };
  const conn = { timeout: 100, longTimeout, call: (_ctx: unknown, fn: (c: unknown) => Promise<unknown>) => fn(client) } as unknown as MilvusConnection;
  return { conn, calls };
}
const ctx = (what: string) => ({ what, permanent: 'TARGET_UNSUPPORTED' as const });

describe('loading a collection: waits while it moves, never forever', () => {
  it('returns once the server reports 100 %, however many polls it takes while the percentage moves', async () => {
    const { conn, calls } = target([0, 10, 40, 40, 70, 100], 1_000);
    await loadAndWait(conn, 'c', ctx, 5);
    expect(calls.load).toBe(1);
    expect(calls.polls).toBe(6);
  });

  it('fails, retriable and naming the percentage, when the load stops moving for longTimeout', async () => {
    const { conn } = target([0, 30], 150);
    const started = Date.now();
    const err = await loadAndWait(conn, 'c', ctx, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).retriable).toBe(true);
    expect((err as EtlError).message).toMatch(/"c" made no progress .* \(at 30 %\)/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
