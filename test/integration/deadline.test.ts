// A dependency down past its deadline: the job is reported FAILED with a cause that names it, and
// once it is back, resume finishes the job exactly.
// - Milvus past P2M_SINK_DEADLINE_MS: the loader gives up and reports it. Milvus is SIGKILLed: the
//   loaders commit only what a flush made durable (Milvus Lite keeps unflushed writes in memory
//   only), so nothing acknowledged and committed is lost.
// - Kafka past P2M_KAFKA_DEADLINE_MS: the controller's API keeps answering and shows the job FAILED
//   at once; the record saying so is written once Kafka is back (the job state lives in Kafka), and
//   resume waits for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { killComponent, startComponent } from './stack.ts';

const DATA: GeneratorOptions = { seed: 88, count: 4_000, dim: 16, namespaces: 2, edgeCases: false };
const INDEX = 'deadline-src';
const DEADLINE_MS = 8_000;

describe('a dependency down past its deadline', () => {
  let emulator: Emulator;
  const token = newApiToken();
  const live: ServiceProcess[] = [];
  const down = new Set<'milvus' | 'kafka'>();

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
  });
  afterAll(async () => {
    for (const c of down) await startComponent(c);
    await Promise.all(live.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await emulator?.close();
  });

  /** Controller, extractor and loader processes with `env`, and a slow job that has loaded something. */
  async function jobUnderWay(tag: string, env: Record<string, string>): Promise<{ api: ApiClient; id: string }> {
    // The previous test's processes leave their groups (SIGTERM): only this test's settings drive the job.
    await Promise.all(live.splice(0).map((p) => p.stop()));
    const start = async (role: 'controller' | 'extractor' | 'loader') => {
      const p = await startService(role, { name: `${tag}-${role}`, apiToken: token, env });
      live.push(p);
      return p;
    };
    const controller = await start('controller');
    await Promise.all([start('extractor'), start('loader')]);
    const api = new ApiClient(controller.url, token);
    const created = await api.post('/v1/jobs', {
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName(tag) },
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
    return { api, id };
  }

  async function expectFinishedExactly(api: ApiClient, id: string): Promise<void> {
    const done = await pollJob(api, id, ['SUCCESSFUL', 'FAILED', 'CANCELLED'], 300_000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.progress.total.loaded).toBe(DATA.count);
    expect((await api.get(`/v1/jobs/${id}/errors`)).body.total).toBe(0);
    await expectTargetEqualsSource(done.plan!, DATA);
  }

  it('Milvus: the job FAILs naming Milvus; after Milvus is back, resume → SUCCESSFUL, the target equals the source', async () => {
    const { api, id } = await jobUnderWay('deadline', { P2M_SINK_DEADLINE_MS: String(DEADLINE_MS) });
    await killComponent('milvus', 'SIGKILL');
    down.add('milvus');
    const failed = await pollJob(api, id, ['FAILED', 'SUCCESSFUL', 'CANCELLED'], 180_000);
    expect(failed.status).toBe('FAILED');
    expect(failed.error!.message).toMatch(/milvus/i);
    expect(failed.error!.code).toMatch(/TARGET_UNAVAILABLE|TRANSIENT/);

    await startComponent('milvus');
    down.delete('milvus');
    const resumed = await api.post(`/v1/jobs/${id}/resume`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.status).toBe('IN_PROGRESS');
    await expectFinishedExactly(api, id);
  });

  it('Kafka: the API reports the job FAILED naming Kafka; once Kafka is back, resume → SUCCESSFUL, the target equals the source', async () => {
    const { api, id } = await jobUnderWay('kdeadline', { P2M_KAFKA_DEADLINE_MS: String(DEADLINE_MS) });
    const killedAt = Date.now();
    await killComponent('kafka', 'SIGKILL');
    down.add('kafka');
    const failed = await pollJob(api, id, ['FAILED', 'SUCCESSFUL', 'CANCELLED'], 180_000);
    expect(failed.status).toBe('FAILED');
    expect(failed.error!.code).toBe('LOG_UNAVAILABLE');
    expect(failed.error!.message).toMatch(/^Kafka \(.+\) stayed unreachable for \d+ s \(\d+ attempts\): .*past the deadline P2M_KAFKA_DEADLINE_MS=8000 ms/);
    // Not before the deadline: a broker restart shorter than it fails nothing.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(DEADLINE_MS);
    // While Kafka is down the job cannot be resumed: the answer says why.
    const early = await api.post(`/v1/jobs/${id}/resume`);
    expect(early.status, early.text).toBe(503);
    expect(early.text).toMatch(/Kafka/);

    await startComponent('kafka');
    down.delete('kafka');
    // The FAILED record lands once the controller reaches Kafka again; resume waits for it.
    let resumed = await api.post(`/v1/jobs/${id}/resume`);
    for (let i = 0; i < 12 && resumed.status === 503; i++) resumed = await api.post(`/v1/jobs/${id}/resume`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.status).toBe('IN_PROGRESS');
    expect(resumed.body.generation).toBe(2);
    await expectFinishedExactly(api, id);
  });
});
