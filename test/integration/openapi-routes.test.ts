// Every route the real controller documents in /openapi.json, walked against the controller
// process: without a token and with a wrong one each answers 401 (except /healthz, /metrics and
// the Jobs page, documented as public); with the token each answers, for every kind of request
// thrown at it (valid, invalid, unknown job, wrong state, wrong media type, too large), a status
// that route documents, never a 5xx, with a body of the documented shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { JobView } from '@p2m/core';
import { ErrorResponseSchema, ROUTES, type RouteSpec } from '@p2m/controller';
import { seedIndex, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ApiResponse, type ServiceProcess } from './controller-process.ts';
import { API_KEY, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';

const DATA: GeneratorOptions = { seed: 61, count: 300, dim: 8, namespaces: 2 };
const DATA_SLOW: GeneratorOptions = { seed: 62, count: 3000, dim: 8, namespaces: 2 };

interface Operation {
  method: string;
  path: string;
  operationId: string;
  public: boolean;
  statuses: Set<number>;
  contentTypes: Map<number, string>;
}

interface Doc {
  openapi: string;
  security: unknown[];
  paths: Record<string, Record<string, { operationId: string; security?: unknown[]; responses: Record<string, { content?: Record<string, unknown> }> }>>;
}

function operationsOf(doc: Doc): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const contentTypes = new Map<number, string>();
      for (const [status, response] of Object.entries(op.responses)) contentTypes.set(Number(status), Object.keys(response.content ?? {})[0] ?? '');
      out.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        public: Array.isArray(op.security) && op.security.length === 0,
        statuses: new Set(Object.keys(op.responses).map(Number)),
        contentTypes,
      });
    }
  }
  return out;
}

describe('every documented route of the real controller', () => {
  const token = newApiToken();
  let emulator: Emulator;
  let services: ServiceProcess[] = [];
  let api: ApiClient;
  let doc: Doc;
  let ops: Operation[];
  let spec: (collection: string, index?: string) => unknown;

  beforeAll(async () => {
    emulator = await startSeededEmulator('routes-src', DATA);
    await seedIndex({ ...DATA_SLOW, index: 'routes-slow', url: emulator.controllerHostUrl, apiKey: API_KEY, concurrency: 4 });
    emulator.setFaults({ latencyMs: 1000, operations: ['list'], indexes: ['routes-slow'] });
    const controller = await startService('controller', { apiToken: token, name: 'routes-controller' });
    services = [
      controller,
      ...(await Promise.all([startService('extractor', { name: 'routes-extractor' }), startService('loader', { name: 'routes-loaders', loaders: 2 })])),
    ];
    api = new ApiClient(controller.url, token);
    spec = (collection, index = 'routes-src') => ({
      source: { apiKey: API_KEY, index, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection },
    });
    const res = await api.get<Doc>('/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
    ops = operationsOf(doc);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await emulator?.close();
  });

  const urlOf = (op: Operation, id: string): string => op.path.replace('{id}', encodeURIComponent(id));

  it('the document is OpenAPI 3.1, names every route the server has, and exactly /healthz, /metrics and / are public', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(ops.map((o) => o.operationId).sort()).toEqual((ROUTES as readonly RouteSpec[]).map((r) => r.operationId).sort());
    expect(
      ops
        .filter((o) => o.public)
        .map((o) => `${o.method} ${o.path}`)
        .sort(),
    ).toEqual(['GET /', 'GET /healthz', 'GET /metrics']);
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  it('without a token or with a wrong one every protected route answers 401; the public ones answer without it', async () => {
    const wrong = [null, 'wrong-token-0123456789abcdef', token.slice(0, -1), `${token} extra`, ''];
    for (const op of ops) {
      for (const t of wrong) {
        const res = await api.request(op.method, urlOf(op, '20990101-00000000'), {
          token: t,
          body: op.method === 'POST' ? spec(uniqueName('unauth')) : undefined,
        });
        if (op.public) {
          expect(res.status, `${op.method} ${op.path} without the token`).toBe(200);
        } else {
          expect(res.status, `${op.method} ${op.path} with token ${JSON.stringify(t === null ? null : t.slice(0, 6))}`).toBe(401);
          expect(op.statuses.has(401), `${op.operationId} documents 401`).toBe(true);
          expect(ErrorResponseSchema.parse(res.body).error.code).toBe('UNAUTHORIZED');
        }
      }
    }
    // Nothing was created by the refused requests.
    expect((await api.get<{ jobs: JobView[] }>('/v1/jobs')).body.jobs.filter((j) => j.target.collection.startsWith('unauth_'))).toEqual([]);
  });

  it('with the token every route answers a documented status with a body of the documented shape, and never a 5xx', async () => {
    const seen = new Map<string, Set<number>>();
    const check = (op: Operation, what: string, res: ApiResponse): ApiResponse => {
      const label = `${op.method} ${op.path} (${what}) → ${res.status} ${res.text.slice(0, 300)}`;
      expect(res.status, label).toBeLessThan(500);
      expect(op.statuses.has(res.status), `${label}: documented statuses are ${[...op.statuses].join(', ')}`).toBe(true);
      const contentType = op.contentTypes.get(res.status)!;
      expect(res.headers.get('content-type') ?? '', label).toContain(contentType.split(';')[0]!);
      const route = (ROUTES as readonly RouteSpec[]).find((r) => r.operationId === op.operationId)!;
      const schema: z.ZodType | undefined = res.status >= 400 ? ErrorResponseSchema : route.responses[res.status]?.schema;
      if (schema) {
        const parsed = schema.safeParse(res.body);
        expect(parsed.success, `${label}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))}`).toBe(true);
      }
      let statuses = seen.get(op.operationId);
      if (!statuses) seen.set(op.operationId, (statuses = new Set()));
      statuses.add(res.status);
      return res;
    };
    const op = (operationId: string): Operation => ops.find((o) => o.operationId === operationId)!;
    const call = async (operationId: string, what: string, id: string, options: Parameters<ApiClient['request']>[2] = {}) => {
      const o = op(operationId);
      return check(o, what, await api.request(o.method, urlOf(o, id), options));
    };
    const unknown = '20990101-deadbeef';
    const bigBody = JSON.stringify({ ...(spec('big') as object), padding: 'x'.repeat(1_200_000) });

    // A job that finishes (SUCCESSFUL) and a slow one (running), created through the route itself.
    const collection = uniqueName('routes_done');
    const done = await call('createJob', 'valid spec', '', { body: spec(collection) });
    expect(done.status).toBe(201);
    const slow = await call('createJob', 'valid spec, slow index', '', { body: spec(uniqueName('routes_slow'), 'routes-slow') });
    expect(slow.status).toBe(201);
    const doneId = (done.body as JobView).id;
    const slowId = (slow.body as JobView).id;
    expect((await pollJob(api, doneId, ['SUCCESSFUL', 'FAILED'])).status).toBe('SUCCESSFUL');

    expect((await call('createJob', 'existing collection', '', { body: spec(collection) })).status).toBe(409);
    expect((await call('createJob', 'no body', '', {})).status).toBe(400);
    expect((await call('createJob', 'empty object', '', { body: {} })).status).toBe(400);
    expect((await call('createJob', 'malformed JSON', '', { rawBody: '{"source": ', headers: { 'content-type': 'application/json' } })).status).toBe(400);
    expect((await call('createJob', 'text/plain', '', { rawBody: 'hello', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await call('createJob', 'body over the limit', '', { rawBody: bigBody, headers: { 'content-type': 'application/json' } })).status).toBe(413);
    expect((await call('createJob', 'unknown index', '', { body: spec(uniqueName('routes_x'), 'no-such-index') })).status).toBe(400);

    expect((await call('listJobs', 'all', '')).status).toBe(200);

    for (const id of [doneId, slowId]) expect((await call('getJob', 'existing', id)).status).toBe(200);
    expect((await call('getJob', 'unknown', unknown)).status).toBe(404);
    expect((await call('getJob', 'id outside the id alphabet', 'no such/job')).status).toBe(404);

    expect((await call('getJobPlan', 'existing', doneId)).status).toBe(200);
    expect((await call('getJobPlan', 'unknown', unknown)).status).toBe(404);

    expect((await call('listJobErrors', 'existing', doneId)).status).toBe(200);
    expect((await call('listJobErrors', 'unknown', unknown)).status).toBe(404);
    const errorsOp = op('listJobErrors');
    expect(check(errorsOp, 'paged', await api.get(`${urlOf(errorsOp, doneId)}?limit=1&cursor=0`)).status).toBe(200);
    for (const q of ['?limit=0', '?limit=abc', '?limit=5000', '?cursor=-1', '?unknown=1']) {
      expect(check(errorsOp, `query ${q}`, await api.get(`${urlOf(errorsOp, doneId)}${q}`)).status, q).toBe(400);
    }

    expect((await call('previewPlan', 'valid spec', '', { body: spec(uniqueName('routes_preview')) })).status).toBe(200);
    expect((await call('previewPlan', 'invalid spec', '', { body: { source: {} } })).status).toBe(400);
    expect((await call('previewPlan', 'text/plain', '', { rawBody: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);

    // State rules: a running job cannot be resumed or replayed; a finished one cannot be cancelled or resumed.
    expect((await call('resumeJob', 'running job', slowId)).status).toBe(409);
    expect((await call('replayJob', 'running job', slowId, { body: {} })).status).toBe(409);
    expect((await call('cancelJob', 'finished job', doneId)).status).toBe(409);
    expect((await call('resumeJob', 'finished job', doneId)).status).toBe(409);
    for (const id of ['cancelJob', 'resumeJob', 'replayJob']) expect((await call(id, 'unknown', unknown)).status).toBe(404);
    expect((await call('replayJob', 'invalid body', doneId, { body: { collection: 'no spaces allowed', extra: 1 } })).status).toBe(400);
    expect((await call('replayJob', 'another job’s collection', doneId, { body: { collection: (slow.body as JobView).target.collection } })).status).toBe(409);

    expect((await call('cancelJob', 'running job', slowId)).status).toBe(200);
    await pollJob(api, slowId, ['CANCELLED'], 60_000);
    expect((await call('cancelJob', 'cancelled job', slowId)).status).toBe(200);
    expect((await call('resumeJob', 'cancelled job', slowId)).status).toBe(200);
    expect((await call('cancelJob', 'resumed job', slowId)).status).toBe(200);
    await pollJob(api, slowId, ['CANCELLED'], 60_000);

    expect((await call('replayJob', 'new collection', doneId, { body: { collection: uniqueName('routes_replay') } })).status).toBe(200);
    expect((await pollJob(api, doneId, ['SUCCESSFUL', 'FAILED'])).status).toBe('SUCCESSFUL');
    expect((await call('replayJob', 'no body: its own collection', doneId)).status).toBe(200);
    expect((await pollJob(api, doneId, ['SUCCESSFUL', 'FAILED'])).status).toBe('SUCCESSFUL');

    expect((await call('getOpenApi', 'document', '')).status).toBe(200);
    expect((await call('getMetrics', 'metrics', '')).status).toBe(200);
    expect((await call('getHealth', 'health', '')).status).toBe(200);
    expect((await call('getJobsPage', 'page', '')).status).toBe(200);

    // Every operation of the document was exercised, and each answered its success status at least once.
    expect([...seen.keys()].sort()).toEqual(ops.map((o) => o.operationId).sort());
    for (const o of ops) {
      const success = [...o.statuses].filter((s) => s < 300);
      expect(
        success.some((s) => seen.get(o.operationId)!.has(s)),
        `${o.operationId} answered a success status`,
      ).toBe(true);
    }
  });
});
