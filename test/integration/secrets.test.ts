// Secrets never leave the boundary they came in through. A whole run (create, follow, errors,
// plan, preview, refused requests, cancel, resume, replay) with a distinctive Pinecone API key, a
// distinctive Milvus token and the controller's API token; then every place the run wrote to is
// searched for them: the services' logs (stdout and stderr of the controller, extractor and loader
// processes, at debug), every API response body, the state topics p2m.jobs and p2m.checkpoints,
// the job's records and DLQ topics, read raw. The scan must find none, and must have seen data.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINTS_TOPIC, JOBS_TOPIC, dlqTopic, recordsTopic, type IncomingMessage, type JobView } from '@p2m/core';
import { seedIndex, startEmulator, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { createKafka } from '@p2m/kafka';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { milvusAddress, SECRET_KEY, uniqueName } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

const hex = (n: number): string => randomBytes(n).toString('hex');
// Distinctive values: a leak of any of them, whole or a long piece, is unmistakable.
const SOURCE_API_KEY = `pcsk_SRCKEY_${hex(20)}`;
const WRONG_API_KEY = `pcsk_WRONGKEY_${hex(20)}`;
const TARGET_TOKEN = `p2muser:TGTTOKEN_${hex(20)}`;
const API_TOKEN = newApiToken();
const SECRETS: Record<string, string> = {
  'source apiKey': SOURCE_API_KEY,
  'wrong source apiKey': WRONG_API_KEY,
  'target token': TARGET_TOKEN,
  P2M_API_TOKEN: API_TOKEN,
  P2M_SECRET_KEY: SECRET_KEY,
};
// What gets searched: each secret whole, and its random middle (a prefix or suffix cut off, or a
// `user:` split, still leaves it).
const NEEDLES: [string, string][] = Object.entries(SECRETS).flatMap(([name, value]) => [
  [name, value],
  [`${name} (middle)`, value.slice(Math.floor(value.length / 3), Math.floor(value.length / 3) + 16)],
]);

// Hybrid with a short maxIdLength, so the DLQ gets entries (long edge-case ids, negative sparse weights).
const DATA: GeneratorOptions = { seed: 41, count: 600, dim: 8, namespaces: 2, sparse: true };

/** Every needle found in `text`, named with where it was. */
function leaks(where: string, text: string): string[] {
  return NEEDLES.filter(([, needle]) => text.includes(needle)).map(([name]) => `${name} in ${where}`);
}

function rawText(m: IncomingMessage): string {
  // Avro and JSON both keep strings as UTF-8 bytes; latin1 keeps every byte, so nothing is lost to decoding.
  return `${m.key?.toString('latin1') ?? ''}\u0000${m.value?.toString('latin1') ?? ''}\u0000${JSON.stringify(m.headers)}`;
}

describe('secrets are never logged, returned or written to Kafka in clear', () => {
  let emulator: Emulator;
  let controller: ServiceProcess;
  let extractor: ServiceProcess;
  let loaders: ServiceProcess;
  let api: ApiClient;
  let job: JobView;
  let replayCollection: string;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, apiKey: SOURCE_API_KEY, rateLimits: false });
    await seedIndex({ ...DATA, index: 'secret-src', metric: 'dotproduct', url: emulator.controllerHostUrl, apiKey: SOURCE_API_KEY, concurrency: 4 });
    // Every service at debug: the most it ever writes.
    const env = { P2M_LOG_LEVEL: 'debug' };
    controller = await startService('controller', { apiToken: API_TOKEN, name: 'secrets-controller', env });
    [extractor, loaders] = await Promise.all([
      startService('extractor', { name: 'secrets-extractor', env }),
      startService('loader', { name: 'secrets-loaders', loaders: 2, env }),
    ]);
    api = new ApiClient(controller.url, API_TOKEN);
  });

  afterAll(async () => {
    await Promise.all([controller, extractor, loaders].filter(Boolean).map((p) => p.stop()));
    await emulator?.close();
  });

  const spec = (collection: string, overrides: { apiKey?: string } = {}) => ({
    source: { apiKey: overrides.apiKey ?? SOURCE_API_KEY, index: 'secret-src', controllerHostUrl: emulator.controllerHostUrl },
    target: { address: milvusAddress(), token: TARGET_TOKEN, collection, maxIdLength: 40 },
  });

  it('a full run with the secrets: create, follow, plan, errors, refused requests, cancel, resume, replay', async () => {
    const collection = uniqueName('secrets');
    const preview = await api.post('/v1/plan', spec(collection));
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body.collection).toBe(collection);

    // Refused requests that carry the secrets: a bad field, a key the source rejects.
    const bad = await api.post('/v1/jobs', { ...spec(collection), target: { ...spec(collection).target, collection: 'not a name' } });
    expect(bad.status).toBe(400);
    const rejected = await api.post('/v1/jobs', spec(uniqueName('secrets_bad'), { apiKey: WRONG_API_KEY }));
    expect(rejected.status).toBe(400);
    expect(rejected.body.error.code).toBe('SOURCE_UNAUTHORIZED');

    const created = await api.post<JobView>('/v1/jobs', spec(collection));
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;
    // Cancel early, resume, then let it finish.
    const cancel = await api.post<JobView>(`/v1/jobs/${id}/cancel`);
    expect(cancel.status).toBe(200);
    await pollJob(api, id, ['CANCELLED'], 60_000);
    expect((await api.post(`/v1/jobs/${id}/resume`)).status).toBe(200);
    job = await pollJob(api, id, ['SUCCESSFUL', 'FAILED']);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    expect(job.progress.total.failed).toBeGreaterThan(0);

    const conflict = await api.post('/v1/jobs', spec(collection));
    expect(conflict.status).toBe(409);
    expect((await api.get(`/v1/jobs/${id}/errors?limit=1000`)).body.total).toBe(job.progress.total.failed);
    expect((await api.get(`/v1/jobs/${id}/plan`)).status).toBe(200);
    expect((await api.get('/v1/jobs')).status).toBe(200);
    expect((await api.get('/openapi.json')).status).toBe(200);
    expect((await api.get('/metrics', { token: null })).status).toBe(200);

    replayCollection = uniqueName('secrets_replay');
    expect((await api.post(`/v1/jobs/${id}/replay`, { collection: replayCollection })).status).toBe(200);
    const replayed = await pollJob(api, id, ['SUCCESSFUL', 'FAILED']);
    expect(replayed.error).toBeUndefined();
    expect(replayed.status).toBe('SUCCESSFUL');
    // The records refused again by the replay are listed once.
    expect((await api.get(`/v1/jobs/${id}/errors?limit=1000`)).body.total).toBe(job.progress.total.failed);
  });

  it('no service log line holds a secret (controller, extractor, loaders at debug)', async () => {
    // SIGTERM: each process flushes and exits cleanly, so its log is complete.
    for (const p of [controller, extractor, loaders]) expect((await p.stop()).code, `${p.name} exit code`).toBe(0);
    const found: string[] = [];
    for (const p of [controller, extractor, loaders]) {
      const out = p.output();
      // The scan saw the run: each log is long and names the job.
      expect(out.length, `${p.name} log size`).toBeGreaterThan(1000);
      expect(out, `${p.name} log mentions the job`).toContain(job.id);
      found.push(...leaks(`${p.name} log`, out));
    }
    expect(controller.output()).toContain(job.target.collection);
    expect(found).toEqual([]);
  });

  it('no API response body holds a secret', () => {
    expect(api.bodies.length).toBeGreaterThan(20);
    const all = api.bodies.join('\n');
    expect(all).toContain(job.id);
    expect(all).toContain(replayCollection);
    expect(all).toContain('secret-src');
    expect(leaks('API responses', all)).toEqual([]);
  });

  it('no Kafka record holds a secret in clear: p2m.jobs, p2m.checkpoints, the job’s records and DLQ topics', async () => {
    const kafka = createKafka({ brokers: getTestStack().kafka.brokers, logLevel: 'silent' });
    try {
      const found: string[] = [];
      const seen: Record<string, { messages: number; ofJob: number }> = {};
      for (const topic of [JOBS_TOPIC, CHECKPOINTS_TOPIC, recordsTopic(job.id), dlqTopic(job.id)]) {
        const messages = await kafka.readTopicToEnd(topic);
        seen[topic] = { messages: messages.length, ofJob: 0 };
        for (const m of messages) {
          const text = rawText(m);
          if (topic.includes(job.id) || text.includes(job.id)) seen[topic].ofJob++;
          found.push(...leaks(`${topic} ${m.partition}:${m.offset}`, text));
        }
      }
      // The scan read the job's state and data: its records, checkpoints, worker reports, DLQ entries.
      expect(seen[JOBS_TOPIC]!.ofJob).toBeGreaterThanOrEqual(5);
      expect(seen[CHECKPOINTS_TOPIC]!.ofJob).toBeGreaterThanOrEqual(DATA.namespaces as number);
      expect(seen[recordsTopic(job.id)]!.messages).toBeGreaterThanOrEqual(DATA.count);
      // The replay refused the same records again: each is in the DLQ topic once per run at least
      // (the DLQ is written at least once: a rebalance between a loader's DLQ write and its offset
      // commit hands the batch to another loader, which writes the entry again).
      const dlqKeys = new Map<string, number>();
      for (const m of await kafka.readTopicToEnd(dlqTopic(job.id))) {
        const key = m.key?.toString('latin1') ?? '';
        dlqKeys.set(key, (dlqKeys.get(key) ?? 0) + 1);
      }
      expect(dlqKeys.size).toBe(job.progress.total.failed);
      for (const [key, copies] of dlqKeys) expect(copies, `DLQ entries of ${JSON.stringify(key)}`).toBeGreaterThanOrEqual(2);
      // The same scan finds a value the job record keeps in clear (so a clear secret would be found too).
      const jobsText = (await kafka.readTopicToEnd(JOBS_TOPIC)).map(rawText).join('\n');
      expect(jobsText).toContain(job.target.collection);
      expect(jobsText).toContain(replayCollection);
      expect(found).toEqual([]);
    } finally {
      await kafka.close();
    }
  });
});
