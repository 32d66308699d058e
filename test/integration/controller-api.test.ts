// The controller's HTTP API on the real stack: the controller, the extractor and the loaders each
// run as their own OS process (`p2m service <role>`) against the test stack's Kafka, registry and
// Milvus; the source is an in-process Pinecone emulator. Everything is driven over HTTP with the
// bearer token, as an operator (or the CLI, or the Jobs page) would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CollectionPlan, JobView } from '@p2m/core';
import { generateRecords, seedIndex, type Emulator, type GeneratorOptions, type RecordInput } from '@p2m/emulator';
import { createMilvusSink } from '@p2m/milvus-sink';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startSeededEmulator, uniqueName, unloadableBySparseRules } from './pipeline-harness.ts';

// A hybrid index whose records include some Milvus must refuse: ids longer than the job's
// maxIdLength (the generator's long edge-case ids and 25 extra ones) and the generator's sparse
// vectors with negative weights. They land in the DLQ; everything else must load exactly.
const MAX_ID = 20;
const DATA_A: GeneratorOptions = { seed: 31, count: 900, dim: 8, namespaces: 3, sparse: true };
const EXTRA_A: RecordInput[] = Array.from({ length: 25 }, (_, i) => ({
  namespace: 'ns-1',
  id: `refused-too-long-id-${String(i).padStart(4, '0')}`,
  values: Array.from({ length: 8 }, (_, j) => (j + 1) / 10),
  sparseValues: { indices: [1, 2], values: [0.5, 0.25] },
  metadata: { extra: true },
}));
// A dense index for the second of two concurrent jobs.
const DATA_B: GeneratorOptions = { seed: 32, count: 700, dim: 12, namespaces: 2 };
// Slow indexes (every list call answers after LIST_LATENCY_MS): jobs on them run long enough to
// restart the controller or cancel them midway.
const DATA_SLOW: GeneratorOptions = { seed: 33, count: 2400, dim: 8, namespaces: 2 };
const LIST_LATENCY_MS = 900;

const key = (namespace: string, id: string): string => `${namespace}\u0000${id}`;

function distinct(data: GeneratorOptions): Set<string> {
  return new Set(Array.from(generateRecords(data), (r) => key(r.namespace, r.id)));
}

/** What must end in the DLQ of a DATA_A job with maxIdLength MAX_ID (stated independently of the code). */
function refusedA(): Set<string> {
  const out = unloadableBySparseRules(DATA_A);
  for (const r of generateRecords(DATA_A)) if (Buffer.byteLength(r.id, 'utf8') > MAX_ID) out.add(key(r.namespace, r.id));
  for (const r of EXTRA_A) out.add(key(r.namespace ?? '', r.id));
  return out;
}

async function targetCount(plan: CollectionPlan): Promise<number> {
  const sink = createMilvusSink({ address: milvusAddress() });
  try {
    const counts = await sink.countByNamespace(
      plan,
      plan.source.namespaces.map((n) => n.name),
    );
    return [...counts.values()].reduce((a, b) => a + b, 0);
  } finally {
    await sink.close();
  }
}

function specFor(index: string, collection: string, emulator: Emulator, target: Record<string, unknown> = {}) {
  return {
    source: { apiKey: API_KEY, index, controllerHostUrl: emulator.controllerHostUrl },
    target: { address: milvusAddress(), collection, ...target },
  };
}

/** Every namespace accounted for: extracted all, loaded + failed = source, extraction done. */
function expectCompleteProgress(view: JobView, expected: Record<string, { source: number; failed: number }>): void {
  const byNs = new Map(view.progress.namespaces.map((n) => [n.namespace, n]));
  expect([...byNs.keys()].sort()).toEqual(Object.keys(expected).sort());
  for (const [ns, want] of Object.entries(expected)) {
    const got = byNs.get(ns)!;
    expect(got.sourceCount, `sourceCount of "${ns}"`).toBe(want.source);
    expect(got.extracted, `extracted of "${ns}"`).toBe(want.source);
    expect(got.extractionDone, `extractionDone of "${ns}"`).toBe(true);
    expect(got.failed, `failed of "${ns}"`).toBe(want.failed);
    expect(got.loaded, `loaded of "${ns}"`).toBe(want.source - want.failed);
  }
  const total = Object.values(expected).reduce((a, w) => a + w.source, 0);
  const failed = Object.values(expected).reduce((a, w) => a + w.failed, 0);
  expect(view.progress.total).toEqual({ sourceCount: total, extracted: total, loaded: total - failed, failed });
  expect(view.progress.consumerLag).toBe(0);
  expect(view.progress.etaSeconds).toBe(0);
}

describe('controller HTTP API on the real stack (controller, extractor, loaders as processes)', () => {
  const token = newApiToken();
  let emulator: Emulator;
  let controller: ServiceProcess;
  const workers: ServiceProcess[] = [];
  let api: ApiClient;
  const dlqA = refusedA();
  const countsA = (() => {
    const counts: Record<string, { source: number; failed: number }> = {};
    for (const r of generateRecords(DATA_A)) (counts[r.namespace] ??= { source: 0, failed: 0 }).source++;
    for (const r of EXTRA_A) counts[r.namespace ?? '']!.source++;
    for (const k of dlqA) counts[k.split('\u0000')[0]!]!.failed++;
    return counts;
  })();
  // The happy-path job, reused by the 409, plan, errors and replay tests.
  let jobA: JobView;
  // A collection another job made (the two-jobs test).
  let otherCollection = '';

  beforeAll(async () => {
    emulator = await startSeededEmulator('api-src', { ...DATA_A, metric: 'dotproduct' });
    expect(emulator.load('api-src', EXTRA_A)).toBe(EXTRA_A.length);
    await seedIndex({ ...DATA_B, index: 'api-src-b', url: emulator.controllerHostUrl, apiKey: API_KEY, concurrency: 4 });
    for (const index of ['slow-restart', 'slow-cancel']) {
      await seedIndex({ ...DATA_SLOW, index, url: emulator.controllerHostUrl, apiKey: API_KEY, concurrency: 4 });
    }
    emulator.setFaults({ latencyMs: LIST_LATENCY_MS, operations: ['list'], indexes: ['slow-restart', 'slow-cancel'] });
    [controller] = await Promise.all([startService('controller', { apiToken: token, name: 'api-controller' })]);
    // Workers after the controller, which creates the shared topics.
    workers.push(...(await Promise.all([startService('extractor', { name: 'api-extractor' }), startService('loader', { name: 'api-loaders', loaders: 2 })])));
    api = new ApiClient(controller.url, token);
  });

  afterAll(async () => {
    await Promise.all([controller, ...workers].filter(Boolean).map((p) => p.stop()));
    await emulator?.close();
  });

  it('refuses requests without the token or with a wrong one (401), serves /healthz and /metrics without it', async () => {
    for (const [method, path] of [
      ['GET', '/v1/jobs'],
      ['POST', '/v1/jobs'],
      ['GET', '/v1/jobs/x/errors'],
      ['POST', '/v1/jobs/x/cancel'],
    ] as const) {
      for (const t of [null, 'wrong-token-0123456789', `${token}x`]) {
        const res = await api.request(method, path, { token: t, body: method === 'POST' ? specFor('api-src', 'never_made', emulator) : undefined });
        expect(res.status, `${method} ${path} with token ${t === null ? '(none)' : 'wrong'}`).toBe(401);
        expect(res.body.error.code).toBe('UNAUTHORIZED');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
    expect((await api.get('/healthz', { token: null })).body).toEqual({ status: 'ok' });
    const metrics = await api.get('/metrics', { token: null });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^# HELP /m);
    // Nothing was created by the refused POSTs.
    expect((await api.get('/v1/jobs')).body.jobs.map((j: JobView) => j.target.collection)).not.toContain('never_made');
  });

  it('answers 400 with the path of every offending field', async () => {
    const res = await api.post('/v1/jobs', {
      source: { apiKey: '', index: 'Not_A_Pinecone_Name' },
      target: { address: milvusAddress(), collection: '9starts_with_digit', colection: 'typo', maxIdLength: 0 },
      options: { topicPartitions: 0 },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('SPEC_INVALID');
    const paths = res.body.error.issues.map((i: { path: string }) => i.path).sort();
    expect(paths).toEqual(['options.topicPartitions', 'source.apiKey', 'source.index', 'target.colection', 'target.collection', 'target.maxIdLength'].sort());
    for (const issue of res.body.error.issues) expect(issue.message.length).toBeGreaterThan(0);

    const missing = await api.post('/v1/jobs', { source: { apiKey: API_KEY, index: 'api-src' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['target']);

    const notJson = await api.request('POST', '/v1/jobs', { rawBody: '{"source":', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.issues[0].path).toBe('(body)');

    // A spec that is valid but names a namespace the index does not have: refused with its field.
    const unknownNs = await api.post('/v1/jobs', {
      ...specFor('api-src', uniqueName('api_ns'), emulator),
      source: { ...specFor('api-src', 'x', emulator).source, namespaces: ['no-such-ns'] },
    });
    expect(unknownNs.status).toBe(400);
    expect(unknownNs.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['source.namespaces']);
  });

  it('answers 404 for a job that does not exist, on every job route', async () => {
    for (const [method, path] of [
      ['GET', '/v1/jobs/20990101-deadbeef'],
      ['GET', '/v1/jobs/20990101-deadbeef/errors'],
      ['GET', '/v1/jobs/20990101-deadbeef/plan'],
      ['POST', '/v1/jobs/20990101-deadbeef/cancel'],
      ['POST', '/v1/jobs/20990101-deadbeef/resume'],
      ['POST', '/v1/jobs/20990101-deadbeef/replay'],
    ] as const) {
      const res = await api.request(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('JOB_NOT_FOUND');
    }
  });

  it('happy path: 201, then per-namespace progress and a rate while it runs, SUCCESSFUL with a passed report; the target equals the source', async () => {
    const collection = uniqueName('api_a');
    const created = await api.post('/v1/jobs', specFor('api-src', collection, emulator, { maxIdLength: MAX_ID, description: 'controller API test' }));
    expect(created.status, created.text).toBe(201);
    expect(created.body.id).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(['PENDING', 'IN_PROGRESS']).toContain(created.body.status);
    expect(created.body.target.collection).toBe(collection);
    expect(created.body.plan.collection).toBe(collection);
    expect(created.body.plan.source.totalRecords).toBe(DATA_A.count + EXTRA_A.length);

    // Poll as the CLI and the page do; keep what was seen while it ran.
    const seenRates: number[] = [];
    const seenLoaded: number[] = [];
    let view: JobView;
    const deadline = Date.now() + 300_000;
    for (;;) {
      const res = await api.get<JobView>(`/v1/jobs/${created.body.id}`);
      expect(res.status).toBe(200);
      view = res.body;
      if (view.status === 'IN_PROGRESS' || view.status === 'VERIFYING') {
        seenRates.push(view.progress.recordsPerSecond);
        seenLoaded.push(view.progress.total.loaded);
        expect(view.progress.namespaces.map((n) => n.namespace).sort()).toEqual(Object.keys(countsA).sort());
      }
      if (['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(view.status)) break;
      if (Date.now() > deadline) throw new Error(`still ${view.status}: ${JSON.stringify(view.progress.total)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(view.error).toBeUndefined();
    expect(view.status).toBe('SUCCESSFUL');
    // Progress only grows, and the rate was measured while records were loading.
    expect(seenLoaded).toEqual([...seenLoaded].sort((a, b) => a - b));
    expect(Math.max(0, ...seenRates)).toBeGreaterThan(0);
    expectCompleteProgress(view, countsA);

    const report = view.report!;
    expect(report.passed).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.namespaces.map((n) => n.namespace).sort()).toEqual(Object.keys(countsA).sort());
    for (const n of report.namespaces) {
      expect(n.ok).toBe(true);
      expect(n.missing).toBe(0);
      expect(n.dlq).toBe(countsA[n.namespace]!.failed);
      expect(n.targetCount).toBe(countsA[n.namespace]!.source - countsA[n.namespace]!.failed);
    }
    expect(report.sample.compared).toBeGreaterThan(0);
    expect(report.sample.mismatches).toEqual([]);
    await expectTargetEqualsSource(view.plan!, DATA_A, dlqA);
    jobA = view;
  });

  it('GET /v1/jobs lists the job and GET /v1/jobs/{id}/plan is the collection it made', async () => {
    const list = await api.get<{ jobs: JobView[] }>('/v1/jobs');
    expect(list.status).toBe(200);
    expect(list.body.jobs.find((j) => j.id === jobA.id)?.status).toBe('SUCCESSFUL');
    const plan = await api.get<CollectionPlan>(`/v1/jobs/${jobA.id}/plan`);
    expect(plan.status).toBe(200);
    expect(plan.body).toEqual(jobA.plan);
    expect(plan.body.collection).toBe(jobA.target.collection);
    expect(plan.body.namespaceMode).toBe('partitionKey');
    expect(plan.body.hasDense && plan.body.hasSparse).toBe(true);
    expect(plan.body.maxIdLength).toBe(MAX_ID);
    expect(plan.body.fields.map((f) => `${f.name}:${f.dataType}`).sort()).toEqual([
      'id:VarChar',
      'namespace:VarChar',
      'sparse_vector:SparseFloatVector',
      'vector:FloatVector',
    ]);
    expect(plan.body.indexes.map((i) => `${i.field}:${i.indexType}:${i.metricType}`).sort()).toEqual([
      'sparse_vector:SPARSE_INVERTED_INDEX:IP',
      'vector:AUTOINDEX:IP',
    ]);
  });

  it('GET /v1/jobs/{id}/errors pages through exactly the refused records, each with its reason', async () => {
    const limit = 7;
    const seen: { namespace: string; id: string; reason: string; code: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor === null ? `?limit=${limit}` : `?limit=${limit}&cursor=${encodeURIComponent(cursor)}`;
      const res = await api.get(`/v1/jobs/${jobA.id}/errors${q}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(dlqA.size);
      expect(res.body.entries.length).toBe(Math.min(limit, dlqA.size - seen.length));
      seen.push(...res.body.entries);
      cursor = res.body.next;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(Math.ceil(dlqA.size / limit));
    expect(seen.length).toBe(dlqA.size);
    expect(new Set(seen.map((e) => key(e.namespace, e.id)))).toEqual(dlqA);
    for (const e of seen) {
      const tooLong = Buffer.byteLength(e.id, 'utf8') > MAX_ID;
      expect(e.reason, e.id).toMatch(tooLong ? /longer than max_length 20/ : /sparse (value|index).*(negative|reserved by Milvus)/);
      expect(e.code.length).toBeGreaterThan(0);
    }
    // The default page and a bad query.
    const first = await api.get(`/v1/jobs/${jobA.id}/errors`);
    expect(first.body.entries.length).toBe(Math.min(50, dlqA.size));
    const bad = await api.get(`/v1/jobs/${jobA.id}/errors?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['limit']);
  });

  it('answers 409 when the collection exists, and for actions the job state does not allow', async () => {
    const again = await api.post('/v1/jobs', specFor('api-src', jobA.target.collection, emulator));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('TARGET_COLLECTION_EXISTS');
    expect(again.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['target.collection']);
    expect(again.body.error.hint).toMatch(/another collection name/);
    const cancel = await api.post(`/v1/jobs/${jobA.id}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('JOB_STATE');
    const resume = await api.post(`/v1/jobs/${jobA.id}/resume`);
    expect(resume.status).toBe(409);
    const badReplay = await api.post(`/v1/jobs/${jobA.id}/replay`, { collection: 'bad name' });
    expect(badReplay.status).toBe(400);
    expect(badReplay.body.error.issues.map((i: { path: string }) => i.path)).toEqual(['collection']);
    // Nothing changed.
    expect((await api.get<JobView>(`/v1/jobs/${jobA.id}`)).body.status).toBe('SUCCESSFUL');
  });

  it('two jobs at once (two indexes, two collections) stay isolated: each target equals its own source', async () => {
    const collA = uniqueName('api_two_a');
    const collB = uniqueName('api_two_b');
    const [a, b] = await Promise.all([
      api.post('/v1/jobs', specFor('api-src', collA, emulator, { maxIdLength: MAX_ID })),
      api.post('/v1/jobs', specFor('api-src-b', collB, emulator, { partitionKey: false })),
    ]);
    expect(a.status, a.text).toBe(201);
    expect(b.status, b.text).toBe(201);
    const [doneA, doneB] = await Promise.all([
      pollJob(api, a.body.id, ['SUCCESSFUL', 'FAILED', 'CANCELLED']),
      pollJob(api, b.body.id, ['SUCCESSFUL', 'FAILED', 'CANCELLED']),
    ]);
    expect(doneA.error).toBeUndefined();
    expect(doneB.error).toBeUndefined();
    expect([doneA.status, doneB.status]).toEqual(['SUCCESSFUL', 'SUCCESSFUL']);
    expectCompleteProgress(doneA, countsA);
    const countsB: Record<string, { source: number; failed: number }> = {};
    for (const r of generateRecords(DATA_B)) (countsB[r.namespace] ??= { source: 0, failed: 0 }).source++;
    expectCompleteProgress(doneB, countsB);
    expect(doneB.plan!.namespaceMode).toBe('partitions');
    expect((await api.get(`/v1/jobs/${b.body.id}/errors`)).body.total).toBe(0);
    await expectTargetEqualsSource(doneA.plan!, DATA_A, dlqA);
    await expectTargetEqualsSource(doneB.plan!, DATA_B);
    otherCollection = collB;
  });

  it('a controller killed with SIGKILL mid-job comes back with every job, its status and progress, and drives the job to SUCCESSFUL', async () => {
    const collection = uniqueName('api_restart');
    const created = await api.post('/v1/jobs', specFor('slow-restart', collection, emulator));
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    // Midway: some records loaded, the extraction not finished.
    let before: JobView;
    for (;;) {
      before = (await api.get<JobView>(`/v1/jobs/${id}`)).body;
      if (before.progress.total.loaded > 0) break;
      expect(before.status).toBe('IN_PROGRESS');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(before.progress.total.extracted).toBeLessThan(DATA_SLOW.count);
    const listBefore = (await api.get<{ jobs: JobView[] }>('/v1/jobs')).body.jobs;

    await controller.kill('SIGKILL');
    controller = await startService('controller', { apiToken: token, name: 'api-controller-2' });
    api = api.withBase(controller.url);

    // Every job is back at once, from p2m.jobs; finished ones with their status, progress and
    // report. (Jobs other tests left active may move on meanwhile: only their presence is checked.)
    const listAfter = (await api.get<{ jobs: JobView[] }>('/v1/jobs')).body.jobs;
    expect(listAfter.map((j) => j.id).sort()).toEqual(listBefore.map((j) => j.id).sort());
    const finished = listBefore.filter((j) => ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(j.status));
    expect(finished.map((j) => j.id)).toContain(jobA.id);
    for (const was of finished) {
      const now = listAfter.find((j) => j.id === was.id)!;
      expect(now.status, was.id).toBe(was.status);
      expect(now.progress.total, was.id).toEqual(was.progress.total);
      expect(now.report, was.id).toEqual(was.report);
    }
    // The running job: its status, and at once its progress, measured again from the checkpoints
    // and committed offsets (before this controller even owns the job: the dead one's session
    // has not expired yet).
    const after = listAfter.find((j) => j.id === id)!;
    expect(['IN_PROGRESS', 'VERIFYING']).toContain(after.status);
    expect(after.progress.namespaces.map((n) => [n.namespace, n.sourceCount])).toEqual(before.progress.namespaces.map((n) => [n.namespace, n.sourceCount]));
    expect(after.progress.total.loaded).toBeGreaterThanOrEqual(before.progress.total.loaded);
    expect(after.progress.total.extracted).toBeGreaterThanOrEqual(before.progress.total.extracted);
    const single = (await api.get<JobView>(`/v1/jobs/${id}`)).body;
    expect(single.progress.total.loaded).toBeGreaterThanOrEqual(after.progress.total.loaded);

    const done = await pollJob(api, id, ['SUCCESSFUL', 'FAILED', 'CANCELLED']);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    expect(done.progress.total.loaded).toBe(DATA_SLOW.count);
    await expectTargetEqualsSource(done.plan!, DATA_SLOW);
  });

  it('cancel: CANCELLING → CANCELLED within 5 s, the target stops growing and keeps what was loaded; resume finishes it exactly', async () => {
    const collection = uniqueName('api_cancel');
    const created = await api.post('/v1/jobs', specFor('slow-cancel', collection, emulator));
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    for (;;) {
      const v = (await api.get<JobView>(`/v1/jobs/${id}`)).body;
      if (v.progress.total.loaded > 0) break;
      expect(v.status).toBe('IN_PROGRESS');
      await new Promise((r) => setTimeout(r, 200));
    }
    const cancel = await api.post<JobView>(`/v1/jobs/${id}/cancel`);
    expect(cancel.status).toBe(200);
    expect(['CANCELLING', 'CANCELLED']).toContain(cancel.body.status);
    const cancelled = await pollJob(api, id, ['CANCELLED'], 5000, 100);
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.progress.total.extracted).toBeLessThan(DATA_SLOW.count);

    const plan = cancelled.plan as CollectionPlan;
    const atCancel = await targetCount(plan);
    expect(atCancel).toBeGreaterThan(0);
    expect(atCancel).toBeLessThan(DATA_SLOW.count);
    // Workers stopped: several seconds later (longer than a list page takes) nothing more arrived.
    await new Promise((r) => setTimeout(r, 4 * LIST_LATENCY_MS));
    expect(await targetCount(plan)).toBe(atCancel);
    expect((await api.get<JobView>(`/v1/jobs/${id}`)).body.status).toBe('CANCELLED');
    // Cancelling again is harmless.
    expect((await api.post<JobView>(`/v1/jobs/${id}/cancel`)).body.status).toBe('CANCELLED');

    const resumed = await api.post<JobView>(`/v1/jobs/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('IN_PROGRESS');
    expect(resumed.body.generation).toBe(cancelled.generation + 1);
    const done = await pollJob(api, id, ['SUCCESSFUL', 'FAILED', 'CANCELLED']);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.progress.total.loaded).toBe(DATA_SLOW.count);
    await expectTargetEqualsSource(done.plan!, DATA_SLOW);
  });

  it('replay into a new collection re-reads the topic without Pinecone (the emulator is gone): SUCCESSFUL, the new collection equals the source', async () => {
    // Replaying into a collection that exists is refused before anything happens.
    const taken = await api.post(`/v1/jobs/${jobA.id}/replay`, { collection: otherCollection });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('TARGET_COLLECTION_EXISTS');

    await emulator.close();
    const collection = uniqueName('api_replay');
    const replay = await api.post<JobView>(`/v1/jobs/${jobA.id}/replay`, { collection });
    expect(replay.status, replay.text).toBe(200);
    expect(replay.body.id).toBe(jobA.id);
    expect(replay.body.mode).toBe('replay');
    expect(replay.body.status).toBe('IN_PROGRESS');
    expect(replay.body.target.collection).toBe(collection);
    const done = await pollJob(api, jobA.id, ['SUCCESSFUL', 'FAILED', 'CANCELLED']);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.generation).toBe(jobA.generation + 1);
    expect(done.report!.passed).toBe(true);
    expect(done.plan!.collection).toBe(collection);
    expect(done.progress.total.loaded).toBe(jobA.progress.total.loaded);
    await expectTargetEqualsSource(done.plan!, DATA_A, dlqA);
    // Refused again by the replay, each refused record is still listed (and counted) once.
    expect(done.progress.total.failed).toBe(dlqA.size);
    const errors = await api.get(`/v1/jobs/${jobA.id}/errors?limit=1000`);
    expect(errors.body.total).toBe(dlqA.size);
    expect(new Set(errors.body.entries.map((e: { namespace: string; id: string }) => key(e.namespace, e.id)))).toEqual(dlqA);
    // The original collection is untouched.
    expect(await targetCount(jobA.plan!)).toBe(jobA.progress.total.loaded);
  });
});
