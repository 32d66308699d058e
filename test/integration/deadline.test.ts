// Milvus down past the sink deadline (P2M_SINK_DEADLINE_MS): the loader gives up, the controller
// reports the job FAILED with a cause that names Milvus, and once Milvus is back, resume finishes
// the job exactly. Milvus is SIGKILLed: the loaders commit only what a flush made durable (Milvus
// Lite keeps unflushed writes in memory only), so nothing acknowledged and committed is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { killComponent, startComponent } from './stack.ts';

const DATA: GeneratorOptions = { seed: 88, count: 4_000, dim: 16, namespaces: 2, edgeCases: false };
const INDEX = 'deadline-src';
const DEADLINE_MS = 8_000;

describe('Milvus down past P2M_SINK_DEADLINE_MS', () => {
  let emulator: Emulator;
  const token = newApiToken();
  const live: ServiceProcess[] = [];
  let milvusDown = false;
  const start = async (role: 'controller' | 'extractor' | 'loader', name: string) => {
    const p = await startService(role, { name, apiToken: token, env: { P2M_SINK_DEADLINE_MS: String(DEADLINE_MS) } });
    live.push(p);
    return p;
  };

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
  });
  afterAll(async () => {
    if (milvusDown) await startComponent('milvus');
    await Promise.all(live.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await emulator?.close();
  });

  it('the job FAILs naming Milvus; after Milvus is back, resume → SUCCESSFUL, the target equals the source', async () => {
    const controller = await start('controller', 'deadline-controller');
    await Promise.all([start('extractor', 'deadline-extractor'), start('loader', 'deadline-loader')]);
    const api = new ApiClient(controller.url, token);
    const created = await api.post('/v1/jobs', {
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('deadline') },
      options: { fetchBatchSize: 50, rateLimits: { listPerSecond: 50, fetchPerSecond: 4 }, batchBytes: 64 * 1024 },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    for (;;) {
      const v = (await api.get(`/v1/jobs/${id}`)).body;
      expect(v.status).toBe('IN_PROGRESS');
      if (v.progress.total.loaded > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    await killComponent('milvus', 'SIGKILL');
    milvusDown = true;
    const failed = await pollJob(api, id, ['FAILED', 'SUCCESSFUL', 'CANCELLED'], 180_000);
    expect(failed.status).toBe('FAILED');
    expect(failed.error!.message).toMatch(/milvus/i);
    expect(failed.error!.code).toMatch(/TARGET_UNAVAILABLE|TRANSIENT/);

    await startComponent('milvus');
    milvusDown = false;
    const resumed = await api.post(`/v1/jobs/${id}/resume`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.status).toBe('IN_PROGRESS');
    const done = await pollJob(api, id, ['SUCCESSFUL', 'FAILED', 'CANCELLED'], 300_000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.progress.total.loaded).toBe(DATA.count);
    expect((await api.get(`/v1/jobs/${id}/errors`)).body.total).toBe(0);
    await expectTargetEqualsSource(done.plan!, DATA);
  });
});
