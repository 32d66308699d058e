// p2m against a real, WAL-backed Milvus standalone server (PyPI `milvus` 2.3.5, the test stack's
// `milvus-standalone` component), not Milvus Lite: what the probe finds out about it, a dense
// 3-namespace index migrated in partitions mode, the partition-key mode and a hybrid index refused
// before anything is created (this server's upsert ignores the partition key; it has no usable sparse
// vectors), and a SIGKILL of the server mid-load that loses nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { CollectionPlan, JobView } from '@p2m/core';
import type { Emulator, GeneratorOptions } from '@p2m/emulator';
import { createMilvusSink } from '@p2m/milvus-sink';
import { etlErrorOf } from '@p2m/testing';
import type { Runtime } from '@p2m/cli';
import { API_KEY, expectTargetEqualsSource, startPipeline, startSeededEmulator, uniqueName, waitForStatus } from './pipeline-harness.ts';
import { killComponent, milvusStandaloneAddress, startComponent } from './stack.ts';

const DENSE: GeneratorOptions = { seed: 31, count: 6_000, dim: 16, namespaces: 3, sparse: false };
const LONG = 900_000;

const standalone = (): string => milvusStandaloneAddress();

/** The index type on the plan's vector field as the server describes it; undefined when the field has none. */
async function vectorIndexType(plan: CollectionPlan): Promise<string | undefined> {
  const client = new MilvusClient({ address: standalone() });
  try {
    const res = await client.describeIndex({ collection_name: plan.collection, field_name: plan.names.vector });
    const d = res.index_descriptions?.find((x) => x.field_name === plan.names.vector);
    return d?.params.find((p) => p.key === 'index_type')?.value as string | undefined;
  } finally {
    await client.closeConnection();
  }
}

describe('Milvus standalone 2.3.5 as the target', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    emulator = await startSeededEmulator('dense-src', { ...DENSE, metric: 'cosine' });
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 2 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  it('the probe finds a WAL-backed server without usable sparse vectors whose upsert ignores the partition key', async () => {
    const sink = createMilvusSink({ address: standalone() });
    try {
      const caps = await sink.capabilities();
      expect(caps.serverVersion).toBe('v2.3.5-lite'); // a name that says Lite, on a server that is not
      expect(caps.persistsAcknowledgedWrites).toMatchObject({ value: true, how: 'probed' });
      expect(caps.queryNeedsLoad).toMatchObject({ value: true, how: 'probed' });
      // Every role is one process on this host: an index build would take the load's CPU.
      expect(caps.indexNodesApart).toMatchObject({ value: false, how: 'probed' });
      expect(caps.sparseVectors).toMatchObject({ value: false, how: 'probed' });
      expect(caps.upsertHonoursPartitionKey).toMatchObject({ value: false, how: 'probed' });
      expect(caps.upsertReplacesDynamicField).toMatchObject({ value: true, how: 'probed' });
      expect(caps.partitionKey.value).toBe(true);
    } finally {
      await sink.close();
    }
  });

  it('partition-key mode is refused up front, with the reason and the fix, and nothing is created', async () => {
    const collection = uniqueName('std_pk');
    const err = await etlErrorOf(
      runtime.jobs!.create({
        source: { apiKey: API_KEY, index: 'dense-src', controllerHostUrl: emulator.controllerHostUrl },
        target: { address: standalone(), collection },
      }),
    );
    expect(err.code).toBe('TARGET_UNSUPPORTED');
    expect(err.field).toBe('target.partitionKey');
    expect(err.message).toMatch(/does not route upserts by the partition key/);
    expect(err.hint).toMatch(/partitionKey: false/);
    const sink = createMilvusSink({ address: standalone() });
    expect(await sink.collectionExists(collection)).toBe(false);
    await sink.close();
  });

  it('a hybrid (dotproduct) index is refused before anything is created', async () => {
    const hybrid = await startSeededEmulator('hybrid-src', { ...DENSE, count: 200, sparse: true, metric: 'dotproduct' });
    try {
      const collection = uniqueName('std_hybrid');
      const err = await etlErrorOf(
        runtime.jobs!.create({
          source: { apiKey: API_KEY, index: 'hybrid-src', controllerHostUrl: hybrid.controllerHostUrl },
          target: { address: standalone(), collection, partitionKey: false },
        }),
      );
      expect(err.code).toBe('TARGET_UNSUPPORTED');
      expect(err.message).toMatch(/has no sparse vectors/);
      const sink = createMilvusSink({ address: standalone() });
      expect(await sink.collectionExists(collection)).toBe(false);
      await sink.close();
    } finally {
      await hybrid.close();
    }
  });

  it('a dense 3-namespace index migrates in partitions mode, committing without flushes, and verifies', { timeout: LONG }, async () => {
    const collection = uniqueName('std_parts');
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'dense-src', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: standalone(), collection, partitionKey: false },
    });
    expect(job.plan!.flushBeforeCommit).toBe(false);
    expect(job.plan!.target!.decisions.find((d) => d.capability === 'persistsAcknowledgedWrites')!.decision).toMatch(/write-ahead log/);
    expect(job.plan!.indexesWithCollection).toBe(false);
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    await expectTargetEqualsSource(done.plan!, DENSE, new Set(), standalone());
  });

  it('the server SIGKILLed mid-load and restarted, its index made with the collection: nothing acknowledged is lost', { timeout: LONG }, async () => {
    const collection = uniqueName('std_kill');
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'dense-src', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: standalone(), collection, partitionKey: false },
      // Paced, so the kill lands mid-load on a quiet machine too; the index built while loading.
      options: { rateLimits: { upsertRecordsPerSecond: 600 }, indexBuild: 'duringLoad' },
    });
    const midway = async (): Promise<JobView> => {
      for (;;) {
        const v = await runtime.jobs!.get(job.id);
        if (v.progress.total.loaded >= DENSE.count * 0.3 || v.status !== 'IN_PROGRESS') return v;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const atKill = await midway();
    expect(atKill.status).toBe('IN_PROGRESS');
    expect(atKill.progress.total.loaded).toBeLessThan(DENSE.count);
    // The index came with the collection: the server builds it while the load goes on.
    expect(job.plan!.indexesWithCollection).toBe(true);
    expect(await vectorIndexType(job.plan!)).toBe(job.plan!.indexes[0]!.indexType);
    await killComponent('milvus-standalone');
    await startComponent('milvus-standalone');
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    await expectTargetEqualsSource(done.plan!, DENSE, new Set(), standalone());
  });
});
