import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EtlError, type JobView } from '@p2m/core';
import { CollectionPlanSchema, ErrorsPageSchema, JobListSchema, JobViewSchema } from './api-schemas.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { call, createJob, errorOf, type Method } from './server.fixture.ts';
import { createHarness, type Harness } from './harness.ts';

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

describe('jobs API, happy path', () => {
  it('creates a job (201) and shows it in the list, by id and by plan', async () => {
    const job = await createJob(h, 'docs_a');
    // Set up while the request waited: the topics and the collection exist.
    expect(job.status).toBe('IN_PROGRESS');
    expect(h.world.milvus.collections.has('docs_a')).toBe(true);
    expect(job.target.collection).toBe('docs_a');
    expect(job.progress.total.sourceCount).toBe(1000);

    const list = JobListSchema.parse((await call(h, 'GET', '/v1/jobs')).json());
    expect(list.jobs.map((j) => j.id)).toEqual([job.id]);

    const got = await call(h, 'GET', `/v1/jobs/${job.id}`);
    expect(got.status).toBe(200);
    expect(JobViewSchema.parse(got.json()).id).toBe(job.id);

    const plan = await call(h, 'GET', `/v1/jobs/${job.id}/plan`);
    expect(plan.status).toBe(200);
    const parsed = CollectionPlanSchema.parse(plan.json());
    expect(parsed.collection).toBe('docs_a');
    expect(parsed.fields.map((f) => f.name)).toEqual(['namespace', 'id', 'vector']);
  });

  it('filters the list by status and pages it (?status=&limit=&cursor=), with counts per status', async () => {
    const created: JobView[] = [];
    for (let i = 0; i < 5; i++) created.push(await createJob(h, `paged_${i}`));
    h.jobs.update(created[1]!.id, { status: 'FAILED', error: { code: 'TARGET_UNAVAILABLE', message: 'Milvus down', at: 'loader partition 2 offset 7' } });
    h.jobs.update(created[3]!.id, { status: 'FAILED' });

    const failed = JobListSchema.parse((await call(h, 'GET', '/v1/jobs?status=FAILED')).json());
    expect(failed.jobs.map((j) => j.id).sort()).toEqual([created[1]!.id, created[3]!.id].sort());
    expect(failed.total).toBe(2);
    expect(failed.counts).toMatchObject({ FAILED: 2, IN_PROGRESS: 3 });

    const first = JobListSchema.parse((await call(h, 'GET', '/v1/jobs?status=IN_PROGRESS,FAILED&limit=3')).json());
    expect(first.jobs).toHaveLength(3);
    expect(first.total).toBe(5);
    const second = JobListSchema.parse((await call(h, 'GET', `/v1/jobs?status=IN_PROGRESS,FAILED&limit=3&cursor=${first.next!}`)).json());
    expect(second.jobs).toHaveLength(2);
    expect(second.next).toBeNull();
    expect(new Set([...first.jobs, ...second.jobs].map((j) => j.id))).toEqual(new Set(created.map((j) => j.id)));

    const bad = await call(h, 'GET', '/v1/jobs?status=DONE&limit=0&cursor=x');
    expect(bad.status).toBe(400);
    expect(
      errorOf(bad)
        .issues?.map((i) => i.path)
        .sort(),
    ).toEqual(['limit', 'status']);
    const unknownCursor = await call(h, 'GET', '/v1/jobs?cursor=nope');
    expect(unknownCursor.status).toBe(400);
    expect(errorOf(unknownCursor).message).toMatch(/cursor/);
  });

  it('previews a plan for a spec without creating a job', async () => {
    const res = await call(h, 'POST', '/v1/plan', h.spec('preview_only'));
    expect(res.status).toBe(200);
    expect(CollectionPlanSchema.parse(res.json()).collection).toBe('preview_only');
    expect((await h.jobs.list()).length).toBe(0);
  });

  it('cancels, resumes and replays', async () => {
    const job = await createJob(h);
    const cancelled = await call(h, 'POST', `/v1/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(JobViewSchema.parse(cancelled.json()).status).toBe('CANCELLING');
    h.jobs.update(job.id, { status: 'CANCELLED' });

    const resumed = await call(h, 'POST', `/v1/jobs/${job.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(JobViewSchema.parse(resumed.json())).toMatchObject({ status: 'IN_PROGRESS', generation: 2 });

    h.jobs.complete(job.id);
    const sameCollection = await call(h, 'POST', `/v1/jobs/${job.id}/replay`);
    expect(sameCollection.status).toBe(200);
    expect(JobViewSchema.parse(sameCollection.json())).toMatchObject({ id: job.id, mode: 'replay' });

    h.jobs.complete(job.id);
    // Into another collection: the same job reads its own log again, into a collection made for it.
    const elsewhere = await call(h, 'POST', `/v1/jobs/${job.id}/replay`, { collection: 'docs_copy' });
    expect(elsewhere.status).toBe(200);
    expect(JobViewSchema.parse(elsewhere.json())).toMatchObject({
      id: job.id,
      mode: 'replay',
      topicJobId: job.id,
      generation: 4,
      target: { collection: 'docs_copy' },
    });
    expect(h.world.milvus.collections.has('docs_copy')).toBe(true);
  });

  it('accepts an empty JSON body on POST actions', async () => {
    const job = await createJob(h);
    const res = await call(h, 'POST', `/v1/jobs/${job.id}/cancel`, '', { ...h.auth, 'content-type': 'application/json' });
    expect(res.status).toBe(200);
  });

  it('pages through the error log with a cursor', async () => {
    const job = await createJob(h);
    h.jobs.addDlq(
      job.id,
      Array.from({ length: 250 }, (_, i) => ({
        namespace: 'docs',
        id: `r${i}`,
        code: 'RECORD_INVALID',
        reason: 'dimension 7, expected 8',
        at: new Date(0).toISOString(),
      })),
    );
    const first = ErrorsPageSchema.parse((await call(h, 'GET', `/v1/jobs/${job.id}/errors?limit=100`)).json());
    expect(first.entries).toHaveLength(100);
    expect(first.total).toBe(250);
    expect(first.next).not.toBeNull();
    const ids = first.entries.map((e) => e.id);
    let next = first.next;
    while (next !== null) {
      const page = ErrorsPageSchema.parse((await call(h, 'GET', `/v1/jobs/${job.id}/errors?limit=100&cursor=${encodeURIComponent(next)}`)).json());
      ids.push(...page.entries.map((e) => e.id));
      next = page.next;
    }
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => `r${i}`));
  });

  it('serves health, metrics and the document without a token', async () => {
    expect((await call(h, 'GET', '/healthz', undefined, {})).json()).toEqual({ status: 'ok' });
    const metrics = await call(h, 'GET', '/metrics', undefined, {});
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    const doc = await call(h, 'GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json()).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
  });

  it('puts the job id on every log line about a job', async () => {
    const job = await createJob(h);
    await call(h, 'GET', `/v1/jobs/${job.id}`);
    await call(h, 'POST', `/v1/jobs/${job.id}/cancel`);
    const lines = h.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.route ?? '').includes(':id') || l.method === 'POST');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line.jobId).toBe(job.id);
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
      const res = await call(h, method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorOf(res).code).toBe('JOB_NOT_FOUND');
    }
  });

  it('answers 409 when the collection exists or the job state forbids the action', async () => {
    await createJob(h, 'taken');
    const dup = await call(h, 'POST', '/v1/jobs', h.spec('taken'));
    expect(dup.status).toBe(409);
    expect(errorOf(dup)).toMatchObject({ code: 'TARGET_COLLECTION_EXISTS', hint: expect.stringMatching(/another/) });
    expect(errorOf(dup).issues?.[0]?.path).toBe('target.collection');

    // A collection p2m did not make: previewing it is harmless, writing into it is refused.
    h.jobs.existingCollections.add('outside');
    expect((await call(h, 'POST', '/v1/plan', h.spec('outside'))).status).toBe(200);
    expect((await call(h, 'POST', '/v1/jobs', h.spec('outside'))).status).toBe(409);

    const job = await createJob(h);
    await call(h, 'POST', `/v1/jobs/${job.id}/cancel`);
    // Cancelling again is harmless; cancelling a finished job is refused.
    expect((await call(h, 'POST', `/v1/jobs/${job.id}/cancel`)).status).toBe(200);
    h.jobs.complete(job.id);
    const again = await call(h, 'POST', `/v1/jobs/${job.id}/cancel`);
    expect(again.status).toBe(409);
    expect(errorOf(again).code).toBe('JOB_STATE');
    const resumeActive = await call(h, 'POST', `/v1/jobs/${(await createJob(h)).id}/resume`);
    expect(resumeActive.status).toBe(409);
  });

  it('answers 409 for the plan of a job that has none yet', async () => {
    const job = await createJob(h);
    h.jobs.update(job.id, { plan: undefined });
    const res = await call(h, 'GET', `/v1/jobs/${job.id}/plan`);
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('JOB_STATE');
  });

  it('answers 400 for source refusals (pod index, unknown index) with the field', async () => {
    const spec = h.spec() as Record<string, any>;
    spec.source.index = 'no-such-index';
    const res = await call(h, 'POST', '/v1/jobs', spec);
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'SOURCE_INDEX_NOT_FOUND', issues: [{ path: 'source.index' }] });
  });

  it('answers 503 for transient failures', async () => {
    h.jobs.failNextWith(new EtlError('TARGET_UNAVAILABLE', 'Milvus is not answering'));
    const res = await call(h, 'GET', '/v1/jobs');
    expect(res.status).toBe(503);
    expect(errorOf(res).code).toBe('TARGET_UNAVAILABLE');
  });

  it('answers 500 without internals, and logs them', async () => {
    h.jobs.failNextWith(new TypeError('cannot read properties of undefined (reading "offsets") at kafka.ts:42'));
    const res = await call(h, 'GET', '/v1/jobs');
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
    const internal = await call(h, 'GET', '/v1/jobs');
    expect(internal.status).toBe(500);
    expect(internal.text).not.toMatch(/clash/);
  });
});
