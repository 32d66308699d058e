import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EtlError, type JobView } from '@p2m/core';
import { CollectionPlanSchema, ErrorResponseSchema, ErrorsPageSchema, JobListSchema, JobViewSchema } from './api-schemas.ts';
import { createHarness, type Harness } from './harness.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { createControllerServer } from './server.ts';

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

type Method = 'GET' | 'POST';
async function call(method: Method, url: string, body?: unknown, headers: Record<string, string> = h.auth) {
  const res = await h.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: res.statusCode, headers: res.headers, text: res.body, json: () => JSON.parse(res.body) as unknown };
}

async function createJob(collection?: string): Promise<JobView> {
  const res = await call('POST', '/v1/jobs', h.spec(collection));
  expect(res.status).toBe(201);
  return JobViewSchema.parse(res.json()) as JobView;
}

function errorOf(res: { json: () => unknown }) {
  return ErrorResponseSchema.parse(res.json()).error;
}

describe('jobs API, happy path', () => {
  it('creates a job (201) and shows it in the list, by id and by plan', async () => {
    const job = await createJob('docs_a');
    expect(job.status).toBe('PENDING');
    expect(job.target.collection).toBe('docs_a');
    expect(job.progress.total.sourceCount).toBe(1000);

    const list = JobListSchema.parse((await call('GET', '/v1/jobs')).json());
    expect(list.jobs.map((j) => j.id)).toEqual([job.id]);

    const got = await call('GET', `/v1/jobs/${job.id}`);
    expect(got.status).toBe(200);
    expect(JobViewSchema.parse(got.json()).id).toBe(job.id);

    const plan = await call('GET', `/v1/jobs/${job.id}/plan`);
    expect(plan.status).toBe(200);
    const parsed = CollectionPlanSchema.parse(plan.json());
    expect(parsed.collection).toBe('docs_a');
    expect(parsed.fields.map((f) => f.name)).toEqual(['namespace', 'id', 'vector']);
  });

  it('filters the list by status and pages it (?status=&limit=&cursor=), with counts per status', async () => {
    const created: JobView[] = [];
    for (let i = 0; i < 5; i++) created.push(await createJob(`paged_${i}`));
    h.jobs.update(created[1]!.id, { status: 'FAILED', error: { code: 'TARGET_UNAVAILABLE', message: 'Milvus down', at: 'loader partition 2 offset 7' } });
    h.jobs.update(created[3]!.id, { status: 'FAILED' });

    const failed = JobListSchema.parse((await call('GET', '/v1/jobs?status=FAILED')).json());
    expect(failed.jobs.map((j) => j.id).sort()).toEqual([created[1]!.id, created[3]!.id].sort());
    expect(failed.total).toBe(2);
    expect(failed.counts).toMatchObject({ FAILED: 2, PENDING: 3 });

    const first = JobListSchema.parse((await call('GET', '/v1/jobs?status=PENDING,FAILED&limit=3')).json());
    expect(first.jobs).toHaveLength(3);
    expect(first.total).toBe(5);
    const second = JobListSchema.parse((await call('GET', `/v1/jobs?status=PENDING,FAILED&limit=3&cursor=${first.next!}`)).json());
    expect(second.jobs).toHaveLength(2);
    expect(second.next).toBeNull();
    expect(new Set([...first.jobs, ...second.jobs].map((j) => j.id))).toEqual(new Set(created.map((j) => j.id)));

    const bad = await call('GET', '/v1/jobs?status=DONE&limit=0&cursor=x');
    expect(bad.status).toBe(400);
    expect(errorOf(bad).issues?.map((i) => i.path).sort()).toEqual(['limit', 'status']);
    const unknownCursor = await call('GET', '/v1/jobs?cursor=nope');
    expect(unknownCursor.status).toBe(400);
    expect(errorOf(unknownCursor).message).toMatch(/cursor/);
  });

  it('previews a plan for a spec without creating a job', async () => {
    const res = await call('POST', '/v1/plan', h.spec('preview_only'));
    expect(res.status).toBe(200);
    expect(CollectionPlanSchema.parse(res.json()).collection).toBe('preview_only');
    expect((await h.jobs.list()).length).toBe(0);
  });

  it('cancels, resumes and replays', async () => {
    const job = await createJob();
    h.jobs.update(job.id, { status: 'IN_PROGRESS' });
    const cancelled = await call('POST', `/v1/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(JobViewSchema.parse(cancelled.json()).status).toBe('CANCELLING');
    h.jobs.update(job.id, { status: 'CANCELLED' });

    const resumed = await call('POST', `/v1/jobs/${job.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(JobViewSchema.parse(resumed.json()).status).toBe('IN_PROGRESS');

    h.jobs.complete(job.id);
    const sameCollection = await call('POST', `/v1/jobs/${job.id}/replay`);
    expect(sameCollection.status).toBe(200);
    expect(JobViewSchema.parse(sameCollection.json())).toMatchObject({ id: job.id, mode: 'replay' });

    h.jobs.complete(job.id);
    const elsewhere = await call('POST', `/v1/jobs/${job.id}/replay`, { collection: 'docs_copy' });
    expect(elsewhere.status).toBe(201);
    expect(JobViewSchema.parse(elsewhere.json())).toMatchObject({ mode: 'replay', topicJobId: job.id, target: { collection: 'docs_copy' } });
  });

  it('accepts an empty JSON body on POST actions', async () => {
    const job = await createJob();
    const res = await call('POST', `/v1/jobs/${job.id}/cancel`, '', { ...h.auth, 'content-type': 'application/json' });
    expect(res.status).toBe(200);
  });

  it('pages through the error log with a cursor', async () => {
    const job = await createJob();
    h.jobs.addDlq(
      job.id,
      Array.from({ length: 250 }, (_, i) => ({ namespace: 'docs', id: `r${i}`, code: 'RECORD_INVALID', reason: 'dimension 7, expected 8', at: new Date(0).toISOString() })),
    );
    const first = ErrorsPageSchema.parse((await call('GET', `/v1/jobs/${job.id}/errors?limit=100`)).json());
    expect(first.entries).toHaveLength(100);
    expect(first.total).toBe(250);
    expect(first.next).not.toBeNull();
    const ids = first.entries.map((e) => e.id);
    let next = first.next;
    while (next !== null) {
      const page = ErrorsPageSchema.parse((await call('GET', `/v1/jobs/${job.id}/errors?limit=100&cursor=${encodeURIComponent(next)}`)).json());
      ids.push(...page.entries.map((e) => e.id));
      next = page.next;
    }
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => `r${i}`));
  });

  it('serves health, metrics and the document without a token', async () => {
    expect((await call('GET', '/healthz', undefined, {})).json()).toEqual({ status: 'ok' });
    const metrics = await call('GET', '/metrics', undefined, {});
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    const doc = await call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json()).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('puts the job id on every log line about a job', async () => {
    const job = await createJob();
    await call('GET', `/v1/jobs/${job.id}`);
    await call('POST', `/v1/jobs/${job.id}/cancel`);
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.route ?? '').includes(':id') || l.method === 'POST');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line.jobId).toBe(job.id);
  });
});

describe('authentication', () => {
  const doc = buildOpenApiDocument();
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase() as Method, path, op })),
  );
  const protectedOps = operations.filter((o) => o.op.security === undefined || o.op.security.length > 0);
  const publicOps = operations.filter((o) => o.op.security?.length === 0);

  it('documents exactly /healthz, /metrics and the Jobs page as public', () => {
    expect(publicOps.map((o) => o.path).sort()).toEqual(['/', '/healthz', '/metrics']);
    expect(protectedOps.length).toBeGreaterThanOrEqual(10);
  });

  const badHeaders: Record<string, Record<string, string>> = {
    'no header': {},
    'wrong token': { authorization: 'Bearer not-the-token' },
    'token with a suffix': { authorization: 'Bearer TOKEN-x' },
    'Basic scheme': { authorization: 'Basic TOKEN' },
    'bare token': { authorization: 'TOKEN' },
    'empty bearer': { authorization: 'Bearer ' },
  };

  for (const [what, template] of Object.entries(badHeaders)) {
    it(`answers 401 with ${what} on every protected route`, async () => {
      const job = await createJob();
      for (const { method, path } of protectedOps) {
        const headers = Object.fromEntries(Object.entries(template).map(([k, v]) => [k, v.replace('TOKEN', h.token)]));
        const res = await call(method, path.replace('{id}', job.id), method === 'POST' ? h.spec() : undefined, headers);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(errorOf(res).code).toBe('UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      // Nothing was created or changed by the refused requests.
      expect((await h.jobs.list()).map((j) => j.status)).toEqual(['PENDING']);
    });
  }

  it('accepts the scheme in any case', async () => {
    expect((await call('GET', '/v1/jobs', undefined, { authorization: `bearer ${h.token}` })).status).toBe(200);
  });

  it('answers 401 on an unknown route without a token, 404 with one', async () => {
    expect((await call('GET', '/v1/nothing', undefined, {})).status).toBe(401);
    const res = await call('GET', '/v1/nothing');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('NOT_FOUND');
  });

  it('refuses to start without a token', () => {
    expect(() => createControllerServer({ jobs: h.jobs, apiToken: '' })).toThrow(/token/);
  });
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
        const res = await call('POST', url, c.mutate(h.spec() as Record<string, any>));
        expect(res.status, url).toBe(400);
        const error = errorOf(res);
        expect(error.code).toBe('SPEC_INVALID');
        expect(error.issues?.map((i) => i.path).sort()).toEqual(c.paths);
        for (const issue of error.issues ?? []) expect(issue.message.length).toBeGreaterThan(0);
      }
    });
  }

  it('answers 400 for a body that is not JSON, 415 for another media type', async () => {
    const bad = await call('POST', '/v1/jobs', '{"source":', { ...h.auth, 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).code).toBe('SPEC_INVALID');
    const text = await call('POST', '/v1/jobs', 'source=x', { ...h.auth, 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect(errorOf(text).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 413 for a body over the limit', async () => {
    const big = h.spec() as Record<string, any>;
    big.target.description = 'x'.repeat(2 * 1024 * 1024);
    const res = await call('POST', '/v1/jobs', big);
    expect(res.status).toBe(413);
    expect(errorOf(res).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('validates replay bodies and error-log queries', async () => {
    const job = await createJob();
    h.jobs.complete(job.id);
    const replay = await call('POST', `/v1/jobs/${job.id}/replay`, { collection: 'no-dashes', other: 1 });
    expect(replay.status).toBe(400);
    expect(errorOf(replay).issues?.map((i) => i.path).sort()).toEqual(['collection', 'other']);
    for (const query of ['limit=0', 'limit=abc', 'limit=1.5', 'limit=100000', 'unknown=1']) {
      const res = await call('GET', `/v1/jobs/${job.id}/errors?${query}`);
      expect(res.status, query).toBe(400);
      expect(errorOf(res).issues?.length).toBeGreaterThan(0);
    }
  });
});

describe('service errors', () => {
  it('answers 404 for an unknown job on every job route', async () => {
    for (const [method, path] of [
      ['GET', '/v1/jobs/missing'],
      ['POST', '/v1/jobs/missing/cancel'],
      ['POST', '/v1/jobs/missing/resume'],
      ['POST', '/v1/jobs/missing/replay'],
      ['GET', '/v1/jobs/missing/errors'],
      ['GET', '/v1/jobs/missing/plan'],
      ['GET', `/v1/jobs/${encodeURIComponent('../../etc')}`],
      ['GET', `/v1/jobs/${'x'.repeat(300)}`],
    ] as [Method, string][]) {
      const res = await call(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorOf(res).code).toBe('JOB_NOT_FOUND');
    }
  });

  it('answers 409 when the collection exists or the job state forbids the action', async () => {
    await createJob('taken');
    const dup = await call('POST', '/v1/jobs', h.spec('taken'));
    expect(dup.status).toBe(409);
    expect(errorOf(dup)).toMatchObject({ code: 'TARGET_COLLECTION_EXISTS', hint: expect.stringMatching(/another/) });
    expect(errorOf(dup).issues?.[0]?.path).toBe('target.collection');

    h.jobs.existingCollections.add('outside');
    expect((await call('POST', '/v1/plan', h.spec('outside'))).status).toBe(409);

    const job = await createJob();
    await call('POST', `/v1/jobs/${job.id}/cancel`);
    const again = await call('POST', `/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(errorOf(again).code).toBe('JOB_STATE');
    const resumeActive = await call('POST', `/v1/jobs/${(await createJob()).id}/resume`);
    expect(resumeActive.status).toBe(409);
  });

  it('answers 409 for the plan of a job that has none yet', async () => {
    const job = await createJob();
    h.jobs.update(job.id, { plan: undefined });
    const res = await call('GET', `/v1/jobs/${job.id}/plan`);
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('JOB_STATE');
  });

  it('answers 400 for source refusals (pod index, unknown index) with the field', async () => {
    const spec = h.spec() as Record<string, any>;
    spec.source.index = 'no-such-index';
    const res = await call('POST', '/v1/jobs', spec);
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'SOURCE_INDEX_NOT_FOUND', issues: [{ path: 'source.index' }] });
  });

  it('answers 503 for transient failures', async () => {
    h.jobs.failNextWith(new EtlError('TARGET_UNAVAILABLE', 'Milvus is not answering'));
    const res = await call('GET', '/v1/jobs');
    expect(res.status).toBe(503);
    expect(errorOf(res).code).toBe('TARGET_UNAVAILABLE');
  });

  it('answers 500 without internals, and logs them', async () => {
    h.jobs.failNextWith(new TypeError('cannot read properties of undefined (reading "offsets") at kafka.ts:42'));
    const res = await call('GET', '/v1/jobs');
    expect(res.status).toBe(500);
    const error = errorOf(res);
    expect(error.code).toBe('INTERNAL');
    expect(res.text).not.toMatch(/offsets|kafka\.ts|TypeError/);
    expect(error.requestId).toBeTruthy();
    const logged = h.logs.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'request failed');
    expect(logged?.reqId).toBe(error.requestId);
    expect(logged?.err.message).toMatch(/offsets/);
    expect(logged?.level).toBe(50);

    h.jobs.failNextWith(new EtlError('INTERNAL', 'partition name clash in plan.ts'));
    const internal = await call('GET', '/v1/jobs');
    expect(internal.status).toBe(500);
    expect(internal.text).not.toMatch(/clash/);
  });
});

describe('secrets', () => {
  it('never echoes or logs the API key, the Milvus token or the bearer token', async () => {
    const spec = h.spec('secret_job');
    const secrets = [spec.source.apiKey, spec.target.token, h.token];
    const texts: string[] = [];
    const record = (res: { text: string; headers: Record<string, unknown> }) => texts.push(res.text, JSON.stringify(res.headers));

    const created = await call('POST', '/v1/jobs', spec);
    record(created);
    const id = (created.json() as JobView).id;
    // The service keeps them (it needs them) ...
    expect(h.jobs.specOf(id).source.apiKey).toBe(spec.source.apiKey);
    h.jobs.addDlq(id, [{ namespace: '', id: 'r1', code: 'RECORD_REJECTED', reason: 'rejected', at: new Date(0).toISOString() }]);
    h.jobs.complete(id);
    // ... and no route gives them back, whatever it is asked.
    for (const [method, url, body] of [
      ['GET', '/v1/jobs'],
      ['GET', `/v1/jobs/${id}`],
      ['GET', `/v1/jobs/${id}/plan`],
      ['GET', `/v1/jobs/${id}/errors`],
      ['POST', '/v1/plan', { ...spec, target: { ...spec.target, collection: 'secret_preview' } }],
      ['POST', '/v1/jobs', spec],
      ['POST', '/v1/jobs', { ...spec, target: { ...spec.target, collection: '!bad' } }],
      ['POST', '/v1/jobs', { ...spec, source: { ...spec.source, index: 'BAD' }, bogus: spec.source.apiKey }],
      ['POST', `/v1/jobs/${id}/replay`, { collection: 'secret_copy' }],
      ['POST', `/v1/jobs/${id}/cancel`],
      ['GET', '/metrics'],
      ['GET', '/openapi.json'],
      ['GET', '/'],
    ] as [Method, string, unknown?][]) {
      record(await call(method, url, body));
    }
    for (const secret of secrets) {
      for (const text of texts) expect(text).not.toContain(secret);
      for (const line of h.logs) expect(line).not.toContain(secret);
    }
  });

  it('cuts secrets out of what a careless service would return', async () => {
    const spec = h.spec('leaky');
    const create = h.jobs.create.bind(h.jobs);
    h.jobs.create = async (input: unknown) => {
      const view = await create(input);
      return { ...view, source: { ...view.source, apiKey: spec.source.apiKey }, target: { ...view.target, token: spec.target.token } };
    };
    const res = await call('POST', '/v1/jobs', spec);
    expect(res.status).toBe(201);
    expect(res.text).not.toContain(spec.source.apiKey);
    expect(res.text).not.toContain(spec.target.token);
    expect(res.text).not.toMatch(/"apiKey"|"token"/);

    h.jobs.failNextWith(new EtlError('SOURCE_UNAUTHORIZED', `Pinecone refused the API key ${spec.source.apiKey}`));
    const refused = await call('POST', '/v1/plan', spec);
    expect(refused.status).toBe(400);
    expect(refused.text).not.toContain(spec.source.apiKey);
    expect(errorOf(refused).message).toContain('[redacted]');

    h.jobs.failNextWith(new Error(`connect failed with token ${spec.target.token}`));
    const failed = await call('POST', '/v1/plan', spec);
    expect(failed.status).toBe(500);
    for (const line of h.logs) {
      expect(line).not.toContain(spec.target.token);
      expect(line).not.toContain(spec.source.apiKey);
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
  const keys = ['source', 'target', 'options', 'apiKey', 'index', 'address', 'collection', 'token', 'fields', 'namespaces', 'maxIdLength', 'partitionKey', 'description', 'controllerHostUrl', '__proto__', 'constructor'];
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
        const res = await call('POST', url, JSON.stringify(body), { ...h.auth, 'content-type': 'application/json' });
        expect(res.status, `${url} ${JSON.stringify(body)} → ${res.text}`).toBeLessThan(500);
        if (res.status >= 400) expect(ErrorResponseSchema.safeParse(res.json()).success).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('never answers 5xx to random replay bodies, error-log queries or raw bytes', async () => {
    const job = await createJob();
    h.jobs.complete(job.id);
    await fc.assert(
      fc.asyncProperty(json, fc.string(), fc.string(), async (body, cursor, limit) => {
        const replay = await call('POST', `/v1/jobs/${job.id}/replay`, JSON.stringify(body), { ...h.auth, 'content-type': 'application/json' });
        expect(replay.status).toBeLessThan(500);
        const q = new URLSearchParams({ cursor, limit });
        const errors = await call('GET', `/v1/jobs/${job.id}/errors?${q}`);
        expect(errors.status).toBeLessThan(500);
        const raw = await call('POST', '/v1/jobs', cursor, { ...h.auth, 'content-type': 'application/json' });
        expect(raw.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });
});
