import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EtlError, type JobView } from '@p2m/core';
import { buildOpenApiDocument } from './openapi.ts';
import { createControllerServer } from './server.ts';
import { call, createJob, errorOf, type Method } from './server.fixture.ts';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
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
      const job = await createJob(h);
      for (const { method, path } of protectedOps) {
        const headers = Object.fromEntries(Object.entries(template).map(([k, v]) => [k, v.replace('TOKEN', h.token)]));
        const res = await call(h, method, path.replace('{id}', job.id), method === 'POST' ? h.spec() : undefined, headers);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(errorOf(res).code).toBe('UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      }
      // Nothing was created or changed by the refused requests.
      expect((await h.jobs.list()).map((j) => j.status)).toEqual(['IN_PROGRESS']);
    });
  }

  it('accepts the scheme in any case', async () => {
    expect((await call(h, 'GET', '/v1/jobs', undefined, { authorization: `bearer ${h.token}` })).status).toBe(200);
  });

  it('answers 401 on an unknown route without a token, 404 with one', async () => {
    expect((await call(h, 'GET', '/v1/nothing', undefined, {})).status).toBe(401);
    const res = await call(h, 'GET', '/v1/nothing');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('NOT_FOUND');
  });

  it('refuses to start without a token', () => {
    expect(() => createControllerServer({ jobs: h.jobs, apiToken: '' })).toThrow(/token/);
  });
});

describe('secrets', () => {
  it('never echoes or logs the API key, the Milvus token or the bearer token', async () => {
    const spec = h.spec('secret_job');
    const secrets = [spec.source.apiKey, spec.target.token, h.token];
    const texts: string[] = [];
    const record = (res: { text: string; headers: Record<string, unknown> }) => texts.push(res.text, JSON.stringify(res.headers));

    const created = await call(h, 'POST', '/v1/jobs', spec);
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
      record(await call(h, method, url, body));
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
    const res = await call(h, 'POST', '/v1/jobs', spec);
    expect(res.status).toBe(201);
    expect(res.text).not.toContain(spec.source.apiKey);
    expect(res.text).not.toContain(spec.target.token);
    expect(res.text).not.toMatch(/"apiKey"|"token"/);

    h.jobs.failNextWith(new EtlError('SOURCE_UNAUTHORIZED', `Pinecone refused the API key ${spec.source.apiKey}`));
    const refused = await call(h, 'POST', '/v1/plan', spec);
    expect(refused.status).toBe(400);
    expect(refused.text).not.toContain(spec.source.apiKey);
    expect(errorOf(refused).message).toContain('[redacted]');

    h.jobs.failNextWith(new Error(`connect failed with token ${spec.target.token}`));
    const failed = await call(h, 'POST', '/v1/plan', spec);
    expect(failed.status).toBe(500);
    for (const line of h.logs) {
      expect(line).not.toContain(spec.target.token);
      expect(line).not.toContain(spec.source.apiKey);
    }
  });
});
