// A job's records topic deleted outside p2m (a user, a retention script, another cluster tool):
// the log the job loads from is gone, and no retry brings it back. The job must end with a reason
// that names the topic, in seconds, not wait for offsets that can never be read; and a job
// cancelled after its topic went away must still reach CANCELLED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordsTopic } from '@p2m/core';
import { createKafka, type KafkaClient } from '@p2m/kafka';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, milvusAddress, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

const DATA: GeneratorOptions = { seed: 91, count: 3_000, dim: 8, namespaces: 2, edgeCases: false };
const INDEX = 'deleted-log-src';

describe("a running job's records topic deleted outside p2m", () => {
  let emulator: Emulator;
  let kafka: KafkaClient;
  let api: ApiClient;
  const token = newApiToken();
  const live: ServiceProcess[] = [];

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
    kafka = createKafka({ brokers: getTestStack().kafka.brokers, clientId: 'p2m-test-deleter', logLevel: 'silent' });
    const start = async (role: 'controller' | 'extractor' | 'loader') => {
      const p = await startService(role, { name: `deleted-log-${role}`, apiToken: token });
      live.push(p);
      return p;
    };
    const controller = await start('controller');
    await Promise.all([start('extractor'), start('loader')]);
    api = new ApiClient(controller.url, token);
  });
  afterAll(async () => {
    await Promise.all(live.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await kafka?.close();
    await emulator?.close();
  });

  /** A slow job that has loaded something. */
  async function jobUnderWay(tag: string): Promise<string> {
    const created = await api.post('/v1/jobs', {
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName(tag) },
      options: { fetchBatchSize: 20, rateLimits: { listPerSecond: 20, fetchPerSecond: 2 }, batchBytes: 64 * 1024 },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    for (const until = Date.now() + 120_000; ;) {
      const v = (await api.get(`/v1/jobs/${id}`)).body;
      expect(['PENDING', 'IN_PROGRESS']).toContain(v.status);
      if (v.status === 'IN_PROGRESS' && v.progress.total.loaded > 0) break;
      expect(Date.now()).toBeLessThan(until);
      await new Promise((r) => setTimeout(r, 200));
    }
    return id;
  }

  it('IN_PROGRESS: the job FAILs within a minute, naming the topic and what to do', async () => {
    const id = await jobUnderWay('deleted_log');
    const topic = recordsTopic(id);
    await kafka.admin().deleteTopic(topic);
    const deletedAt = Date.now();
    const failed = await pollJob(api, id, ['FAILED', 'SUCCESSFUL', 'CANCELLED'], 90_000);
    expect(failed.status).toBe('FAILED');
    expect(failed.error!.message).toContain(topic);
    expect(failed.error!.message).toMatch(/new job/);
    expect(Date.now() - deletedAt).toBeLessThan(60_000);
    // What was loaded before the log went stays in the view: the last counts Kafka gave, not zeros.
    expect(failed.progress.total.loaded).toBeGreaterThan(0);
  });

  it('CANCELLING: cancelled after its topic was deleted, the job still reaches CANCELLED', async () => {
    const id = await jobUnderWay('deleted_log_cancel');
    await kafka.admin().deleteTopic(recordsTopic(id));
    const cancel = await api.post(`/v1/jobs/${id}/cancel`);
    // The controller may have failed the job already: then there is nothing left to cancel.
    if (cancel.status === 409) {
      expect((await api.get(`/v1/jobs/${id}`)).body.status).toBe('FAILED');
      return;
    }
    expect(cancel.status, cancel.text).toBe(200);
    const done = await pollJob(api, id, ['CANCELLED', 'FAILED', 'SUCCESSFUL'], 60_000);
    expect(done.status).toBe('CANCELLED');
  });
});
