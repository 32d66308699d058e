// Kafka down past P2M_KAFKA_DEADLINE_MS: the controller's API keeps answering and reports the job
// FAILED with a cause that names Kafka; the record saying so is written once Kafka is back, and
// resume then finishes the job exactly (the loaders continue from their committed offsets, the
// extractor from its checkpoints).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { killComponent, startComponent } from './stack.ts';

const DATA: GeneratorOptions = { seed: 89, count: 4_000, dim: 16, namespaces: 2, edgeCases: false };
const INDEX = 'kafka-deadline-src';
const DEADLINE_MS = 8_000;

describe('Kafka down past P2M_KAFKA_DEADLINE_MS', () => {
  let emulator: Emulator;
  const token = newApiToken();
  const live: ServiceProcess[] = [];
  let kafkaDown = false;
  const start = async (role: 'controller' | 'extractor' | 'loader', name: string) => {
    const p = await startService(role, { name, apiToken: token, env: { P2M_KAFKA_DEADLINE_MS: String(DEADLINE_MS) } });
    live.push(p);
    return p;
  };

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
  });
  afterAll(async () => {
    if (kafkaDown) await startComponent('kafka');
    await Promise.all(live.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await emulator?.close();
  });

  it('the API reports the job FAILED naming Kafka; once Kafka is back, resume → SUCCESSFUL, the target equals the source', async () => {
    const controller = await start('controller', 'kdeadline-controller');
    await Promise.all([start('extractor', 'kdeadline-extractor'), start('loader', 'kdeadline-loader')]);
    const api = new ApiClient(controller.url, token);
    const created = await api.post('/v1/jobs', {
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('kdeadline') },
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

    const killedAt = Date.now();
    await killComponent('kafka', 'SIGKILL');
    kafkaDown = true;
    const failed = await pollJob(api, id, ['FAILED', 'SUCCESSFUL', 'CANCELLED'], 180_000);
    expect(failed.status).toBe('FAILED');
    expect(failed.error!.code).toBe('LOG_UNAVAILABLE');
    expect(failed.error!.message).toMatch(/Kafka \(.+\) stayed unreachable past the deadline \(P2M_KAFKA_DEADLINE_MS=8000 ms\)/);
    // Not before the deadline: a broker restart shorter than it fails nothing.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(DEADLINE_MS);
    // While Kafka is down the job cannot be resumed: the answer says why.
    const early = await api.post(`/v1/jobs/${id}/resume`);
    expect(early.status, early.text).toBe(503);
    expect(early.text).toMatch(/Kafka/);

    await startComponent('kafka');
    kafkaDown = false;
    // The FAILED record lands once the controller reaches Kafka again; resume waits for it.
    let resumed = await api.post(`/v1/jobs/${id}/resume`);
    for (let i = 0; i < 12 && resumed.status === 503; i++) resumed = await api.post(`/v1/jobs/${id}/resume`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body.status).toBe('IN_PROGRESS');
    expect(resumed.body.generation).toBe(2);
    const done = await pollJob(api, id, ['SUCCESSFUL', 'FAILED', 'CANCELLED'], 300_000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.progress.total.loaded).toBe(DATA.count);
    expect((await api.get(`/v1/jobs/${id}/errors`)).body.total).toBe(0);
    await expectTargetEqualsSource(done.plan!, DATA);
  });
});
