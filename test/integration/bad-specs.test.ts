// Job specs p2m must refuse before it creates anything: each refusal has its own code, message and
// field (through the JobService and over HTTP), and afterwards there is no job on the board, no
// topic for a job in Kafka and no collection in Milvus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtlError, parseJobSpec, planCollection, type IndexDescription, type JobSpecInput } from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { createKafka, type KafkaClient } from '@p2m/kafka';
import { createMilvusSink } from '@p2m/milvus-sink';
import type { Runtime } from '@p2m/cli';
import { API_KEY, milvusAddress, startPipeline, startSeededEmulator, uniqueName } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';

const DATA: GeneratorOptions = { seed: 71, count: 300, dim: 16, namespaces: 2, edgeCases: false };
const GOOD = 'bad-specs-src';
const POD = 'bad-specs-pod';
const API_TOKEN = 'bad-specs-api-token-0123456789';
const JOB_TOPIC = /^p2m\.job\.(.+)\.(records|dlq)$/;

interface Refusal {
  code: string;
  field: string;
  message: RegExp;
  status: number;
}

describe('bad job specs are refused before anything is created', () => {
  let emulator: Emulator;
  let runtime: Runtime;
  let kafka: KafkaClient;
  const sink = () => createMilvusSink({ address: milvusAddress() });
  /** Every collection name a refused spec asked for. */
  const refusedCollections = new Set<string>();
  let topicsBefore: Set<string>;
  let existing: string;

  beforeAll(async () => {
    emulator = await startSeededEmulator(GOOD, DATA);
    await emulator.createIndex({ name: POD, dimension: 16, metric: 'cosine', pod: true });
    runtime = await startPipeline({ controller: { http: { host: '127.0.0.1', port: 0, apiToken: API_TOKEN } } });
    kafka = createKafka({ brokers: getTestStack().kafka.brokers, clientId: 'p2m-bad-specs-test' });
    topicsBefore = new Set(await kafka.admin().listTopics());
    // A collection that already exists, made from the very plan a job would make.
    existing = uniqueName('bad_exists');
    const plan = await runtime.jobs!.preview(spec({ collection: existing }));
    const s = sink();
    try {
      await s.createCollection(plan);
    } finally {
      await s.close();
    }
  });
  afterAll(async () => {
    const s = sink();
    await s.dropCollection(existing).catch(() => undefined);
    await s.close();
    await kafka?.close();
    await runtime?.stop();
    await emulator?.close();
  });

  function spec(o: { index?: string; apiKey?: string; collection?: string; fields?: Record<string, string> } = {}): JobSpecInput {
    return {
      source: { apiKey: o.apiKey ?? API_KEY, index: o.index ?? GOOD, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: o.collection ?? uniqueName('bad'), ...(o.fields ? { fields: o.fields } : {}) },
    };
  }

  /** The JobService refuses with exactly this error, and so does POST /v1/jobs. */
  async function expectRefused(input: JobSpecInput, want: Refusal): Promise<void> {
    refusedCollections.add(input.target.collection);
    const err = await runtime.jobs!.create(input).then(
      (job) => new Error(`created job ${job.id} instead of refusing it`),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EtlError);
    const e = err as EtlError;
    expect({ code: e.code, field: e.field }).toEqual({ code: want.code, field: want.field });
    expect(e.message).toMatch(want.message);
    expect(e.retriable).toBe(false);

    const res = await fetch(`${runtime.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    const body = (await res.json()) as { error: { code: string; message: string; issues?: { path: string; message: string }[] } };
    expect(res.status).toBe(want.status);
    expect(body.error.code).toBe(want.code);
    expect(body.error.message).toMatch(want.message);
    expect(body.error.issues?.map((i) => i.path)).toContain(want.field);
  }

  it('a pod-based index', async () => {
    await expectRefused(spec({ index: POD }), {
      code: 'SOURCE_POD_INDEX',
      field: 'source.index',
      message: /^index "bad-specs-pod" is a pod-based index; p2m migrates serverless indexes only$/,
      status: 400,
    });
  });

  it('an index that does not exist', async () => {
    await expectRefused(spec({ index: 'no-such-index' }), {
      code: 'SOURCE_INDEX_NOT_FOUND',
      field: 'source.index',
      message: /^Pinecone index "no-such-index" was not found/,
      status: 400,
    });
  });

  it('an API key Pinecone refuses', async () => {
    await expectRefused(spec({ apiKey: 'not-the-right-key' }), {
      code: 'SOURCE_UNAUTHORIZED',
      field: 'source.apiKey',
      message: /^the Pinecone API key was refused \(HTTP 401/,
      status: 400,
    });
  });

  it('a collection that already exists', async () => {
    await expectRefused(spec({ collection: existing }), {
      code: 'TARGET_COLLECTION_EXISTS',
      field: 'target.collection',
      message: new RegExp(`^collection "${existing}" already exists in the target$`),
      status: 409,
    });
  });

  it('an invalid collection name', async () => {
    await expectRefused(spec({ collection: '9-lives' }), {
      code: 'SPEC_INVALID',
      field: 'target.collection',
      message: /^target\.collection: the collection name must start with a letter or underscore and contain only letters, digits and underscores$/,
      status: 400,
    });
  });

  it('an invalid field name', async () => {
    await expectRefused(spec({ fields: { vector: 'dense-vector' } }), {
      code: 'SPEC_INVALID',
      field: 'target.fields.vector',
      message: /^target\.fields\.vector: the vector field name must start with a letter or underscore/,
      status: 400,
    });
  });

  it('two fields renamed to the same name', async () => {
    await expectRefused(spec({ fields: { vector: 'embedding', sparseVector: 'embedding' } }), {
      code: 'SPEC_INVALID',
      field: 'target.fields.sparseVector',
      message: /^target\.fields\.sparseVector: "embedding" is already the vector field name; each field needs its own name$/,
      status: 400,
    });
  });

  // The emulator, like Pinecone, cannot create an index Milvus could not take (dimension above
  // 32,768; a sparse index without dotproduct), so the planner's refusal is checked directly.
  it('a dimension or metric the target cannot take (the planner)', () => {
    const index = (o: Partial<IndexDescription>): IndexDescription => ({
      name: 'big',
      dimension: 16,
      metric: 'cosine',
      vectorType: 'dense',
      deployment: 'serverless',
      host: 'http://127.0.0.1:1',
      ready: true,
      ...o,
    });
    const plan = (i: IndexDescription) => () =>
      planCollection({ spec: parseJobSpec(spec()), index: i, namespaces: [{ name: '', recordCount: 1 }], capabilities: fullCapabilities() });
    for (const [i, message] of [
      [index({ dimension: 40_000 }), /^index "big" has dimension 40000, which Milvus cannot store \(1–32768\)$/],
      [
        index({ vectorType: 'sparse', dimension: null, metric: 'euclidean' }),
        /^sparse index "big" uses metric "euclidean"; Milvus sparse vectors support inner product only$/,
      ],
    ] as const) {
      let caught: unknown;
      try {
        plan(i)();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(EtlError);
      expect({ code: (caught as EtlError).code, field: (caught as EtlError).field }).toEqual({ code: 'TARGET_UNSUPPORTED', field: 'source.index' });
      expect((caught as EtlError).message).toMatch(message);
    }
    expect(plan(index({ dimension: 32_768 }))().dimension).toBe(32_768);
  });

  it('left nothing behind: no job, no job topic, no collection', async () => {
    expect(refusedCollections.size).toBe(7);
    const mine = (await runtime.jobs!.list()).filter((j) => refusedCollections.has(j.target.collection));
    expect(mine.map((j) => j.id)).toEqual([]);

    // Topics of jobs made meanwhile by other test runs sharing the stack are theirs: each new job
    // topic must belong to a job on the board that is not one of ours.
    const created = (await kafka.admin().listTopics()).filter((t) => !topicsBefore.has(t) && JOB_TOPIC.test(t));
    for (const topic of created) {
      const jobId = JOB_TOPIC.exec(topic)![1]!;
      const owner = await waitForBoardJob(jobId);
      expect(owner, `topic ${topic} belongs to no job on the board`).toBeDefined();
      expect(refusedCollections.has(owner!.target.collection), `topic ${topic} belongs to a refused spec`).toBe(false);
    }

    const s = sink();
    try {
      for (const name of refusedCollections) {
        if (name === existing) continue;
        expect(await s.collectionExists(name), `collection ${name}`).toBe(false);
      }
      expect(await s.collectionExists(existing)).toBe(true);
    } finally {
      await s.close();
    }
  });

  async function waitForBoardJob(id: string) {
    for (let i = 0; i < 50; i++) {
      const job = (await runtime.jobs!.list()).find((j) => j.id === id);
      if (job) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }
});
