import { describe, expect, it } from 'vitest';
import { EtlError, parseJobSpec, planCollection } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import type { MilvusConnection } from './connection.ts';
import { waitForIndexes } from './indexes.ts';

const plan = planCollection({
  spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: 'h:1', collection: 'coll' } }),
  index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
  namespaces: [{ name: 'ns', recordCount: 2 }],
  capabilities: fullCapabilities(),
});

/** A server whose index reports these states and indexed rows, one per poll, the last one forever. */
function target(steps: { state: string; indexed: number; reason?: string }[], longTimeout: number) {
  let polls = 0;
  const client = {
    describeIndex: ({ field_name }: { field_name: string }) => {
      const s = steps[Math.min(polls++, steps.length - 1)]!;
      return Promise.resolve({
        status: { error_code: 'Success', code: 0, reason: '' },
        index_descriptions: [
          { field_name, state: s.state, indexed_rows: String(s.indexed), total_rows: '100', index_state_fail_reason: s.reason ?? '', params: [] },
        ],
      });
    },
  };
  const conn = { timeout: 100, longTimeout, call: (_ctx: unknown, fn: (c: unknown) => Promise<unknown>) => fn(client) } as unknown as MilvusConnection;
  return { conn, polls: () => polls };
}

describe('waiting for index builds: while they move, never forever', () => {
  it('returns once every index is Finished, polling while rows get indexed', async () => {
    const t = target(
      [
        { state: 'InProgress', indexed: 0 },
        { state: 'InProgress', indexed: 40 },
        { state: 'InProgress', indexed: 40 },
        { state: 'Finished', indexed: 100 },
      ],
      1_000,
    );
    await waitForIndexes(t.conn, plan, 5);
    expect(plan.indexes).toHaveLength(1);
    expect(t.polls()).toBe(4);
  });

  it('a build the server reports failed ends it for good, with the server’s reason', async () => {
    const t = target([{ state: 'Failed', indexed: 0, reason: 'out of memory' }], 1_000);
    const err = await waitForIndexes(t.conn, plan, 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).retriable).toBe(false);
    expect((err as EtlError).message).toMatch(/out of memory/);
  });

  it('a build that indexes no row for longTimeout fails, retriable, with how far it got', async () => {
    const t = target(
      [
        { state: 'InProgress', indexed: 10 },
        { state: 'InProgress', indexed: 30 },
      ],
      120,
    );
    const err = await waitForIndexes(t.conn, plan, 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).retriable).toBe(true);
    expect((err as EtlError).message).toMatch(/indexed no row for .*30 of 100 rows, state InProgress/);
  });
});
