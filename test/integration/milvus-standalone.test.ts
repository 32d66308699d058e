// The Milvus standalone server of the test stack (`milvus-standalone`: PyPI `milvus` 2.3.5, the real
// server with its rocksmq WAL, beside Milvus Lite), through the Milvus Node SDK directly: the
// property that makes it a real target (an acknowledged insert survives a SIGKILL of the server)
// and what it does not do that Lite does (sparse vectors, queries on a collection not loaded).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { QUIET_KEEPALIVE } from '@p2m/milvus-sink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, procInfo, stackDown, stackUp } from '@p2m/stack';
import type { StackOptionsInput } from '@p2m/stack';
import { TEST_STANDALONE_PORTS } from './global-setup.ts';
import { killComponent, milvusStandaloneAddress, startComponent } from './stack.ts';

const DIM = 8;
const name = (prefix: string): string => `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;

interface Status {
  code?: number;
  error_code?: string | number;
  reason?: string;
}
/** Milvus answers errors in-band; some servers set only one of code / error_code. */
const failed = (s: Status | undefined): boolean =>
  s !== undefined && ((s.code !== undefined && s.code !== 0) || (s.error_code !== undefined && s.error_code !== 'Success'));
const ok = (what: string, s: Status | undefined): void => {
  if (failed(s)) throw new Error(`${what}: ${s?.error_code}/${s?.code} ${s?.reason}`);
};

async function connect(address = milvusStandaloneAddress()): Promise<MilvusClient> {
  const client = new MilvusClient({
    address,
    logLevel: 'error',
    timeout: 30_000,
    channelOptions: QUIET_KEEPALIVE,
  });
  await client.connectPromise;
  return client;
}

function rows(prefix: string, count: number): { id: string; vector: number[]; color: string; rank: number }[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    vector: Array.from({ length: DIM }, (_, d) => ((i * 31 + d * 7) % 97) / 97 + 0.01),
    color: i % 2 ? 'red' : 'blue',
    rank: i,
  }));
}

/** count(*) at strong consistency: every acknowledged write is counted. */
async function count(client: MilvusClient, collection: string): Promise<{ status: Status; count?: number }> {
  const res = await client.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: ConsistencyLevelEnum.Strong });
  const value = (res.data[0] as Record<string, unknown> | undefined)?.['count(*)'];
  return value === undefined ? { status: res.status } : { status: res.status, count: Number(value) };
}

/** The dynamic field's keys of a row: flat in newer servers, under `$meta` in this one. */
const metaOf = (row: Record<string, unknown>): Record<string, unknown> => ({ ...((row.$meta as Record<string, unknown> | undefined) ?? {}), ...row });

describe('Milvus standalone server (test stack component milvus-standalone)', () => {
  let client: MilvusClient;
  const created: string[] = [];

  beforeAll(async () => {
    client = await connect();
  });

  afterAll(async () => {
    for (const collection of created) await client.dropCollection({ collection_name: collection }).catch(() => undefined);
    await client.closeConnection().catch(() => undefined);
  });

  async function createDense(collection: string): Promise<void> {
    created.push(collection);
    ok(
      'createCollection',
      await client.createCollection({
        collection_name: collection,
        enable_dynamic_field: true,
        fields: [
          { name: 'id', data_type: DataType.VarChar, is_primary_key: true, autoID: false, max_length: 512 },
          { name: 'vector', data_type: DataType.FloatVector, dim: DIM },
        ],
      }),
    );
  }

  it('is the 2.3.5 server, and calls itself "lite": its version string cannot tell it from Milvus Lite', async () => {
    expect((await client.getVersion()).version).toBe('v2.3.5-lite');
  });

  it('keeps every acknowledged insert across a SIGKILL of the server, flushed or not', { timeout: 240_000 }, async () => {
    const collection = name('std_smoke');
    await createDense(collection);
    const flushed = rows('flushed', 2_000);
    const res1 = await client.insert({ collection_name: collection, data: flushed });
    ok('insert', res1.status);
    expect(Number(res1.insert_cnt)).toBe(2_000);
    ok('flush', (await client.flushSync({ collection_names: [collection] })).status);
    ok('createIndex', await client.createIndex({ collection_name: collection, field_name: 'vector', index_type: 'AUTOINDEX', metric_type: 'COSINE' }));
    ok('loadCollection', await client.loadCollectionSync({ collection_name: collection }));
    expect((await count(client, collection)).count).toBe(2_000);

    // Acknowledged, never flushed: only the WAL holds these when the server dies.
    const unflushed = rows('unflushed', 1_000);
    const res2 = await client.insert({ collection_name: collection, data: unflushed });
    ok('insert', res2.status);
    expect(Number(res2.insert_cnt)).toBe(1_000);

    await client.closeConnection();
    try {
      await killComponent('milvus-standalone', 'SIGKILL');
    } finally {
      // Whatever happened, the server runs again for the tests after this one.
      await startComponent('milvus-standalone');
      client = await connect();
    }

    // The restarted server loads the collection again by itself; until then it refuses queries.
    const deadline = Date.now() + 120_000;
    let after = await count(client, collection);
    while (after.count === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      after = await count(client, collection);
    }
    expect(after.count, `count(*) after the restart: ${after.status.reason ?? ''}`).toBe(3_000);

    // The unflushed rows are whole: vector and dynamic fields as written.
    const sample = [unflushed[0]!, unflushed[501]!, unflushed[999]!];
    const got = await client.query({
      collection_name: collection,
      filter: `id in [${sample.map((r) => JSON.stringify(r.id)).join(', ')}]`,
      output_fields: ['id', 'vector', 'color', 'rank'],
      consistency_level: ConsistencyLevelEnum.Strong,
    });
    ok('query', got.status);
    const byId = new Map(got.data.map((row) => [String(row.id), metaOf(row as Record<string, unknown>)]));
    for (const want of sample) {
      const row = byId.get(want.id);
      expect(row, want.id).toBeDefined();
      expect(row!.color).toBe(want.color);
      expect(Number(row!.rank)).toBe(want.rank);
      expect(Array.from(row!.vector as number[])).toEqual(want.vector.map((v) => Math.fround(v)));
    }
  });

  it('refuses a query on a collection that is not loaded (Milvus Lite answers it)', async () => {
    const collection = name('std_unloaded');
    await createDense(collection);
    ok('insert', (await client.insert({ collection_name: collection, data: rows('r', 10) })).status);
    const res = await count(client, collection);
    expect(res.count).toBeUndefined();
    expect(failed(res.status)).toBe(true);
    expect(res.status.reason).toMatch(/collection not loaded/);
  });

  it('has no sparse vectors (Milvus 2.4+): a SPARSE_FLOAT_VECTOR field takes no row and no index', async () => {
    const collection = name('std_sparse');
    created.push(collection);
    // 2.3.5 creates the collection (it knows the type number) but can do nothing with the field.
    const create = await client.createCollection({
      collection_name: collection,
      enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.VarChar, is_primary_key: true, autoID: false, max_length: 512 },
        { name: 'sparse_vector', data_type: DataType.SparseFloatVector },
      ],
    });
    const insert = failed(create) ? undefined : await client.insert({ collection_name: collection, data: [{ id: 'a', sparse_vector: { 1: 0.5, 7: 0.25 } }] });
    const index = failed(create)
      ? undefined
      : await client.createIndex({ collection_name: collection, field_name: 'sparse_vector', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' });
    expect(failed(create) || (failed(insert?.status) && failed(index)), JSON.stringify({ create, insert: insert?.status, index })).toBe(true);
    if (!failed(create)) {
      expect(Number(insert!.insert_cnt)).toBe(0);
      expect(index!.reason).toMatch(/not supported/);
    }
  });
});

describe("p2m stack up --milvus standalone: the standalone server as the stack's Milvus", () => {
  it('serves at the Milvus port instead of Lite, stays on a plain up, and stack down stops it within its bound', { timeout: 180_000 }, async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'p2m-stack-standalone-'));
    // A second instance beside the test stack's: its own ports, 100 above the test stack's block.
    const s = TEST_STANDALONE_PORTS;
    const input: StackOptionsInput = {
      stateDir,
      ports: { milvus: await freePort() },
      milvus: 'standalone',
      milvusStandalone: { port: s.port + 100, etcdPort: s.etcdPort + 100, metricsPort: s.metricsPort + 100, internalPort: s.internalPort + 100 },
      components: ['milvus'],
      log: () => undefined,
    };
    let pid: number | null = null;
    try {
      const up = await stackUp(input);
      expect(up.components.map((c) => [c.name, c.health, c.port])).toEqual([['milvus', 'healthy', input.ports!.milvus]]);
      pid = up.components[0]!.pid;
      expect(up.env.P2M_MILVUS_ADDRESS).toBe(`127.0.0.1:${input.ports!.milvus}`);
      const client = await connect(up.env.P2M_MILVUS_ADDRESS);
      try {
        // Lite 3.2.2 answers with its own version.
        expect((await client.getVersion()).version).toBe('v2.3.5-lite');
      } finally {
        await client.closeConnection();
      }
      // An up that does not name a server keeps the one the stack runs (and its data).
      const { milvus: _chosen, ...plain } = input;
      const again = await stackUp(plain);
      expect(again.components.map((c) => [c.name, c.health, c.pid])).toEqual([['milvus', 'healthy', pid]]);
    } finally {
      const started = Date.now();
      const down = await stackDown({ stateDir, log: () => undefined });
      const seconds = (Date.now() - started) / 1000;
      rmSync(stateDir, { recursive: true, force: true });
      expect(down.stopped.map((p) => p.name)).toEqual(pid === null ? [] : ['milvus']);
      expect(seconds).toBeLessThan(30);
      if (pid !== null) expect(procInfo(pid).running).toBe(false);
    }
  });
});
