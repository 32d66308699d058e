import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, EtlError, primaryKeyOf, type JobView, type VectorRecord } from '@p2m/core';
import { decodeRecord, encodeRecord } from '@p2m/codec';
import { createControllerWorld, type ControllerWorld } from '@p2m/controller/testing';
import { ExtractorWorker } from '@p2m/extractor';
import { LoaderWorker } from '@p2m/loader';
import { liteCapabilities, type FakeIndexOptions } from '@p2m/testing';

/**
 * Extract → load → verify in one process, on the fakes of every port: the real extractor worker and
 * runtime, two real loader workers, the real controller service, an in-memory Kafka, an in-memory
 * Milvus that loses unflushed writes on a restart (like Milvus Lite), a fake Pinecone. No server.
 */
const logger = createLogger('pipeline', { level: 'silent' });
const INDEX: FakeIndexOptions = { name: 'products', dimension: 8, metric: 'dotproduct', namespaces: { '': 300, tenant_a: 250, tenant_b: 150 }, sparseEvery: 3 };

interface Pipeline {
  world: ControllerWorld;
  stop(): Promise<void>;
}

let running: Pipeline | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

async function startPipeline(): Promise<Pipeline> {
  const world = createControllerWorld({ indexes: [INDEX], capabilities: liteCapabilities(), decode: async (v) => decodeRecord(v), logger });
  await world.start();
  const common = { log: world.log, board: world.service.board, secretKey: world.secretKey, logger };
  const extractor = new ExtractorWorker({ ...common, sourceFactory: world.pinecone.source, encodeFor: async () => (record) => encodeRecord(record) });
  const loaders = [1, 2].map(
    (n) => new LoaderWorker({ ...common, sinkFactory: () => world.milvus.connect(), decode: async (v) => decodeRecord(v), workerId: `loader-${n}` }),
  );
  extractor.start();
  for (const l of loaders) l.start();
  running = {
    world,
    stop: async () => {
      await Promise.all([extractor.stop(), ...loaders.map((l) => l.stop())]);
      await world.stop();
    },
  };
  return running;
}

async function until(world: ControllerWorld, id: string, done: (v: JobView) => boolean): Promise<JobView> {
  for (let i = 0; i < 400; i++) {
    const view = await world.service.get(id);
    if (done(view)) return view;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${id} is still ${(await world.service.get(id)).status}`);
}

const finished = (v: JobView): boolean => ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(v.status);

/** Every source record is a row of the collection, field for field. */
function expectTargetEqualsSource(world: ControllerWorld, view: JobView): void {
  const rows = world.milvus.rows(view.target.collection);
  const source = world.pinecone.indexes.get(INDEX.name)!.records;
  expect(rows.size).toBe([...source.values()].reduce((n, byId) => n + byId.size, 0));
  for (const [namespace, byId] of source) {
    for (const [id, want] of byId) {
      const row = rows.get(primaryKeyOf(view.plan!, namespace, id))?.record as VectorRecord | undefined;
      expect(row?.namespace, id).toBe(namespace);
      expect(Array.from(row!.values!)).toEqual(Array.from(want.values!, Math.fround));
      expect(row!.sparse?.indices ?? null).toEqual(want.sparseValues ? Array.from(want.sparseValues.indices) : null);
      expect(row!.metadata).toEqual(want.metadata);
    }
  }
}

const spec = (collection: string) => ({
  source: { apiKey: 'pcsk_fake', index: INDEX.name },
  target: { address: 'fake:19530', collection },
  options: { topicPartitions: 4 },
});

describe('the pipeline in one process, on fakes', () => {
  it('migrates a hybrid index with three namespaces and verifies it', async () => {
    const { world } = await startPipeline();
    const created = await world.service.create(spec('products_v1'));
    const done = await until(world, created.id, finished);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report?.passed).toBe(true);
    expect(done.progress.total).toEqual({ sourceCount: 700, extracted: 700, loaded: 700, failed: 0 });
    // Milvus Lite keeps acknowledged writes in memory: the plan made loaders flush before committing.
    expect(done.plan?.flushBeforeCommit).toBe(true);
    expectTargetEqualsSource(world, done);
  });

  it('a Milvus restart that loses unflushed writes mid-load still ends with every record, and a replay reads the log again', async () => {
    const { world } = await startPipeline();
    // The server restarts right after its third upsert was acknowledged, before anything flushed it.
    let upserts = 0;
    world.milvus.onUpsert = () => {
      if (++upserts === 3) world.milvus.restart();
    };
    const created = await world.service.create(spec('products_v2'));
    const done = await until(world, created.id, finished);
    expect(done.status).toBe('SUCCESSFUL');
    expectTargetEqualsSource(world, done);

    const replayed = await world.service.replay(created.id, { collection: 'products_copy' });
    expect(replayed).toMatchObject({ status: 'IN_PROGRESS', mode: 'replay', generation: 2 });
    const again = await until(world, created.id, (v) => v.generation === 2 && finished(v));
    expect(again.status).toBe('SUCCESSFUL');
    expectTargetEqualsSource(world, again);
  });

  it('a cancelled job stops its workers; resume continues from the checkpoints and offsets and ends exact', async () => {
    const { world } = await startPipeline();
    const job = await world.service.create(spec('products_v3'));
    await until(world, job.id, (v) => v.progress.total.extracted > 0 || finished(v));
    expect((await world.service.cancel(job.id)).status).toBe('CANCELLING');
    expect((await until(world, job.id, finished)).status).toBe('CANCELLED');
    expect(await world.log.admin().groupMemberCount(`p2m.loader.${job.id}`)).toBe(0);
    expect((await world.service.resume(job.id)).generation).toBe(2);
    const done = await until(world, job.id, (v) => v.generation === 2 && finished(v));
    expect(done.status).toBe('SUCCESSFUL');
    expectTargetEqualsSource(world, done);
  });

  it('a permanent error while verifying (an index the target cannot build) fails the job with its reason within seconds, not at the sink deadline', async () => {
    const { world } = await startPipeline();
    const refusal = new EtlError(
      'TARGET_UNSUPPORTED',
      'creating the SPARSE_INVERTED_INDEX index on "sparse_vector" failed: create index on 104 field is not supported',
      { retriable: false },
    );
    world.milvus.failNext('createIndexes', refusal, 100);
    const created = await world.service.create(spec('products_v4'));
    await until(world, created.id, (v) => v.status === 'VERIFYING' || finished(v));
    const started = performance.now();
    const done = await until(world, created.id, finished);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatchObject({
      code: 'TARGET_UNSUPPORTED',
      at: 'verification',
      message: expect.stringMatching(/create index on 104 field is not supported/) as string,
    });
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a permanent error at set-up fails the job with its reason within seconds instead of leaving it PENDING', async () => {
    const { world } = await startPipeline();
    // Set-up does not get through while the job is created (Milvus refuses retriably): the job stays
    // PENDING for its owner, whose next attempts then meet a permanent refusal.
    world.milvus.failNext('createCollection', new EtlError('TARGET_UNAVAILABLE', 'creating collection failed: connection refused', { retriable: true }), 1_000);
    const created = await world.service.create(spec('products_v5'));
    expect(created.status).toBe('PENDING');
    world.milvus.clearFailures('createCollection');
    world.milvus.failNext(
      'createCollection',
      new EtlError('TARGET_UNSUPPORTED', 'creating collection "products_v5" failed: the field type is not supported', { retriable: false }),
      1_000,
    );
    const started = performance.now();
    const done = await until(world, created.id, finished);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatchObject({ code: 'TARGET_UNSUPPORTED', at: 'set-up', message: expect.stringMatching(/field type is not supported/) as string });
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
