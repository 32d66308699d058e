import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpecError } from '@p2m/core';
import { ControllerClient, followJob } from '@p2m/cli';
import { buildOpenApiDocument } from '@p2m/controller';
import { createHarness, type Harness } from '@p2m/controller/testing';

/**
 * The CLI's client against the real controller server over HTTP: every documented operation has a
 * client call that works, so the CLI and the API cannot drift apart.
 */
let h: Harness;
let url: string;
let client: ControllerClient;

beforeAll(async () => {
  h = createHarness();
  url = await h.app.start();
  client = new ControllerClient({ url, token: h.token });
});
afterAll(async () => {
  await h.close();
});

describe('ControllerClient ↔ controller', () => {
  it('listens on 127.0.0.1 by default', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('covers every documented operation', async () => {
    const called = new Set<string>();
    const spec = h.spec('via_client');
    const job = await client.create(spec);
    called.add('createJob');
    expect(job.status).toBe('IN_PROGRESS');
    expect((await client.list()).map((j) => j.id)).toContain(job.id);
    called.add('listJobs');
    expect((await client.get(job.id)).id).toBe(job.id);
    called.add('getJob');
    expect((await client.plan(job.id)).collection).toBe('via_client');
    called.add('getJobPlan');
    expect((await client.preview(h.spec('previewed'))).collection).toBe('previewed');
    called.add('previewPlan');
    h.jobs.update(job.id, { status: 'IN_PROGRESS' });
    expect((await client.cancel(job.id)).status).toBe('CANCELLING');
    called.add('cancelJob');
    h.jobs.update(job.id, { status: 'CANCELLED' });
    expect((await client.resume(job.id)).status).toBe('IN_PROGRESS');
    called.add('resumeJob');
    h.jobs.addDlq(job.id, [{ namespace: '', id: 'r1', code: 'RECORD_INVALID', reason: 'bad', at: new Date(0).toISOString() }]);
    expect(await client.errors(job.id, { limit: 10 })).toMatchObject({ total: 1, next: null });
    called.add('listJobErrors');
    h.jobs.complete(job.id);
    const replay = await client.replay(job.id, { collection: 'via_client_copy' });
    expect(replay).toMatchObject({ mode: 'replay', topicJobId: job.id });
    called.add('replayJob');
    expect((await client.openApi()).openapi).toBe('3.1.0');
    called.add('getOpenApi');
    expect(await client.metrics()).toContain('p2m_job_records');
    called.add('getMetrics');
    expect(await client.health()).toEqual({ status: 'ok' });
    called.add('getHealth');
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    called.add('getJobsPage');

    const documented = Object.values(buildOpenApiDocument().paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect([...called].sort()).toEqual(documented.sort());
  });

  it('brings field-level refusals back as a SpecError', async () => {
    const spec = h.spec() as Record<string, any>;
    spec.target.collection = '9lives';
    const err = await client.create(spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues.map((i) => i.path)).toEqual(['target.collection']);
  });

  it('follows a job over HTTP until it ends', async () => {
    const job = await client.create(h.spec('followed'));
    h.jobs.update(job.id, { status: 'IN_PROGRESS' });
    setTimeout(() => h.jobs.complete(job.id), 30);
    let out = '';
    const final = await followJob(client, job.id, { stream: { write: (s: string) => (out += s) }, intervalMs: 10 });
    expect(final.status).toBe('SUCCESSFUL');
    expect(out).toContain('Verification PASSED');
  });
});
