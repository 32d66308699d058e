/**
 * Milvus Lite (or any Milvus) feature probe and upsert benchmark, with the Node SDK the sink uses.
 * Used to choose the Milvus Lite version the local stack runs (2.5.x C++ binary vs 3.x Python server).
 *
 *   npx node bench/milvus-lite.ts --address 127.0.0.1:19530 [--rows 10000] [--batches 500,1000,2000] [--dim 768] [--server-pid PID]
 *
 * Prints one JSON document: server version, one entry per feature the migration needs (ok + detail),
 * and upsert throughput per batch size (rows/s and MB/s of vector + id + metadata payload; with
 * --server-pid also the server's CPU seconds, which stay comparable when the machine is busy).
 * Collections it makes are named `p2m_bench_*` and dropped at the end.
 *
 * It talks to the SDK directly rather than through `@p2m/milvus-sink`: the probes look at raw server
 * answers (status codes, `hasCollection`) that the sink deliberately hides.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { errorMessage } from '@p2m/core';

const { values: args } = parseArgs({
  options: {
    address: { type: 'string', default: '127.0.0.1:19530' },
    rows: { type: 'string', default: '10000' },
    batches: { type: 'string', default: '500,1000,2000' },
    dim: { type: 'string', default: '768' },
    'skip-throughput': { type: 'boolean', default: false },
    /** The server's pid: its CPU seconds per run are reported, a fairer measure than wall time on a busy machine. */
    'server-pid': { type: 'string' },
  },
});
const address = args.address;
const rowsPerRun = Number(args.rows);
const batchSizes = args.batches.split(',').map(Number);
const dim = Number(args.dim);

const client = new MilvusClient({ address, logLevel: 'error', timeout: 120_000 });
const prefix = `p2m_bench_${process.pid}`;
const made: string[] = [];

interface Status {
  error_code?: string | number;
  code?: number;
  reason?: string;
}
/** An answer counts as success only when both `error_code` and `code` say so (Lite 2.5 disagrees sometimes). */
function failed(status: Status | undefined): boolean {
  if (!status) return false;
  const ec = status.error_code;
  return (ec !== undefined && ec !== 'Success' && ec !== 0) || (status.code !== undefined && status.code !== 0);
}
function check<T extends { status?: Status } | Status>(res: T, what: string): T {
  const status = 'status' in res && res.status ? res.status : (res as Status);
  if (failed(status))
    throw new Error(`${what}: ${status.reason ?? JSON.stringify(status)} (error_code ${String(status.error_code)}, code ${String(status.code)})`);
  return res;
}

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function denseVector(r: () => number, d = dim): number[] {
  return Array.from(Float32Array.from({ length: d }, () => r() * 2 - 1));
}

async function createHybrid(name: string, opts: { partitionKey: boolean; sparse: boolean; dense: boolean }): Promise<void> {
  const fields: Record<string, unknown>[] = [];
  if (opts.partitionKey) fields.push({ name: 'namespace', data_type: DataType.VarChar, max_length: 4096, is_partition_key: true });
  fields.push({ name: 'id', data_type: DataType.VarChar, max_length: 64, is_primary_key: true, autoID: false });
  if (opts.dense) fields.push({ name: 'vector', data_type: DataType.FloatVector, dim });
  if (opts.sparse) fields.push({ name: 'sparse_vector', data_type: DataType.SparseFloatVector });
  check(
    await client.createCollection({ collection_name: name, fields: fields as never, enable_dynamic_field: true, description: 'p2m bench' }),
    'createCollection',
  );
  made.push(name);
}

async function indexAndLoad(name: string, metric: string, sparse: boolean, dense = true): Promise<void> {
  if (dense)
    check(await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'AUTOINDEX', metric_type: metric }), 'createIndex dense');
  if (sparse) {
    check(
      await client.createIndex({ collection_name: name, field_name: 'sparse_vector', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' }),
      'createIndex sparse',
    );
  }
  check(await client.loadCollectionSync({ collection_name: name }), 'load');
}

async function count(name: string, filter?: string, partitions?: string[]): Promise<number> {
  const res = check(
    await client.query({
      collection_name: name,
      output_fields: ['count(*)'],
      filter: filter ?? '',
      ...(partitions ? { partition_names: partitions } : {}),
      consistency_level: 'Strong' as never,
    }),
    'count(*)',
  );
  return Number(res.data[0]?.['count(*)']);
}

type ProbeResult = { ok: boolean; detail?: unknown; error?: string; ms: number };
/** What the migration needs from the server. */
const features: Record<string, ProbeResult> = {};
/** Behaviour worth knowing that the sink does not depend on (SDK helpers, Milvus semantics). */
const observations: Record<string, ProbeResult> = {};
async function probe(name: string, fn: () => Promise<{ ok: boolean; detail?: unknown }>, into = features): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await fn();
    into[name] = { ...r, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    into[name] = {
      ok: false,
      error: err instanceof Error ? err.message.slice(0, 400) : JSON.stringify(err).slice(0, 400),
      ms: Math.round(performance.now() - t0),
    };
  }
}

async function probes(): Promise<void> {
  const pk = `${prefix}_pk`;
  const parts = `${prefix}_parts`;
  const r = rand(1);

  await probe(
    'hasCollection_false_for_missing',
    async () => {
      const res = await client.hasCollection({ collection_name: `${prefix}_does_not_exist` });
      return { ok: res.value === false, detail: { value: res.value, status: res.status } };
    },
    observations,
  );
  await probe(
    'describeCollection_missing_fails_cleanly',
    async () => {
      const res = await client.describeCollection({ collection_name: `${prefix}_does_not_exist` });
      return { ok: failed(res.status), detail: { error_code: res.status.error_code, code: res.status.code, reason: res.status.reason } };
    },
    observations,
  );

  await probe('create_partition_key_dense_sparse_dynamic', async () => {
    await createHybrid(pk, { partitionKey: true, sparse: true, dense: true });
    const d = check(await client.describeCollection({ collection_name: pk }), 'describe');
    const nsField = d.schema.fields.find((f) => f.name === 'namespace');
    return {
      ok: d.schema.enable_dynamic_field === true && nsField?.is_partition_key === true,
      detail: d.schema.fields.map((f) => [f.name, f.data_type, f.is_partition_key]),
    };
  });
  await probe('create_partition_key_after_primary_key', async () => {
    const name = `${prefix}_pk_order`;
    const fields = [
      { name: 'id', data_type: DataType.VarChar, max_length: 64, is_primary_key: true },
      { name: 'namespace', data_type: DataType.VarChar, max_length: 256, is_partition_key: true },
      { name: 'vector', data_type: DataType.FloatVector, dim: 4 },
    ];
    check(await client.createCollection({ collection_name: name, fields, enable_dynamic_field: true }), 'createCollection');
    made.push(name);
    return { ok: true };
  });
  await probe('listCollections_sees_new', async () => {
    const res = check(await client.listCollections(), 'listCollections');
    const names = (res.data ?? []).map((c) => c.name);
    return { ok: names.includes(pk), detail: names.length };
  });

  // 2^32-1 itself is refused by Milvus ("must be less than 2^32-1"); 2^32-2 is the largest index it stores.
  const sparseIdx = [0, 7, 1_000_000, 4294967294];
  // Weights must be finite and non-negative for Milvus (checked by 3.x and by Milvus's own insert validation).
  const sparseVal = Array.from(Float32Array.from([0.5, 1.25, 3.1415927, 1e-7]));
  const denseRow = denseVector(r);
  const metadata = {
    s: 'hello "world" \\ ünïcødé 🚀',
    i: 42,
    big: 9007199254740991,
    f: 0.1,
    neg: -3.5,
    b: true,
    fb: false,
    tags: ['a', 'b"c', ''],
    empty: '',
    emptyList: [] as string[],
  };
  const rows = [
    { namespace: 'ns1', id: 'a', vector: denseRow, sparse_vector: { indices: sparseIdx, values: sparseVal }, ...metadata },
    { namespace: 'ns1', id: 'b"q\\', vector: denseVector(r), sparse_vector: { 3: 1.5 }, x: 1 },
    { namespace: 'ns2', id: 'c', vector: denseVector(r), sparse_vector: { indices: [1], values: [2] }, x: 2 },
  ];

  await probe('upsert_partition_key', async () => {
    const res = check(await client.upsert({ collection_name: pk, data: rows }), 'upsert');
    return { ok: Number(res.upsert_cnt) === rows.length, detail: { upsert_cnt: res.upsert_cnt } };
  });
  await probe('upsert_same_pk_twice', async () => {
    check(await client.upsert({ collection_name: pk, data: rows }), 'upsert again');
    return { ok: true };
  });
  await probe('flush', async () => {
    check(await client.flushSync({ collection_names: [pk] }), 'flush');
    return { ok: true };
  });
  for (const metric of ['COSINE', 'L2', 'IP']) {
    await probe(`createIndex_AUTOINDEX_${metric}`, async () => {
      const name = `${prefix}_m_${metric}`;
      await createHybrid(name, { partitionKey: false, sparse: false, dense: true });
      check(await client.upsert({ collection_name: name, data: [{ id: 'z', vector: denseVector(r) }] }), 'upsert');
      check(await client.createIndex({ collection_name: name, field_name: 'vector', index_type: 'AUTOINDEX', metric_type: metric }), 'createIndex');
      const d = await client.describeIndex({ collection_name: name, field_name: 'vector' });
      check(await client.loadCollectionSync({ collection_name: name }), 'load');
      const s = await client.search({ collection_name: name, data: [denseVector(r)], anns_field: 'vector', limit: 1 });
      check(s, 'search');
      return { ok: s.results.length === 1, detail: d.index_descriptions?.[0]?.params };
    });
  }
  await probe('createIndex_sparse_and_load', async () => {
    await indexAndLoad(pk, 'COSINE', true);
    const state = await client.getLoadState({ collection_name: pk });
    return { ok: String(state.state) === 'LoadStateLoaded', detail: state.state };
  });
  await probe('upsert_idempotent_count', async () => {
    const n = await count(pk);
    return { ok: n === rows.length, detail: { count: n, expected: rows.length } };
  });
  await probe('count_with_filter', async () => {
    const n1 = await count(pk, 'namespace == "ns1"');
    const n2 = await count(pk, 'namespace == "ns2"');
    return { ok: n1 === 2 && n2 === 1, detail: { ns1: n1, ns2: n2 } };
  });
  await probe('query_id_in', async () => {
    const res = check(
      await client.query({ collection_name: pk, filter: 'id in ["a", "c", "nope"]', output_fields: ['id'], consistency_level: 'Strong' as never }),
      'query',
    );
    return { ok: res.data.length === 2, detail: res.data.map((d) => d['id']) };
  });
  await probe('filter_escaped_quote_backslash', async () => {
    const res = check(
      await client.query({ collection_name: pk, filter: 'id == "b\\"q\\\\"', output_fields: ['id'], consistency_level: 'Strong' as never }),
      'query',
    );
    return { ok: res.data.length === 1 && res.data[0]?.['id'] === 'b"q\\', detail: res.data.map((d) => d['id']) };
  });
  await probe('dense_float32_exact', async () => {
    const res = check(
      await client.query({ collection_name: pk, filter: 'id == "a"', output_fields: ['vector'], consistency_level: 'Strong' as never }),
      'query',
    );
    const got = res.data[0]?.['vector'] as number[];
    const mismatch = got.findIndex((v, i) => Math.fround(v) !== denseRow[i]);
    return { ok: got.length === dim && mismatch === -1, detail: { len: got.length, firstMismatch: mismatch } };
  });
  await probe('sparse_exact_incl_uint32_max', async () => {
    const res = check(
      await client.query({
        collection_name: pk,
        filter: 'id in ["a", "b\\"q\\\\"]',
        output_fields: ['id', 'sparse_vector'],
        consistency_level: 'Strong' as never,
      }),
      'query',
    );
    const a = res.data.find((d) => d['id'] === 'a')?.['sparse_vector'] as Record<string, number>;
    const b = res.data.find((d) => d['id'] === 'b"q\\')?.['sparse_vector'] as Record<string, number>;
    const ok = sparseIdx.every((ix, k) => Math.fround(a[String(ix)] ?? NaN) === sparseVal[k]) && Object.keys(a).length === 4 && b['3'] === 1.5;
    return { ok, detail: { a, b } };
  });
  await probe('dynamic_field_metadata_exact', async () => {
    const res = check(await client.query({ collection_name: pk, filter: 'id == "a"', output_fields: ['*'], consistency_level: 'Strong' as never }), 'query');
    const row = res.data[0] ?? {};
    // The SDK hands the dynamic field back as one `$meta` object.
    const meta = (row['$meta'] ?? row) as Record<string, unknown>;
    const got = Object.fromEntries(Object.keys(metadata).map((k) => [k, meta[k]]));
    return { ok: JSON.stringify(got) === JSON.stringify(metadata), detail: got };
  });
  await probe('filter_on_dynamic_field', async () => {
    const n = await count(pk, 'x == 2');
    return { ok: n === 1, detail: n };
  });
  await probe('query_paging_id_gt_sorted', async () => {
    const res = check(
      await client.query({ collection_name: pk, filter: 'id > "a"', output_fields: ['id'], limit: 10, consistency_level: 'Strong' as never }),
      'query',
    );
    return { ok: res.data.length === 2, detail: res.data.map((d) => d['id']) };
  });
  await probe('query_limit_returns_smallest_pks', async () => {
    // Ids inserted out of order; a page `id > x limit n` must be the n smallest ids above x.
    const name = `${prefix}_order`;
    await createHybrid(name, { partitionKey: false, sparse: false, dense: true });
    const ids = Array.from({ length: 300 }, (_, i) => `id-${(i * 7919) % 1000}-${i}`);
    for (let i = 0; i < 3; i++)
      check(await client.upsert({ collection_name: name, data: ids.slice(i * 100, i * 100 + 100).map((id) => ({ id, vector: denseVector(r) })) }), 'upsert');
    await indexAndLoad(name, 'L2', false);
    const expected = [...ids]
      .filter((x) => x > 'id-5')
      .sort()
      .slice(0, 5);
    const plain = check(
      await client.query({ collection_name: name, filter: 'id > "id-5"', output_fields: ['id'], limit: 5, consistency_level: 'Strong' as never }),
      'query',
    );
    const iter = check(
      await client.query({
        collection_name: name,
        filter: 'id > "id-5"',
        output_fields: ['id'],
        limit: 5,
        consistency_level: 'Strong' as never,
        params: { iterator: 'True' },
      } as never),
      'query',
    );
    const got = (res: { data: Record<string, unknown>[] }): string[] => res.data.map((d) => String(d['id']));
    const plainOk = JSON.stringify(got(plain)) === JSON.stringify(expected);
    const iterOk = JSON.stringify(got(iter)) === JSON.stringify(expected);
    return { ok: plainOk || iterOk, detail: { plainLimitInPkOrder: plainOk, iteratorParamInPkOrder: iterOk } };
  });
  await probe(
    'same_id_two_namespaces_partition_key_both_kept',
    async () => {
      // Pinecone ids are unique per namespace; a Milvus primary key is unique per collection.
      const n = await count(pk, 'id == "a"');
      check(await client.upsert({ collection_name: pk, data: [{ namespace: 'ns9', id: 'a', vector: denseVector(r), sparse_vector: { 1: 1 } }] }), 'upsert');
      const after = check(
        await client.query({ collection_name: pk, filter: 'id == "a"', output_fields: ['namespace'], consistency_level: 'Strong' as never }),
        'query',
      );
      check(await client.upsert({ collection_name: pk, data: [rows[0]!] }), 'restore');
      return { ok: after.data.length === 2, detail: { before: n, after: after.data.map((d) => d['namespace']) } };
    },
    observations,
  );
  await probe(
    'sdk_queryIterator_all_ids',
    async () => {
      const it = await client.queryIterator({ collection_name: pk, batchSize: 1, output_fields: ['id'], filter: 'id != ""' });
      const ids: string[] = [];
      for await (const batch of it as AsyncIterable<{ id: string }[]>) ids.push(...batch.map((x) => x.id));
      return { ok: ids.length === 3, detail: ids };
    },
    observations,
  );
  await probe('rejects_id_over_max_length', async () => {
    const res = await client
      .upsert({ collection_name: pk, data: [{ namespace: 'ns1', id: 'x'.repeat(65), vector: denseVector(r), sparse_vector: { 1: 1 } }] })
      .catch((e: unknown) => e);
    const st = (res as { status?: Status }).status;
    return {
      ok: res instanceof Error || failed(st),
      detail: res instanceof Error ? res.message : { error_code: st?.error_code, code: st?.code, reason: st?.reason },
    };
  });
  await probe('rejects_sparse_index_uint32_max', async () => {
    const res = await client
      .upsert({ collection_name: pk, data: [{ namespace: 'ns1', id: 'sx', vector: denseVector(r), sparse_vector: { indices: [4294967295], values: [1] } }] })
      .catch((e: unknown) => e);
    const st = (res as { status?: Status }).status;
    return {
      ok: res instanceof Error || failed(st),
      detail: res instanceof Error ? res.message : { error_code: st?.error_code, code: st?.code, reason: st?.reason },
    };
  });
  await probe('rejects_negative_sparse_weight', async () => {
    const res = await client
      .upsert({ collection_name: pk, data: [{ namespace: 'ns1', id: 'sn', vector: denseVector(r), sparse_vector: { indices: [5], values: [-1] } }] })
      .catch((e: unknown) => e);
    const st = (res as { status?: Status }).status;
    return {
      ok: res instanceof Error || failed(st),
      detail: res instanceof Error ? res.message : { error_code: st?.error_code, code: st?.code, reason: st?.reason },
    };
  });
  await probe(
    'accepts_empty_sparse_vector',
    async () => {
      // Milvus stores an empty sparse row (a hybrid record without sparse values); Lite 3 refuses it.
      const res = await client
        .upsert({ collection_name: pk, data: [{ namespace: 'ns1', id: 'se', vector: denseVector(r), sparse_vector: { indices: [], values: [] } }] })
        .catch((e: unknown) => e);
      const st = (res as { status?: Status }).status;
      return {
        ok: !(res instanceof Error) && !failed(st),
        detail: res instanceof Error ? res.message : { error_code: st?.error_code, code: st?.code, reason: st?.reason },
      };
    },
    observations,
  );
  await probe('rejects_wrong_dim', async () => {
    const res = await client
      .upsert({ collection_name: pk, data: [{ namespace: 'ns1', id: 'wd', vector: [1, 2, 3], sparse_vector: { 1: 1 } }] })
      .catch((e: unknown) => e);
    const st = (res as { status?: Status }).status;
    return {
      ok: res instanceof Error || failed(st),
      detail: res instanceof Error ? res.message : { error_code: st?.error_code, code: st?.code, reason: st?.reason },
    };
  });

  await probe('partitions_create_upsert_count', async () => {
    await createHybrid(parts, { partitionKey: false, sparse: false, dense: true });
    check(await client.createPartition({ collection_name: parts, partition_name: 'p_one' }), 'createPartition');
    check(await client.createPartition({ collection_name: parts, partition_name: 'p_two' }), 'createPartition');
    const list = check(await client.listPartitions({ collection_name: parts }), 'listPartitions');
    check(
      await client.upsert({
        collection_name: parts,
        partition_name: 'p_one',
        data: [
          { id: 'a', vector: denseVector(r) },
          { id: 'b', vector: denseVector(r) },
        ],
      }),
      'upsert p_one',
    );
    check(await client.upsert({ collection_name: parts, partition_name: 'p_two', data: [{ id: 'c', vector: denseVector(r) }] }), 'upsert p_two');
    check(await client.upsert({ collection_name: parts, data: [{ id: 'd', vector: denseVector(r) }] }), 'upsert _default');
    check(await client.upsert({ collection_name: parts, partition_name: 'p_one', data: [{ id: 'a', vector: denseVector(r) }] }), 'upsert p_one again');
    await indexAndLoad(parts, 'L2', false);
    const all = await count(parts);
    const noFilter = {
      p_one: await count(parts, undefined, ['p_one']),
      p_two: await count(parts, undefined, ['p_two']),
      _default: await count(parts, undefined, ['_default']),
    };
    const withFilter = {
      p_one: await count(parts, 'id != ""', ['p_one']),
      p_two: await count(parts, 'id != ""', ['p_two']),
      _default: await count(parts, 'id != ""', ['_default']),
    };
    const right = (c: Record<string, number>): boolean => c['p_one'] === 2 && c['p_two'] === 1 && c['_default'] === 1;
    return {
      ok: all === 4 && (right(noFilter) || right(withFilter)),
      detail: { partitions: list.partition_names, all, countNoFilterOk: right(noFilter), countWithFilterOk: right(withFilter), noFilter, withFilter },
    };
  });
  await probe('create_existing_collection_fails', async () => {
    const res: unknown = await client
      .createCollection({
        collection_name: parts,
        fields: [
          { name: 'id', data_type: DataType.VarChar, max_length: 8, is_primary_key: true },
          { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        ],
      })
      .catch((e: unknown) => e);
    const st = res as Status;
    return {
      ok: res instanceof Error || failed(st),
      detail: res instanceof Error ? res.message : { error_code: st.error_code, code: st.code, reason: st.reason },
    };
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function processCpuSeconds(pid: string | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

async function throughput(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const r = rand(7);
  // One pool of rows reused across runs; the ids change per run so every upsert inserts.
  const pool = Array.from({ length: Math.max(...batchSizes) }, (_, i) => ({
    vector: denseVector(r),
    genre: ['drama', 'comedy', 'news'][i % 3]!,
    year: 1990 + (i % 30),
    tags: ['x', 'y'],
  }));
  const rowBytes = (id: string): number => dim * 4 + id.length + 60;
  for (const batch of batchSizes) {
    const name = `${prefix}_tp_${batch}`;
    await createHybrid(name, { partitionKey: true, sparse: false, dense: true });
    let bytes = 0;
    let done = 0;
    const latencies: number[] = [];
    const server0 = processCpuSeconds(args['server-pid']);
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    while (done < rowsPerRun) {
      const n = Math.min(batch, rowsPerRun - done);
      const data = Array.from({ length: n }, (_, k) => {
        const id = `doc-${done + k}`;
        bytes += rowBytes(id);
        return { namespace: `ns${(done + k) % 4}`, id, ...pool[k]! };
      });
      const b0 = performance.now();
      check(await client.upsert({ collection_name: name, data }), 'upsert');
      latencies.push(performance.now() - b0);
      done += n;
    }
    const seconds = (performance.now() - t0) / 1000;
    const clientCpu = process.cpuUsage(client0);
    const server1 = processCpuSeconds(args['server-pid']);
    const f0 = performance.now();
    check(await client.flushSync({ collection_names: [name] }), 'flush');
    const flushMs = performance.now() - f0;
    latencies.sort((a, b) => a - b);
    out.push({
      batch,
      rows: done,
      seconds: +seconds.toFixed(2),
      rowsPerSec: Math.round(done / seconds),
      mbPerSec: +(bytes / seconds / 1e6).toFixed(2),
      p50BatchMs: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
      maxBatchMs: Math.round(latencies[latencies.length - 1] ?? 0),
      flushMs: Math.round(flushMs),
      clientCpuSeconds: +((clientCpu.user + clientCpu.system) / 1e6).toFixed(2),
      ...(server0 !== null && server1 !== null
        ? { serverCpuSeconds: +(server1 - server0).toFixed(2), serverCpuRowsPerSec: Math.round(done / Math.max(server1 - server0, 0.01)) }
        : {}),
    });
    await client.dropCollection({ collection_name: name });
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const version = await client.getVersion().catch((e: unknown) => ({ version: `unknown (${errorMessage(e)})` }));
  await probes();
  const upserts = args['skip-throughput'] ? [] : await throughput();
  for (const name of made) await client.dropCollection({ collection_name: name }).catch(() => undefined);
  const failedFeatures = Object.entries(features)
    .filter(([, v]) => !v.ok)
    .map(([k]) => k);
  console.log(
    JSON.stringify(
      { address, version: version.version, dim, features, failedFeatures, observations, upserts, totalSeconds: +((performance.now() - t0) / 1000).toFixed(1) },
      null,
      2,
    ),
  );
  await client.closeConnection();
}

await main();
