import { describe, expect, it } from 'vitest';
import type { CollectionPlan } from '@p2m/core';
import { ensureCollection, type SinkAdminConnection } from './setup.ts';

/** A target where creating a collection takes a while; the log says who did what, in order. */
function target(log: string[], created: Set<string>, name: string): SinkAdminConnection {
  return {
    collectionExists: (c: string) => (log.push(`${name} exists?`), Promise.resolve(created.has(c))),
    createCollection: async (plan: CollectionPlan) => {
      log.push(`${name} create start`);
      await new Promise((r) => setTimeout(r, 30));
      created.add(plan.collection);
      log.push(`${name} create end`);
    },
    close: () => (log.push(`${name} closed`), Promise.resolve()),
  } as unknown as SinkAdminConnection;
}

describe('set-up of a collection', () => {
  it('runs one at a time per collection in a process: the second finds what the first created', async () => {
    const log: string[] = [];
    const created = new Set<string>();
    const plan = { collection: 'c' } as CollectionPlan;
    await Promise.all([ensureCollection(target(log, created, 'api'), plan), ensureCollection(target(log, created, 'driver'), plan)]);
    expect(log).toEqual(['api exists?', 'api create start', 'api create end', 'api closed', 'driver exists?', 'driver closed']);
  });

  it('a failed set-up does not stop the next one', async () => {
    const log: string[] = [];
    const plan = { collection: 'd' } as CollectionPlan;
    const failing = { ...target(log, new Set(), 'first'), createCollection: () => Promise.reject(new Error('boom')) } as SinkAdminConnection;
    const results = await Promise.allSettled([ensureCollection(failing, plan), ensureCollection(target(log, new Set(), 'second'), plan)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(log).toContain('second create end');
  });
});
