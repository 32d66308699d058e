// Every service stops cleanly on SIGTERM mid-job: exit code 0 within 10 s (a process still running
// after 10 s is SIGKILLed and the test sees the signal), and nothing is lost — each is started again
// and the job ends SUCCESSFUL with the target equal to the source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';

const DATA: GeneratorOptions = { seed: 77, count: 6_000, dim: 16, namespaces: 3, sparse: true, edgeCases: false };
const INDEX = 'sigterm-src';
const GRACE_MS = 10_000;

describe('SIGTERM mid-job: each service exits 0 within 10 s; restarted, the job finishes exactly', () => {
  let emulator: Emulator;
  const token = newApiToken();
  const live: ServiceProcess[] = [];
  const start = async (role: 'controller' | 'extractor' | 'loader', name: string) => {
    const p = await startService(role, { name, apiToken: token });
    live.push(p);
    return p;
  };

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, { ...DATA, metric: 'dotproduct' });
  });
  afterAll(async () => {
    await Promise.all(live.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await emulator?.close();
  });

  it('controller, extractor and loader in turn', async () => {
    let controller = await start('controller', 'sigterm-controller-1');
    let [extractor, loader] = await Promise.all([start('extractor', 'sigterm-extractor-1'), start('loader', 'sigterm-loader-1')]);
    let api = new ApiClient(controller.url, token);
    const created = await api.post('/v1/jobs', {
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('sigterm') },
      // A slow source: the job is still running when each service is stopped.
      options: { fetchBatchSize: 50, rateLimits: { listPerSecond: 50, fetchPerSecond: 4 }, batchBytes: 64 * 1024 },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;

    const progress = async () => (await api.get(`/v1/jobs/${id}`)).body;
    const waitFor = async (what: string, ok: (v: any) => boolean) => {
      for (;;) {
        const v = await progress();
        expect(v.status, `${what}: ${JSON.stringify(v.progress?.total)}`).toBe('IN_PROGRESS');
        if (ok(v)) return v;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const stopped = async (p: ServiceProcess) => {
      const exit = await p.stop(GRACE_MS);
      expect(exit, `${p.name} on SIGTERM (see test-artifacts/logs/${p.name}-*.log)`).toEqual({ code: 0, signal: null });
    };

    // The loader, in the middle of loading.
    await waitFor('loading', (v) => v.progress.total.loaded > 0);
    await stopped(loader);
    loader = await start('loader', 'sigterm-loader-2');

    // The extractor, in the middle of extracting.
    const atExtractor = await waitFor('extracting', (v) => v.progress.total.extracted >= DATA.count * 0.2);
    expect(atExtractor.progress.total.extracted).toBeLessThan(DATA.count);
    await stopped(extractor);
    extractor = await start('extractor', 'sigterm-extractor-2');

    // The controller, while the job runs.
    await waitFor('loading more', (v) => v.progress.total.loaded > atExtractor.progress.total.loaded);
    await stopped(controller);
    controller = await start('controller', 'sigterm-controller-2');
    api = api.withBase(controller.url);

    const done = await pollJob(api, id, ['SUCCESSFUL', 'FAILED', 'CANCELLED'], 420_000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    expect(done.progress.total.loaded).toBe(DATA.count);
    expect(done.progress.total.failed).toBe(0);
    expect((await api.get(`/v1/jobs/${id}/errors`)).body.total).toBe(0);
    await expectTargetEqualsSource(done.plan!, DATA);

    for (const p of [controller, extractor, loader]) await stopped(p);
  });
});
