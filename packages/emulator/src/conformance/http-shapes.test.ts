// Wire-level conformance: request and response shapes of each API version, read straight off
// HTTP (status, content type, body), for what the SDKs hide or refuse to send.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../index.ts';
import type { Emulator } from '../index.ts';
import { float32, vectorOf } from './harness.ts';

const KEY = 'shapes-key';
let emulator: Emulator;
let control: string;
let host: string;

interface Reply {
  status: number;
  type: string;
  text: string;
  json: any;
}

async function call(url: string, init: { method?: string; key?: string | null; version?: string; body?: unknown } = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.key !== null) headers['Api-Key'] = init.key ?? KEY;
  if (init.version) headers['X-Pinecone-Api-Version'] = init.version;
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json };
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, apiKey: KEY, rateLimits: false });
  control = emulator.controllerHostUrl;
  const created = await call(`${control}/indexes`, {
    method: 'POST',
    version: '2025-04',
    body: { name: 'shapes', dimension: 4, metric: 'dotproduct', spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } },
  });
  expect(created.status).toBe(201);
  host = created.json.host;
});

afterAll(async () => {
  await emulator?.close();
});

describe('authentication', () => {
  it('answers 401 in the shape of each version', async () => {
    const legacy = await call(`${control}/indexes`, { key: 'wrong', version: '2025-04' });
    expect(legacy.status).toBe(401);
    expect(legacy.json).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) }, status: 401 });
    const missing = await call(`${control}/indexes/shapes`, { key: null, version: '2026-04' });
    expect(missing.status).toBe(401);
    const latest = await call(`${control}/indexes`, { key: 'wrong', version: '2026-07' });
    expect(latest.status).toBe(401);
    expect(latest.type).toMatch(/^text\/plain/);
    const data = await call(`${host}/describe_index_stats`, { method: 'POST', key: 'wrong', version: '2025-04', body: {} });
    expect(data.status).toBe(401);
    expect(data.json).toEqual({ code: 16, message: expect.any(String), details: [] });
    const data07 = await call(`${host}/vectors/list`, { key: 'wrong', version: '2026-07' });
    expect([data07.status, data07.type, data07.text]).toEqual([401, 'text/plain; charset=utf-8', 'Unauthorized']);
  });

  it('refuses an unknown API version', async () => {
    const res = await call(`${control}/indexes`, { version: '2099-01' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/Unsupported API version/);
  });
});

describe('control plane shapes', () => {
  it('describes an index per version', async () => {
    const v04 = (await call(`${control}/indexes/shapes`, { version: '2025-04' })).json;
    expect(v04).toEqual({
      name: 'shapes',
      dimension: 4,
      metric: 'dotproduct',
      host,
      deletion_protection: 'disabled',
      spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
      status: { ready: true, state: 'Ready' },
      vector_type: 'dense',
    });
    for (const version of ['2025-10', '2026-04']) {
      const model = (await call(`${control}/indexes/shapes`, { version })).json;
      expect(model.spec.serverless.read_capacity).toEqual({ mode: 'OnDemand', status: { state: 'Ready' } });
      expect(model.dimension).toBe(4);
    }
    const v07 = (await call(`${control}/indexes/shapes`, { version: '2026-07' })).json;
    expect(v07).toEqual({
      name: 'shapes',
      host,
      status: { ready: true, state: 'Ready' },
      deployment: { deployment_type: 'managed', cloud: 'aws', region: 'us-east-1' },
      read_capacity: { mode: 'OnDemand', status: { state: 'Ready' } },
      schema: {
        fields: {
          _values: { type: 'dense_vector', dimension: 4, metric: 'dotproduct', description: null },
          _sparse_values: { type: 'sparse_vector', description: null },
        },
      },
      tags: null,
      deletion_protection: 'disabled',
    });
  });

  it('answers errors as {error:{code,message},status}', async () => {
    const missing = await call(`${control}/indexes/nope`, { version: '2026-07' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: { code: 'NOT_FOUND', message: 'Index nope not found.' }, status: 404 });
    const dup = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2025-04',
      body: { name: 'shapes', dimension: 4, spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } },
    });
    expect(dup.json).toEqual({ error: { code: 'ALREADY_EXISTS', message: 'Resource already exists.' }, status: 409 });
    const badName = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2025-04',
      body: { name: 'Bad_Name', dimension: 4, spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } },
    });
    expect([badName.status, badName.json.error.code]).toEqual([400, 'INVALID_ARGUMENT']);
    const noSpec = await call(`${control}/indexes`, { method: 'POST', version: '2025-04', body: { name: 'x', dimension: 4 } });
    expect([noSpec.status, noSpec.json.error.code]).toEqual([422, 'UNPROCESSABLE_ENTITY']);
  });

  it('creates a pod index with a 2025-04 body, but not with 2026-07', async () => {
    const pod = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2025-04',
      body: { name: 'shapes-pod', dimension: 3, metric: 'cosine', spec: { pod: { environment: 'us-west1-gcp', pod_type: 's1.x2', pods: 2, replicas: 2 } } },
    });
    expect(pod.status).toBe(201);
    expect(pod.json.spec).toEqual({ pod: { environment: 'us-west1-gcp', replicas: 2, shards: 1, pod_type: 's1.x2', pods: 2 } });
    const v07 = (await call(`${control}/indexes/shapes-pod`, { version: '2026-07' })).json;
    expect(v07.deployment).toEqual({ deployment_type: 'pod', environment: 'us-west1-gcp', pod_type: 's1.x2', replicas: 2, shards: 1 });
    expect(v07.read_capacity).toBeUndefined();
    const refused = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2026-07',
      body: {
        name: 'pod-07',
        schema: { fields: { _values: { type: 'dense_vector', dimension: 3, metric: 'cosine' } } },
        deployment: { deployment_type: 'pod', environment: 'x', pod_type: 'p1.x1' },
      },
    });
    expect(refused.status).toBe(400);
    const legacyBodyOn07 = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2026-07',
      body: { name: 'legacy-07', dimension: 3, spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } },
    });
    expect(legacyBodyOn07.status).toBe(422);
    const deleted = await call(`${control}/indexes/shapes-pod`, { method: 'DELETE', version: '2025-04' });
    expect([deleted.status, deleted.text]).toEqual([202, '']);
  });

  it('creates a 2026-07 schema index and honours deletion protection', async () => {
    const res = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2026-07',
      body: { name: 'sparse-07', schema: { fields: { _sparse_values: { type: 'sparse_vector' } } }, deletion_protection: 'enabled', tags: { team: 'p2m' } },
    });
    expect(res.status).toBe(201);
    expect(res.json.schema.fields).toEqual({ _sparse_values: { type: 'sparse_vector', description: null } });
    expect(res.json.tags).toEqual({ team: 'p2m' });
    const legacy = (await call(`${control}/indexes/sparse-07`, { version: '2025-04' })).json;
    expect(legacy).toMatchObject({ vector_type: 'sparse', metric: 'dotproduct', tags: { team: 'p2m' } });
    expect(legacy.dimension).toBeUndefined();
    const del = await call(`${control}/indexes/sparse-07`, { method: 'DELETE', version: '2026-07' });
    expect([del.status, del.json.error.code]).toEqual([403, 'FORBIDDEN']);
    const patched = await call(`${control}/indexes/sparse-07`, { method: 'PATCH', version: '2026-07', body: { deletion_protection: 'disabled' } });
    expect(patched.json.deletion_protection).toBe('disabled');
    expect((await call(`${control}/indexes/sparse-07`, { method: 'DELETE', version: '2026-07' })).status).toBe(202);
  });
});

describe('data plane shapes', () => {
  it('answers validation errors as rpcStatus with code 3', async () => {
    const empty = await call(`${host}/vectors/upsert`, { method: 'POST', version: '2026-07', body: { vectors: [{ id: '', values: [1, 0, 0, 0] }] } });
    expect(empty.status).toBe(400);
    expect(empty.json).toEqual({ code: 3, message: expect.stringMatching(/must not be empty/), details: [] });
    const zeros = await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors: [{ id: 'z', values: [0, 0, 0, 0] }] } });
    expect(zeros.json.message).toMatch(/only zeros/);
    const nonAscii = await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors: [{ id: 'é', values: [1, 0, 0, 0] }] } });
    expect(nonAscii.json.message).toMatch(/ASCII/);
    const dollar = await call(`${host}/vectors/upsert`, {
      method: 'POST',
      version: '2025-04',
      body: { vectors: [{ id: 'd', values: [1, 0, 0, 0], metadata: { $bad: 1 } }] },
    });
    expect(dollar.json.message).toMatch(/\$/);
    const notJson = await fetch(`${host}/vectors/upsert`, { method: 'POST', headers: { 'Api-Key': KEY }, body: '{nope' });
    expect(notJson.status).toBe(400);
    const unknown = await call(`${host}/vectors/nothing`, { version: '2025-04' });
    expect([unknown.status, unknown.json.code]).toEqual([404, 5]);
  });

  it('fetches ids made of any printable ASCII, URL-encoded, 1,000 at a time', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `${i} ${PRINTABLE}`.padEnd(512, PRINTABLE));
    for (let i = 0; i < ids.length; i += 250) {
      const vectors = ids.slice(i, i + 250).map((id, j) => ({ id, values: vectorOf(4, i + j) }));
      expect((await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors, namespace: 'ascii' } })).status).toBe(200);
    }
    const qs = ids.map((id) => `ids=${encodeURIComponent(id)}`).join('&');
    const res = await call(`${host}/vectors/fetch?${qs}&namespace=ascii`, { version: '2025-04' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.json.vectors).sort()).toEqual([...ids].sort());
    expect(float32(res.json.vectors[ids[7]!].values)).toEqual(vectorOf(4, 7));
    expect(res.json.namespace).toBe('ascii');
    expect(res.json.usage).toEqual({ readUnits: 100 });
  });

  it('paginates list with opaque tokens and no token on the last page', async () => {
    const vectors = Array.from({ length: 200 }, (_, i) => ({ id: `p-${String(i).padStart(3, '0')}`, values: vectorOf(4, i) }));
    await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors, namespace: 'pages' } });
    const first = (await call(`${host}/vectors/list?namespace=pages`, { version: '2026-07' })).json;
    expect(first.vectors).toHaveLength(100);
    expect(first.pagination.next).toEqual(expect.any(String));
    expect(first.usage).toEqual({ readUnits: 1 });
    const second = (await call(`${host}/vectors/list?namespace=pages&paginationToken=${encodeURIComponent(first.pagination.next)}`, { version: '2026-07' }))
      .json;
    expect(second.vectors.map((v: { id: string }) => v.id)).toEqual(vectors.slice(100).map((v) => v.id));
    expect(second.pagination).toBeUndefined();
    const bad = await call(`${host}/vectors/list?namespace=pages&paginationToken=garbage`, { version: '2026-07' });
    expect(bad.status).toBe(400);
    const empty = (await call(`${host}/vectors/list?namespace=nothing-here`, { version: '2026-07' })).json;
    expect(empty).toEqual({ vectors: [], namespace: 'nothing-here', usage: { readUnits: 1 } });
  });

  it('describes namespaces per version (record_count a string from 2026-07)', async () => {
    await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors: [{ id: 'd1', values: [1, 0, 0, 0] }] } });
    const v04 = (await call(`${host}/namespaces`, { version: '2025-04' })).json;
    expect(v04.namespaces).toContainEqual({ name: '__default__', record_count: 1 });
    expect(v04.total_count).toBeUndefined();
    const v10 = (await call(`${host}/namespaces?limit=1`, { version: '2025-10' })).json;
    expect(v10.namespaces).toHaveLength(1);
    expect(v10.total_count).toBe(v04.namespaces.length);
    expect(v10.pagination.next).toEqual(expect.any(String));
    const v07 = (await call(`${host}/namespaces/__default__`, { version: '2026-07' })).json;
    expect(v07).toMatchObject({ name: '__default__', record_count: '1' });
    const stats = (await call(`${host}/describe_index_stats`, { method: 'POST', version: '2025-04', body: {} })).json;
    expect(stats.namespaces['']).toEqual({ vectorCount: 1 });
    expect(stats).toMatchObject({ dimension: 4, indexFullness: 0, metric: 'dotproduct', vectorType: 'dense' });
    const filtered = await call(`${host}/describe_index_stats`, { method: 'POST', version: '2025-04', body: { filter: { a: 1 } } });
    expect(filtered.status).toBe(400);
  });

  it('creates namespaces (2025-10+), refuses duplicates, and 404s deletes in a missing namespace', async () => {
    const made = await call(`${host}/namespaces`, { method: 'POST', version: '2025-10', body: { name: 'made' } });
    expect(made.json).toEqual({ name: 'made', record_count: 0 });
    expect((await call(`${host}/namespaces`, { method: 'POST', version: '2025-10', body: { name: 'made' } })).status).toBe(409);
    expect((await call(`${host}/namespaces`, { method: 'POST', version: '2025-10', body: { name: '__default__' } })).status).toBe(400);
    const gone = await call(`${host}/vectors/delete`, { method: 'POST', version: '2025-04', body: { deleteAll: true, namespace: 'never-existed' } });
    expect([gone.status, gone.json.code]).toEqual([404, 5]);
    expect((await call(`${host}/namespaces/made`, { method: 'DELETE', version: '2025-10' })).status).toBe(200);
  });

  it('fetches by metadata (2025-10+) with pagination', async () => {
    const vectors = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, values: vectorOf(4, i), metadata: { even: i % 2 === 0 } }));
    await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-10', body: { vectors, namespace: 'meta' } });
    const page = (
      await call(`${host}/vectors/fetch_by_metadata`, { method: 'POST', version: '2025-10', body: { namespace: 'meta', filter: { even: true }, limit: 2 } })
    ).json;
    expect(Object.keys(page.vectors)).toEqual(['m0', 'm2']);
    const rest = (
      await call(`${host}/vectors/fetch_by_metadata`, {
        method: 'POST',
        version: '2025-10',
        body: { namespace: 'meta', filter: { even: true }, limit: 2, paginationToken: page.pagination.next },
      })
    ).json;
    expect(Object.keys(rest.vectors)).toEqual(['m4']);
    expect(rest.pagination).toBeUndefined();
  });
});

describe('as Pinecone answers its own client tests (the versions the SDKs hide)', () => {
  const serverless = (readCapacity?: unknown) => ({
    serverless: { cloud: 'aws', region: 'us-east-1', ...(readCapacity ? { read_capacity: readCapacity } : {}) },
  });
  const DEDICATED = { mode: 'Dedicated', dedicated: { node_type: 'b1', scaling: 'Manual', manual: { replicas: 1, shards: 2 } } };

  it('keeps a Dedicated read capacity in spec.serverless (2025-10, 2026-04) and read_capacity (2026-07)', async () => {
    const created = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2025-10',
      body: { name: 'dedicated', dimension: 4, spec: serverless(DEDICATED) },
    });
    expect(created.status).toBe(201);
    const shown = { ...DEDICATED, status: { state: 'Ready', current_replicas: 1, current_shards: 2 } };
    expect(created.json.spec.serverless.read_capacity).toEqual(shown);
    expect((await call(`${control}/indexes/dedicated`, { version: '2026-04' })).json.spec.serverless.read_capacity).toEqual(shown);
    expect((await call(`${control}/indexes/dedicated`, { version: '2026-07' })).json.read_capacity).toEqual(shown);
    // 2026-07 configures only what changes; before, a whole read capacity.
    const patched = await call(`${control}/indexes/dedicated`, {
      method: 'PATCH',
      version: '2026-07',
      body: { read_capacity: { mode: 'Dedicated', dedicated: { scaling: 'Manual', manual: { replicas: 4 } } } },
    });
    expect(patched.status).toBe(200);
    expect(patched.json.read_capacity.dedicated).toEqual({ node_type: 'b1', scaling: 'Manual', manual: { replicas: 4, shards: 2 } });
    const manualAlone = await call(`${control}/indexes/dedicated`, {
      method: 'PATCH',
      version: '2026-07',
      body: { read_capacity: { mode: 'Dedicated', dedicated: { manual: { replicas: 2 } } } },
    });
    expect([manualAlone.status, manualAlone.json.error.message]).toEqual([
      400,
      expect.stringMatching(/scaling and read_capacity\.dedicated\.manual go together/),
    ]);
    const legacy = await call(`${control}/indexes/dedicated`, { method: 'PATCH', version: '2025-10', body: { spec: serverless({ mode: 'OnDemand' }) } });
    expect(legacy.status).toBe(202);
    expect(legacy.json.spec.serverless.read_capacity).toEqual({ mode: 'OnDemand', status: { state: 'Ready' } });
    const partialFromOnDemand = await call(`${control}/indexes/dedicated`, {
      method: 'PATCH',
      version: '2026-07',
      body: { read_capacity: { mode: 'Dedicated', dedicated: { node_type: 't1' } } },
    });
    expect([partialFromOnDemand.status, partialFromOnDemand.json.error.message]).toEqual([400, expect.stringMatching(/dedicated\.scaling must be "Manual"/)]);
    const badNode = await call(`${control}/indexes`, {
      method: 'POST',
      version: '2026-07',
      body: {
        name: 'bad-node',
        schema: { fields: { _values: { type: 'dense_vector', dimension: 4, metric: 'cosine' } } },
        read_capacity: { mode: 'Dedicated', dedicated: { node_type: 'x9', scaling: 'Manual', manual: { replicas: 1, shards: 1 } } },
      },
    });
    expect([badNode.status, badNode.json.error.message]).toEqual([400, expect.stringMatching(/read_capacity\.dedicated\.node_type must be one of b1, t1/)]);
    expect((await call(`${control}/indexes/dedicated`, { method: 'DELETE', version: '2025-10' })).status).toBe(202);
  });

  it('keeps a namespace schema (2025-10+) and checks it as the spec says', async () => {
    const schema = { fields: { genre: { filterable: true } } };
    const made = await call(`${host}/namespaces`, { method: 'POST', version: '2025-10', body: { name: 'schema-ns', schema } });
    expect(made.json).toEqual({ name: 'schema-ns', record_count: 0, schema, indexed_fields: { fields: ['genre'] } });
    const v07 = (await call(`${host}/namespaces/schema-ns`, { version: '2026-07' })).json;
    expect(v07).toEqual({ name: 'schema-ns', record_count: '0', schema, indexed_fields: { fields: ['genre'] }, size_bytes: '0' });
    expect((await call(`${host}/namespaces`, { version: '2025-04' })).json.namespaces).toContainEqual({ name: 'schema-ns', record_count: 0 });
    const refusals: [unknown, RegExp][] = [
      [{ fields: { genre: { filterable: false } } }, /Field 'genre' is set to filterable: false\. Only filterable: true is supported\./],
      [{ fields: { genre: {} } }, /Field 'genre' is set to filterable: false/],
      [{ fields: { $op: { filterable: true } } }, /must not be empty or begin with '\$'/],
      [{ fields: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`f${i}`, { filterable: true }])) }, /51 fields.*limit of 50/],
      [{ nofields: true }, /schema\.fields must be an object/],
    ];
    for (const [bad, message] of refusals) {
      const res = await call(`${host}/namespaces`, { method: 'POST', version: '2026-07', body: { name: 'bad-schema', schema: bad } });
      expect([res.status, res.json.message]).toEqual([400, expect.stringMatching(message)]);
    }
    expect((await call(`${host}/namespaces/schema-ns`, { method: 'DELETE', version: '2025-10' })).status).toBe(200);
  });

  it('keeps an emptied serverless namespace in list, describe and stats, with 0 records', async () => {
    await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors: [{ id: 'e1', values: [1, 0, 0, 0] }], namespace: 'emptied' } });
    expect((await call(`${host}/vectors/delete`, { method: 'POST', version: '2025-04', body: { ids: ['e1'], namespace: 'emptied' } })).status).toBe(200);
    const again = await call(`${host}/vectors/delete`, { method: 'POST', version: '2025-04', body: { ids: ['e1'], namespace: 'emptied' } });
    expect([again.status, again.json]).toEqual([200, {}]);
    expect((await call(`${host}/namespaces/emptied`, { version: '2025-10' })).json).toEqual({ name: 'emptied', record_count: 0 });
    expect((await call(`${host}/namespaces`, { version: '2025-10' })).json.namespaces).toContainEqual({ name: 'emptied', record_count: 0 });
    expect((await call(`${host}/describe_index_stats`, { method: 'POST', version: '2025-04', body: {} })).json.namespaces.emptied).toEqual({ vectorCount: 0 });
    expect((await call(`${host}/namespaces`, { method: 'POST', version: '2025-10', body: { name: 'emptied' } })).status).toBe(409);
    expect((await call(`${host}/namespaces/emptied`, { method: 'DELETE', version: '2025-10' })).status).toBe(200);
    expect((await call(`${host}/describe_index_stats`, { method: 'POST', version: '2025-04', body: {} })).json.namespaces.emptied).toBeUndefined();
  });

  it('lets a pod index namespace go with its last record (pod namespaces exist only through records)', async () => {
    await emulator.createIndex({ name: 'pod-ns', dimension: 2, pod: true });
    const podHost = emulator.indexHost('pod-ns')!;
    await call(`${podHost}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors: [{ id: 'p', values: [1, 0] }], namespace: 'tmp' } });
    expect((await call(`${podHost}/describe_index_stats`, { method: 'POST', version: '2025-04', body: {} })).json.namespaces).toEqual({
      tmp: { vectorCount: 1 },
    });
    await call(`${podHost}/vectors/delete`, { method: 'POST', version: '2025-04', body: { ids: ['p'], namespace: 'tmp' } });
    expect((await call(`${podHost}/describe_index_stats`, { method: 'POST', version: '2025-04', body: {} })).json.namespaces).toEqual({});
    await emulator.deleteIndex('pod-ns');
  });

  it('answers a query with an all-zero vector on a dotproduct index', async () => {
    await call(`${host}/vectors/upsert`, { method: 'POST', version: '2025-04', body: { vectors: [{ id: 'z1', values: [1, 2, 3, 4] }], namespace: 'zero-q' } });
    const res = await call(`${host}/query`, { method: 'POST', version: '2025-04', body: { vector: [0, 0, 0, 0], topK: 1, namespace: 'zero-q' } });
    expect([res.status, res.json.matches]).toEqual([200, [{ id: 'z1', score: 0 }]]);
  });
});
