import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponseSchema, ROUTES, buildOpenApiDocument, type OpenApiOperation, type RouteSpec } from '@p2m/controller';
import { createHarness, type Harness } from '@p2m/controller/testing';

const doc = buildOpenApiDocument();
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase() as 'GET' | 'POST', path, op: op as OpenApiOperation })),
);

function* walk(value: unknown, at: string): Generator<[string, string, unknown]> {
  if (value === null || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value)) {
    yield [`${at}/${key}`, key, v];
    yield* walk(v, `${at}/${key}`);
  }
}

function resolvePointer(pointer: string): unknown {
  let node: unknown = doc;
  for (const part of pointer.replace(/^#\//, '').split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
    // The validator bites: the same document with one broken operation is refused.
    const broken = structuredClone(doc) as Record<string, any>;
    broken.paths['/v1/jobs'].get.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('has only references that resolve, no stray $defs, unique operation ids', () => {
    for (const [where, key, value] of walk(doc, '#')) {
      if (key === '$ref') {
        expect(typeof value, where).toBe('string');
        expect(resolvePointer(value as string), `${where} → ${String(value)}`).toBeDefined();
      }
      expect(key, where).not.toBe('$defs');
      expect(key, where).not.toBe('$schema');
    }
    const ids = operations.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents every route of the contract, and only those', () => {
    const documented = operations.map((o) => `${o.method} ${o.path}`).sort();
    expect(documented).toEqual(
      [
        'POST /v1/jobs',
        'GET /v1/jobs',
        'GET /v1/jobs/{id}',
        'POST /v1/jobs/{id}/cancel',
        'POST /v1/jobs/{id}/resume',
        'POST /v1/jobs/{id}/replay',
        'GET /v1/jobs/{id}/errors',
        'GET /v1/jobs/{id}/plan',
        'POST /v1/plan',
        'GET /openapi.json',
        'GET /metrics',
        'GET /healthz',
        'GET /',
      ].sort(),
    );
  });

  it('describes the job spec field by field, secrets marked by name only', () => {
    const spec = doc.components.schemas.JobSpec as { properties: Record<string, { properties: Record<string, unknown>; required: string[] }> };
    expect(spec.properties.source?.required).toEqual(['apiKey', 'index']);
    expect(spec.properties.target?.required).toEqual(['address', 'collection']);
    expect(Object.keys(spec.properties.target?.properties ?? {})).toEqual(
      expect.arrayContaining(['address', 'token', 'collection', 'description', 'partitionKey', 'maxIdLength', 'fields']),
    );
    expect((spec as unknown as { additionalProperties: boolean }).additionalProperties).toBe(false);
  });
});

describe('every documented route, called', () => {
  let h: Harness;
  let jobId: string;
  beforeAll(async () => {
    h = createHarness();
    const res = await h.app.inject({ method: 'POST', url: '/v1/jobs', headers: h.auth, payload: h.spec('fixture') });
    jobId = (res.json() as { id: string }).id;
    h.jobs.addDlq(jobId, [{ namespace: 'docs', id: 'r1', code: 'RECORD_INVALID', reason: 'dimension 7, expected 8', at: new Date(0).toISOString() }]);
  });
  afterAll(async () => {
    await h.close();
  });

  /** A request that should succeed, per operation: the state each needs is set up first. */
  const requests: Record<string, () => { url: string; body?: unknown }> = {
    createJob: () => ({ url: '/v1/jobs', body: h.spec('created_here') }),
    listJobs: () => ({ url: '/v1/jobs' }),
    getJob: () => ({ url: `/v1/jobs/${jobId}` }),
    cancelJob: () => (h.jobs.update(jobId, { status: 'IN_PROGRESS' }), { url: `/v1/jobs/${jobId}/cancel` }),
    resumeJob: () => (h.jobs.update(jobId, { status: 'FAILED' }), { url: `/v1/jobs/${jobId}/resume` }),
    replayJob: () => (h.jobs.complete(jobId), { url: `/v1/jobs/${jobId}/replay`, body: { collection: 'replayed_here' } }),
    listJobErrors: () => ({ url: `/v1/jobs/${jobId}/errors?limit=10` }),
    getJobPlan: () => ({ url: `/v1/jobs/${jobId}/plan` }),
    previewPlan: () => ({ url: '/v1/plan', body: h.spec('previewed') }),
    getOpenApi: () => ({ url: '/openapi.json' }),
    getMetrics: () => ({ url: '/metrics' }),
    getHealth: () => ({ url: '/healthz' }),
    getJobsPage: () => ({ url: '/' }),
  };

  for (const { method, path, op } of operations) {
    it(`${method} ${path} answers as documented`, async () => {
      const make = requests[op.operationId];
      expect(make, `no request for ${op.operationId}`).toBeDefined();
      const { url, body } = make!();
      const headers = op.security?.length === 0 ? {} : h.auth;
      const res = await h.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });
      const documented = op.responses[String(res.statusCode)] as { content: Record<string, { schema: unknown }> } | undefined;
      expect(documented, `${res.statusCode} is not documented: ${res.body}`).toBeDefined();
      expect(res.statusCode).toBeLessThan(300);
      const contentType = Object.keys(documented!.content)[0]!;
      expect(String(res.headers['content-type'])).toContain(contentType.split(';')[0]);
      // The body matches the zod schema the document was generated from.
      const route = (ROUTES as readonly RouteSpec[]).find((r) => r.operationId === op.operationId)!;
      const schema = route.responses[res.statusCode]?.schema;
      if (schema) expect(schema.safeParse(res.json()).error).toBeUndefined();

      // And an error this route documents has the documented error body.
      if (op.responses['401']) {
        const refused = await h.app.inject({ method, url, headers: {} });
        expect(refused.statusCode).toBe(401);
        expect(ErrorResponseSchema.safeParse(refused.json()).success).toBe(true);
      }
    });
  }
});
