import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorResponseSchema } from './api-schemas.ts';
import { call, createJob, errorOf } from './server.fixture.ts';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

describe('validation errors', () => {
  const cases: { name: string; mutate: (spec: Record<string, any>) => unknown; paths: string[] }[] = [
    { name: 'missing collection', mutate: (s) => (delete s.target.collection, s), paths: ['target.collection'] },
    { name: 'bad collection name', mutate: (s) => ((s.target.collection = '1-bad'), s), paths: ['target.collection'] },
    { name: 'unknown field', mutate: (s) => ((s.target.colection = 'x'), s), paths: ['target.colection'] },
    { name: 'unknown top-level field', mutate: (s) => ((s.extra = true), s), paths: ['extra'] },
    { name: 'uppercase index', mutate: (s) => ((s.source.index = 'Docs'), s), paths: ['source.index'] },
    { name: 'missing apiKey', mutate: (s) => (delete s.source.apiKey, s), paths: ['source.apiKey'] },
    { name: 'duplicate field names', mutate: (s) => ((s.target.fields = { id: 'x', vector: 'x' }), s), paths: ['target.fields.vector'] },
    { name: 'maxIdLength too big', mutate: (s) => ((s.target.maxIdLength = 70_000), s), paths: ['target.maxIdLength'] },
    { name: 'several at once', mutate: (s) => (delete s.target.address, (s.source.namespaces = []), s), paths: ['source.namespaces', 'target.address'] },
    { name: 'not an object', mutate: () => [1, 2], paths: ['(body)'] },
    { name: 'no body', mutate: () => undefined, paths: ['(body)'] },
  ];

  for (const c of cases) {
    it(`answers 400 naming the field: ${c.name}`, async () => {
      for (const url of ['/v1/jobs', '/v1/plan']) {
        const res = await call(h, 'POST', url, c.mutate(h.spec() as Record<string, any>));
        expect(res.status, url).toBe(400);
        const error = errorOf(res);
        expect(error.code).toBe('SPEC_INVALID');
        expect(error.issues?.map((i) => i.path).sort()).toEqual(c.paths);
        for (const issue of error.issues ?? []) expect(issue.message.length).toBeGreaterThan(0);
      }
    });
  }

  it('answers 400 for a body that is not JSON, 415 for another media type', async () => {
    const bad = await call(h, 'POST', '/v1/jobs', '{"source":', { ...h.auth, 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).code).toBe('SPEC_INVALID');
    const text = await call(h, 'POST', '/v1/jobs', 'source=x', { ...h.auth, 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(errorOf(text).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 413 for a body over the limit', async () => {
    const big = h.spec() as Record<string, any>;
    big.target.description = 'x'.repeat(2 * 1024 * 1024);
    const res = await call(h, 'POST', '/v1/jobs', big);
    expect(res.status).toBe(413);
    expect(errorOf(res).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('validates replay bodies and error-log queries', async () => {
    const job = await createJob(h);
    h.jobs.complete(job.id);
    const replay = await call(h, 'POST', `/v1/jobs/${job.id}/replay`, { collection: 'no-dashes', other: 1 });
    expect(replay.status).toBe(400);
    expect(
      errorOf(replay)
        .issues?.map((i) => i.path)
        .sort(),
    ).toEqual(['collection', 'other']);
    for (const query of ['limit=0', 'limit=abc', 'limit=1.5', 'limit=100000', 'unknown=1']) {
      const res = await call(h, 'GET', `/v1/jobs/${job.id}/errors?${query}`);
      expect(res.status, query).toBe(400);
      expect(errorOf(res).issues?.length).toBeGreaterThan(0);
    }
  });
});

describe('robustness', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.string(),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 12 }), tie('value'), { maxKeys: 5 }),
    ),
  })).value;
  const keys = [
    'source',
    'target',
    'options',
    'apiKey',
    'index',
    'address',
    'collection',
    'token',
    'fields',
    'namespaces',
    'maxIdLength',
    'partitionKey',
    'description',
    'controllerHostUrl',
    '__proto__',
    'constructor',
  ];
  /** Valid specs with one part replaced by something random: most of the space is near-valid. */
  const mutatedSpec = fc.tuple(fc.constantFrom(...keys), fc.constantFrom(...keys), json, fc.boolean()).map(([a, b, value, nested]) => {
    const spec = h.spec() as Record<string, any>;
    const parent = nested && Object.hasOwn(spec, a) && typeof spec[a] === 'object' && spec[a] !== null ? spec[a] : spec;
    // defineProperty, so a key such as __proto__ becomes an own field of the body, not a prototype.
    Object.defineProperty(parent, nested ? b : a, { value, enumerable: true, writable: true, configurable: true });
    return spec;
  });

  it('never answers 5xx to a random or malformed job body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(json, mutatedSpec), fc.constantFrom('/v1/jobs', '/v1/plan'), async (body, url) => {
        const res = await call(h, 'POST', url, JSON.stringify(body), { ...h.auth, 'content-type': 'application/json' });
        expect(res.status, `${url} ${JSON.stringify(body)} → ${res.text}`).toBeLessThan(500);
        if (res.status >= 400) expect(ErrorResponseSchema.safeParse(res.json()).success).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('never answers 5xx to random replay bodies, error-log queries or raw bytes', async () => {
    const job = await createJob(h);
    h.jobs.complete(job.id);
    await fc.assert(
      fc.asyncProperty(json, fc.string(), fc.string(), async (body, cursor, limit) => {
        const replay = await call(h, 'POST', `/v1/jobs/${job.id}/replay`, JSON.stringify(body), { ...h.auth, 'content-type': 'application/json' });
        expect(replay.status).toBeLessThan(500);
        const q = new URLSearchParams({ cursor, limit });
        const errors = await call(h, 'GET', `/v1/jobs/${job.id}/errors?${q}`);
        expect(errors.status).toBeLessThan(500);
        const raw = await call(h, 'POST', '/v1/jobs', cursor, { ...h.auth, 'content-type': 'application/json' });
        expect(raw.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });
});
