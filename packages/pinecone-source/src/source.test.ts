import { describe, expect, it } from 'vitest';
import { EtlError, type SourceRequestRunner } from '@p2m/core';
import { etlErrorOf } from '@p2m/testing';
import { createPineconeSource } from './source.ts';
import { toIndexDescription } from './describe.ts';
import { parseRetryAfter } from './http.ts';

/**
 * The SDK runs unmodified over a fake `fetchApi` that answers like Pinecone's 2026-07 API (shapes
 * from the public OpenAPI spec). No network.
 */

const CONTROL = 'http://control.test';
const HOST = 'http://docs-host.test';

interface Seen {
  method: string;
  url: URL;
  headers: Headers;
  body: string | undefined;
  signal: AbortSignal | undefined;
}

type Route = (req: Seen) => Response | Promise<Response>;

const json = (body: unknown, status = 200): Response => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const text = (body: string, status: number, headers: Record<string, string> = {}): Response =>
  new Response(body, { status, headers: { 'content-type': 'text/plain', ...headers } });

const indexModel = (overrides: Record<string, unknown> = {}) => ({
  name: 'docs',
  host: HOST,
  status: { ready: true, state: 'Ready' },
  deployment: { deployment_type: 'managed', cloud: 'aws', region: 'us-east-1' },
  schema: { fields: { _values: { type: 'dense_vector', dimension: 3, metric: 'dotproduct' }, _sparse_values: { type: 'sparse_vector' } } },
  deletion_protection: 'disabled',
  ...overrides,
});

function fakePinecone(routes: Record<string, Route>) {
  const seen: Seen[] = [];
  const fetchApi = (async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const req: Seen = {
      method: init?.method ?? 'GET',
      url,
      headers: new Headers(init?.headers),
      body: init?.body as string | undefined,
      signal: init?.signal ?? undefined,
    };
    seen.push(req);
    const route = routes[`${req.method} ${url.origin}${url.pathname}`];
    if (!route) return json({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` }, status: 404 }, 404);
    return route(req);
  }) as typeof fetch;
  return { fetchApi, seen };
}

const baseRoutes = (): Record<string, Route> => ({
  [`GET ${CONTROL}/indexes/docs`]: () => json(indexModel()),
});

function source(routes: Record<string, Route>, extra: { fetchTimeoutMs?: number } = {}) {
  const fake = fakePinecone({ ...baseRoutes(), ...routes });
  const src = createPineconeSource({ apiKey: 'secret-key', index: 'docs', controllerHostUrl: CONTROL, fetchApi: fake.fetchApi, ...extra });
  return { src, seen: fake.seen };
}

describe('createPineconeSource', () => {
  it('describes a serverless dense index from the 2026-07 shape, sending the key and API version', async () => {
    const { src, seen } = source({});
    await expect(src.describeIndex()).resolves.toEqual({
      name: 'docs',
      dimension: 3,
      metric: 'dotproduct',
      vectorType: 'dense',
      deployment: 'serverless',
      host: HOST,
      ready: true,
    });
    expect(seen[0]!.headers.get('Api-Key')).toBe('secret-key');
    expect(seen[0]!.headers.get('X-Pinecone-Api-Version')).toBe('2026-07');
  });

  it('lists a page with the default namespace as __default__, and passes the token and limit', async () => {
    const { src, seen } = source({
      [`GET ${HOST}/vectors/list`]: (req) =>
        req.url.searchParams.get('paginationToken') === 'tok1'
          ? json({ vectors: [{ id: 'c' }], namespace: '__default__', usage: { readUnits: 1 } })
          : json({ vectors: [{ id: 'a' }, { id: 'b' }], pagination: { next: 'tok1' }, namespace: '__default__', usage: { readUnits: 1 } }),
    });
    await expect(src.listPage('', null, 2)).resolves.toEqual({ ids: ['a', 'b'], next: 'tok1' });
    await expect(src.listPage('', 'tok1', 2)).resolves.toEqual({ ids: ['c'], next: null });
    const lists = seen.filter((s) => s.url.pathname === '/vectors/list');
    expect(lists[0]!.url.searchParams.get('namespace')).toBe('__default__');
    expect(lists[0]!.url.searchParams.get('limit')).toBe('2');
    expect(lists[0]!.url.searchParams.has('paginationToken')).toBe(false);
    expect(lists[1]!.url.searchParams.get('paginationToken')).toBe('tok1');
    // the host was resolved once and then reused
    expect(seen.filter((s) => s.url.pathname === '/indexes/docs')).toHaveLength(1);
  });

  it('fetches values, sparse values and metadata; missing ids are absent', async () => {
    const { src, seen } = source({
      [`GET ${HOST}/vectors/fetch`]: () =>
        json({
          vectors: {
            b: { id: 'b', values: [4, 5, 6], sparseValues: { indices: [4294967295], values: [0.5] } },
            a: { id: 'a', values: [1, 2, 3], metadata: { genre: 'drama', year: 2020, tags: ['x', 'y'], ok: true } },
          },
          namespace: 'ns1',
          usage: { readUnits: 1 },
        }),
    });
    const got = await src.fetch('ns1', ['a', 'gone', 'b']);
    expect(got).toEqual([
      { id: 'a', values: [1, 2, 3], sparseValues: undefined, metadata: { genre: 'drama', year: 2020, tags: ['x', 'y'], ok: true } },
      { id: 'b', values: [4, 5, 6], sparseValues: { indices: [4294967295], values: [0.5] }, metadata: undefined },
    ]);
    const req = seen.find((s) => s.url.pathname === '/vectors/fetch')!;
    expect(req.url.searchParams.getAll('ids')).toEqual(['a', 'gone', 'b']);
    expect(req.url.searchParams.get('namespace')).toBe('ns1');
    await expect(src.fetch('ns1', [])).resolves.toEqual([]);
  });

  it('does not take a missing id named like an Object.prototype member for a record', async () => {
    const { src } = source({
      [`GET ${HOST}/vectors/fetch`]: () => json({ vectors: { a: { id: 'a', values: [1, 2, 3] } }, namespace: 'ns1', usage: { readUnits: 1 } }),
    });
    const got = await src.fetch('ns1', ['toString', 'a', 'constructor', '__proto__', 'hasOwnProperty']);
    expect(got.map((r) => r.id)).toEqual(['a']);
  });

  it('lists 100,000 namespaces from list_namespaces, 1,000 pages of 100, without describe_index_stats', async () => {
    const names = Array.from({ length: 100_000 }, (_, i) => (i === 0 ? '__default__' : `tenant-${String(i).padStart(6, '0')}`)).sort();
    const { src, seen } = source({
      // What Pinecone does: sorted names, `limit` per page, an opaque token for the next page.
      [`GET ${HOST}/namespaces`]: (req) => {
        const limit = Number(req.url.searchParams.get('limit') ?? 100);
        const token = req.url.searchParams.get('paginationToken');
        const start = token === null ? 0 : Number(Buffer.from(token, 'base64url').toString());
        const page = names.slice(start, start + limit);
        const next = start + limit < names.length ? { pagination: { next: Buffer.from(String(start + limit)).toString('base64url') } } : {};
        return json({ namespaces: page.map((name, j) => ({ name, record_count: String((start + j) % 3) })), ...next, total_count: names.length });
      },
      [`POST ${HOST}/describe_index_stats`]: () => json({ namespaces: { __default__: { vectorCount: 1 } }, dimension: 3, totalVectorCount: 1 }),
    });
    const listed = await src.listNamespaces();
    expect(listed).toHaveLength(100_000);
    expect(new Set(listed.map((n) => n.name)).size).toBe(100_000);
    expect(listed[0]).toEqual({ name: '', recordCount: 0 });
    expect(listed.find((n) => n.name === 'tenant-099999')).toBeDefined();
    expect(listed.reduce((sum, n) => sum + n.recordCount, 0)).toBe(99_999);
    const pages = seen.filter((s) => s.url.pathname === '/namespaces');
    expect(pages).toHaveLength(1_000);
    expect(pages.every((p) => p.url.searchParams.get('limit') === '100')).toBe(true);
    expect(seen.filter((s) => s.url.pathname === '/describe_index_stats')).toHaveLength(0);
  }, 60_000);

  it('runs each list_namespaces page through the caller’s runner, so a 429 on one page retries that page', async () => {
    let calls = 0;
    const { src } = source({
      [`GET ${HOST}/namespaces`]: (req) => {
        calls++;
        if (req.url.searchParams.get('paginationToken') === 'p2') {
          return calls === 2 ? text('Too Many Requests', 429) : json({ namespaces: [{ name: 'c', record_count: '7' }] });
        }
        return json({
          namespaces: [
            { name: '__default__', record_count: '3' },
            { name: 'a', record_count: 2 },
          ],
          pagination: { next: 'p2' },
        });
      },
    });
    const ran: string[] = [];
    const runner: SourceRequestRunner = async (operation, request) => {
      ran.push(operation);
      try {
        return await request();
      } catch (err) {
        ran.push(`retry after ${(err as EtlError).code}`);
        return request();
      }
    };
    await expect(src.listNamespaces(runner)).resolves.toEqual([
      { name: '', recordCount: 3 },
      { name: 'a', recordCount: 2 },
      { name: 'c', recordCount: 7 },
    ]);
    expect(ran).toEqual(['describe_index', 'list_namespaces', 'list_namespaces', 'retry after RATE_LIMITED']);
    expect(calls).toBe(3);
  });

  it('refuses a list_namespaces that repeats a pagination token instead of looping or returning part of the list', async () => {
    const { src } = source({ [`GET ${HOST}/namespaces`]: () => json({ namespaces: [{ name: 'a', record_count: '1' }], pagination: { next: 'same' } }) });
    const err = await etlErrorOf(src.listNamespaces());
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('returned a pagination token it had returned before');
  });

  it('falls back to describe_index_stats where list_namespaces is not offered', async () => {
    const { src } = source({
      [`POST ${HOST}/describe_index_stats`]: () => json({ namespaces: { '': { vectorCount: 4 }, b: { vectorCount: 2 } }, dimension: 3, totalVectorCount: 6 }),
      [`GET ${HOST}/namespaces`]: () => text('Not Found', 404),
    });
    await expect(src.listNamespaces()).resolves.toEqual([
      { name: '', recordCount: 4 },
      { name: 'b', recordCount: 2 },
    ]);
  });

  it('does not fall back to stats when list_namespaces is rate-limited: the caller retries', async () => {
    const { src, seen } = source({
      [`POST ${HOST}/describe_index_stats`]: () => json({ namespaces: { '': { vectorCount: 4 } }, dimension: 3, totalVectorCount: 4 }),
      [`GET ${HOST}/namespaces`]: () => text('Too Many Requests', 429),
    });
    expect((await etlErrorOf(src.listNamespaces())).code).toBe('RATE_LIMITED');
    expect(seen.filter((s) => s.url.pathname === '/describe_index_stats')).toHaveLength(0);
  });

  it('maps 401 to SOURCE_UNAUTHORIZED with a hint, and never echoes the key', async () => {
    const { src } = source({ [`GET ${CONTROL}/indexes/docs`]: () => text('Invalid API Key', 401) });
    const err = await etlErrorOf(src.describeIndex());
    expect(err.code).toBe('SOURCE_UNAUTHORIZED');
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('the Pinecone API key was refused');
    expect(err.hint).toMatch(/apiKey/);
    expect(JSON.stringify(err.toJSON())).not.toContain('secret-key');
  });

  it('maps 404 on describe to SOURCE_INDEX_NOT_FOUND naming the index', async () => {
    const { src } = source({
      [`GET ${CONTROL}/indexes/docs`]: () => json({ error: { code: 'NOT_FOUND', message: 'Resource docs not found' }, status: 404 }, 404),
    });
    const err = await etlErrorOf(src.describeIndex());
    expect(err.code).toBe('SOURCE_INDEX_NOT_FOUND');
    expect(err.message).toContain('"docs"');
    expect(err.retriable).toBe(false);
  });

  it('maps a plain-text 429 to RATE_LIMITED (retriable) with Retry-After, and the SDK does not retry it', async () => {
    const { src, seen } = source({ [`GET ${HOST}/vectors/list`]: () => text('Too Many Requests', 429, { 'retry-after': '2' }) });
    const err = await etlErrorOf(src.listPage('ns', null));
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.retriable).toBe(true);
    expect(err.details).toMatchObject({ status: 429, retryAfterMs: 2000 });
    expect(seen.filter((s) => s.url.pathname === '/vectors/list')).toHaveLength(1);
  });

  it.each([500, 502, 503, 504])('maps HTTP %i to TRANSIENT after a single attempt (the runtime owns retries)', async (status) => {
    const { src, seen } = source({ [`GET ${HOST}/vectors/fetch`]: () => json({ code: 13, message: 'boom', details: [] }, status) });
    const err = await etlErrorOf(src.fetch('ns', ['a']));
    expect(err.code).toBe('TRANSIENT');
    expect(err.retriable).toBe(true);
    expect(err.message).toContain('boom');
    expect(seen.filter((s) => s.url.pathname === '/vectors/fetch')).toHaveLength(1);
  });

  it('maps 400 to a permanent error carrying Pinecone’s message', async () => {
    const { src } = source({
      [`GET ${HOST}/vectors/list`]: () => json({ code: 3, message: 'list is supported only for serverless indexes', details: [] }, 400),
    });
    const err = await etlErrorOf(src.listPage('ns', null));
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('list is supported only for serverless indexes');
  });

  it('maps a connection reset to TRANSIENT', async () => {
    const { src } = source({
      [`GET ${HOST}/vectors/list`]: () => {
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      },
    });
    const err = await etlErrorOf(src.listPage('ns', null));
    expect(err.code).toBe('TRANSIENT');
    expect(err.message).toContain('ECONNRESET');
  });

  it('bounds a request with fetchTimeoutMs and maps the timeout to TRANSIENT', async () => {
    const { src } = source(
      {
        // a server that never answers: only the request's own signal ends it, as with real fetch
        [`GET ${HOST}/vectors/fetch`]: (req) =>
          new Promise<Response>((_, reject) => req.signal?.addEventListener('abort', () => reject(req.signal!.reason as Error), { once: true })),
      },
      { fetchTimeoutMs: 50 },
    );
    const err = await etlErrorOf(src.fetch('ns', ['a']));
    expect(err.code).toBe('TRANSIENT');
    expect(err.message).toContain('within 50 ms');
  });

  it('resolves the host again after a failed describe', async () => {
    let calls = 0;
    const { src } = source({
      [`GET ${CONTROL}/indexes/docs`]: () => (++calls === 1 ? text('unavailable', 503) : json(indexModel())),
      [`GET ${HOST}/vectors/list`]: () => json({ vectors: [], namespace: 'ns' }),
    });
    expect((await etlErrorOf(src.listPage('ns', null))).code).toBe('TRANSIENT');
    await expect(src.listPage('ns', null)).resolves.toEqual({ ids: [], next: null });
  });
});

describe('toIndexDescription', () => {
  it('reads pod and sparse indexes from the 2026-07 shape', () => {
    const pod = toIndexDescription(
      indexModel({ deployment: { deploymentType: 'pod', environment: 'us-east1-gcp', podType: 'p1.x1' }, schema: { fields: {} } }),
      'docs',
    );
    expect(pod.deployment).toBe('pod');
    const sparse = toIndexDescription(indexModel({ schema: { fields: { _sparse_values: { type: 'sparse_vector' } } } }), 'docs');
    expect(sparse).toMatchObject({ vectorType: 'sparse', dimension: null, metric: 'dotproduct' });
  });

  it('reads the pre-2026-07 shape (spec.serverless / spec.pod, dimension, metric, vector_type)', () => {
    expect(
      toIndexDescription(
        {
          name: 'old',
          dimension: 8,
          metric: 'euclidean',
          vector_type: 'dense',
          host: 'old-abc.svc.pinecone.io',
          spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
          status: { ready: true },
        },
        'old',
      ),
    ).toEqual({
      name: 'old',
      dimension: 8,
      metric: 'euclidean',
      vectorType: 'dense',
      deployment: 'serverless',
      host: 'https://old-abc.svc.pinecone.io',
      ready: true,
    });
    expect(toIndexDescription({ name: 'p', dimension: 8, metric: 'cosine', spec: { pod: { environment: 'x' } }, host: 'h' }, 'p').deployment).toBe('pod');
  });

  it('refuses an index with no vector field', () => {
    expect(() => toIndexDescription(indexModel({ schema: { fields: { title: { type: 'string' } } } }), 'docs')).toThrow(/no dense or sparse vector field/);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('1.5')).toBe(1500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
