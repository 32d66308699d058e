import { describe, expect, it } from 'vitest';
import { EtlError, parseJobSpec, planCollection } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import type { MilvusConnection } from './connection.ts';
import { ensureIndexes, indexBuildDeadline, waitForIndexes } from './indexes.ts';

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

  it('"Finished" with rows still to index is not built: it waits for the rows (an index made on the empty collection)', async () => {
    const t = target(
      [
        { state: 'Finished', indexed: 0 },
        { state: 'Finished', indexed: 0 },
        { state: 'Finished', indexed: 55 },
        { state: 'Finished', indexed: 100 },
      ],
      1_000,
    );
    const seen: [number, number][] = [];
    await waitForIndexes(t.conn, plan, 5, (indexed, total) => seen.push([indexed, total]));
    expect(t.polls()).toBe(4);
    expect(seen).toEqual([
      [0, 100],
      [0, 100],
      [55, 100],
    ]);
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

describe('the deadline of an index build', () => {
  it('is longTimeout on a small collection and grows with rows × dimension on a large one', () => {
    expect(indexBuildDeadline(600_000, 0, 768)).toBe(600_000);
    expect(indexBuildDeadline(600_000, 100_000, 8)).toBe(600_000);
    expect(indexBuildDeadline(600_000, 1_000_000, 768)).toBe(4_908_000);
    expect(indexBuildDeadline(600_000, 10_000_000, 8)).toBe(3_480_000);
  });

  it('is what the create call is given, from the row count Milvus reports', async () => {
    const timeouts: number[] = [];
    const client = {
      describeIndex: () => Promise.resolve({ status: { error_code: 'IndexNotExist', code: 700, reason: 'index not found' } }),
      getCollectionStatistics: () => Promise.resolve({ status: { error_code: 'Success', code: 0, reason: '' }, data: { row_count: '3000000' } }),
      createIndex: ({ timeout }: { timeout: number }) => (timeouts.push(timeout), Promise.resolve({ error_code: 'Success', code: 0, reason: '' })),
    };
    const conn = {
      timeout: 100,
      longTimeout: 600_000,
      call: (_ctx: unknown, fn: (c: unknown) => Promise<unknown>) => fn(client),
    } as unknown as MilvusConnection;
    await ensureIndexes(conn, plan);
    expect(timeouts).toEqual([indexBuildDeadline(600_000, 3_000_000, 2)]);
    expect(timeouts[0]).toBeGreaterThan(600_000);
  });
});

describe('index build progress', () => {
  it('is reported as rows indexed of rows to index while the build runs', async () => {
    const t = target(
      [
        { state: 'InProgress', indexed: 20 },
        { state: 'InProgress', indexed: 60 },
        { state: 'Finished', indexed: 100 },
      ],
      1_000,
    );
    const seen: [number, number][] = [];
    await waitForIndexes(t.conn, plan, 5, (indexed, total) => seen.push([indexed, total]));
    expect(seen).toEqual([
      [20, 100],
      [60, 100],
    ]);
  });
});
