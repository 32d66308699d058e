// Milvus Lite as the stack starts it, under the write pattern of several loaders at once: each
// deletes its keys in chunks before upserting them (as the writer does on Lite), rewrites rows it
// already stored (a restart, a rewrite round), and flushes (the commit rule), all concurrently.
// Lite 3.2.2 serves requests on a pool of threads with no lock around its writes; with its default
// pool of 10 this test sees flushes fail ("current_seq is monotonic", 2 to 46 per run of this
// shape on this machine), and the CI lost acknowledged rows that way. The stack runs it on one
// worker, where nothing may fail and every row must be there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { fieldIn, statusFailed } from '@p2m/milvus-sink';
import { milvusAddress, uniqueName } from './pipeline-harness.ts';

const WRITERS = 6;
const ROUNDS = 15;
const ROWS = 300;
const DIM = 8;
const KEYS_PER_DELETE = 256;

const collection = uniqueName('lite_concurrency');
const clients: MilvusClient[] = [];
const client = (): MilvusClient => {
  const c = new MilvusClient({ address: milvusAddress(), timeout: 60_000, logLevel: 'error' });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  const res = await client().createCollection({
    collection_name: collection,
    fields: [
      { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
      { name: 'namespace', data_type: DataType.VarChar, max_length: 64, is_partition_key: true },
      { name: 'vector', data_type: DataType.FloatVector, dim: DIM },
    ],
    num_partitions: 16,
    enable_dynamic_field: true,
  });
  expect(statusFailed(res), JSON.stringify(res)).toBe(false);
});

afterAll(async () => {
  await clients[0]?.dropCollection({ collection_name: collection }).catch(() => undefined);
  await Promise.all(clients.map((c) => c.closeConnection()));
});

describe('Milvus Lite as the stack starts it, under concurrent writers', () => {
  it(`${WRITERS} writers deleting, upserting, rewriting and flushing at once: no flush fails, every row is stored`, async () => {
    const problems: string[] = [];
    const keysOf = (w: number, r: number): string[] => Array.from({ length: ROWS }, (_, i) => `w${w}-r${r}-${i}`);

    async function put(c: MilvusClient, w: number, r: number): Promise<void> {
      const keys = keysOf(w, r);
      for (let i = 0; i < keys.length; i += KEYS_PER_DELETE) {
        const chunk = keys.slice(i, i + KEYS_PER_DELETE);
        const del = await c.delete({ collection_name: collection, filter: fieldIn('id', chunk) });
        if (statusFailed(del.status)) problems.push(`writer ${w} delete: ${del.status.reason}`);
      }
      const rows = keys.map((id, i) => ({ id, namespace: `ns-${i % 3}`, vector: Array.from({ length: DIM }, (_, d) => (i + d) / 100), round: r }));
      const up = await c.upsert({ collection_name: collection, data: rows });
      if (statusFailed(up.status) || Number(up.upsert_cnt) !== ROWS) problems.push(`writer ${w} upsert: ${up.status.reason} (${String(up.upsert_cnt)} rows)`);
    }

    async function writer(w: number): Promise<void> {
      const c = client();
      for (let r = 0; r < ROUNDS; r++) {
        await put(c, w, r);
        if (r % 3 === 2) await put(c, w, r - 1);
        const flushed = await c.flush({ collection_names: [collection] });
        if (statusFailed(flushed.status)) problems.push(`writer ${w} flush: ${flushed.status.reason}`);
      }
    }

    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    expect(problems).toEqual([]);

    const c = clients[0]!;
    expect(statusFailed((await c.flush({ collection_names: [collection] })).status)).toBe(false);
    expect(statusFailed(await c.createIndex({ collection_name: collection, field_name: 'vector', index_type: 'FLAT', metric_type: 'L2' }))).toBe(false);
    expect(statusFailed(await c.loadCollectionSync({ collection_name: collection }))).toBe(false);
    const counted = await c.query({ collection_name: collection, filter: '', output_fields: ['count(*)'] });
    expect(Number(counted.data[0]?.['count(*)'])).toBe(WRITERS * ROUNDS * ROWS);
    // Which rows, not only how many: every writer's last round, by key.
    for (let w = 0; w < WRITERS; w++) {
      const keys = keysOf(w, ROUNDS - 1);
      const found = await c.query({
        collection_name: collection,
        filter: fieldIn('id', keys),
        output_fields: ['id'],
        limit: ROWS,
      });
      expect(found.data.length, `writer ${w}`).toBe(ROWS);
    }
  });
});
