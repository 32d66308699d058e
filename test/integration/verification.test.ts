import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { createLogger, type JobView, type VerificationProgress, type VectorRecord } from '@p2m/core';
import { generateRecords, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { createKafka, type KafkaClient } from '@p2m/kafka';
import { QUIET_KEEPALIVE, createMilvusSink } from '@p2m/milvus-sink';
import { verifyJob } from '@p2m/controller';
import { RecordCodecs, type Runtime } from '@p2m/cli';
import { API_KEY, milvusAddress, startPipeline, startSeededEmulator, uniqueName, waitForStatus } from './pipeline-harness.ts';
import { getTestStack } from './stack.ts';
import { toVectorRecord } from '../../bench/lib/dataset.ts';

// Verification against the real stack: a migrated collection passes; 3 rows deleted from it and 1
// changed make it fail naming exactly those 4 records; a replay and a cancelled-then-resumed job
// verify right; VERIFYING reports its phases while it works.
const DATA: GeneratorOptions = { seed: 17, count: 6_000, dim: 8, namespaces: 2, edgeCases: false };
const RECORDS = [...generateRecords(DATA)].map(toVectorRecord);

describe('verification on the real stack', () => {
  let emulator: Emulator;
  let runtime: Runtime;
  let kafka: KafkaClient;
  let codecs: RecordCodecs;
  let job: JobView;

  beforeAll(async () => {
    emulator = await startSeededEmulator('verify-src', { ...DATA, metric: 'cosine' });
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 1 });
    kafka = createKafka({ brokers: getTestStack().kafka.brokers, clientId: 'p2m-test-verify', logger: createLogger('test', { level: 'error' }) });
    codecs = new RecordCodecs(getTestStack().registry.url);
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  function deps(view: JobView, onProgress?: (p: VerificationProgress) => void) {
    const record = runtime.jobs!.board.jobs.get(view.id)!;
    const sink = createMilvusSink({ address: milvusAddress() });
    return {
      sink,
      run: () =>
        verifyJob(
          { record, log: kafka, sink, source: null, decode: codecs.decode, sampleSize: 0, checkpoints: runtime.jobs!.board.checkpoints.get(record.topicJobId) },
          onProgress,
        ),
    };
  }

  it('passes a migration, with each phase timed and the log reconciled against the target', async () => {
    const created = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'verify-src', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('verify') },
    });
    const phases = new Set<string>();
    for (;;) {
      const view = await runtime.jobs!.get(created.id);
      if (view.progress.verification) phases.add(view.progress.verification.phase);
      if (view.status === 'SUCCESSFUL' || view.status === 'FAILED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    job = await waitForStatus(runtime, created.id);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    const report = job.report!;
    expect(report.problems).toEqual([]);
    expect(report.phases!.map((p) => p.phase)).toEqual(['flush', 'indexes', 'load', 'dlq', 'reconcile', 'settle', 'sample']);
    expect(report.reconciliation).toMatchObject({ logRecords: 6_000, distinctRecords: 6_000, targetRows: 6_000, expectedRows: 6_000, bucketsDrilled: 0 });
    expect(report.sample.compared).toBeGreaterThan(0);
    expect(report.namespaces.map((n) => n.targetCount).reduce((a, b) => a + b, 0)).toBe(6_000);
    // The job view carried the phase while VERIFYING (polled: the quick phases may pass unseen).
    expect(phases.size).toBeGreaterThan(0);
  });

  it('fails naming exactly the 3 records deleted from the target and the 1 changed in it', async () => {
    const plan = job.plan!;
    const [d1, d2, d3, c1] = [RECORDS[10]!, RECORDS[2_500]!, RECORDS[5_999]!, RECORDS[4_321]!];
    const milvus = new MilvusClient({
      address: milvusAddress(),
      logLevel: 'error',
      channelOptions: QUIET_KEEPALIVE,
    });
    try {
      const res = await milvus.delete({ collection_name: plan.collection, filter: `id in ${JSON.stringify([d1.id, d2.id, d3.id])}` });
      expect(Number(res.delete_cnt)).toBe(3);
    } finally {
      await milvus.closeConnection();
    }
    const changed: VectorRecord = { ...c1, values: Float32Array.from(c1.values!, (v, i) => (i === 5 ? v + 0.5 : v)) };
    const sink = createMilvusSink({ address: milvusAddress() });
    try {
      await sink.writer(plan, { flushBeforeCommit: false }).write({ records: [changed] }, 0);
      await sink.flush(plan);
    } finally {
      await sink.close();
    }

    const seen: VerificationProgress[] = [];
    const v = deps(job, (p) => seen.push(p));
    try {
      const report = await v.run();
      expect(report.passed).toBe(false);
      const missing = report.namespaces.flatMap((n) => n.missingSample.map((id) => `${n.namespace}/${id}`)).sort();
      expect(missing).toEqual([d1, d2, d3].map((r) => `${r.namespace}/${r.id}`).sort());
      expect(report.namespaces.reduce((s, n) => s + n.missing, 0)).toBe(3);
      expect(report.changed!.map((m) => `${m.namespace}/${m.id}`)).toEqual([`${c1.namespace}/${c1.id}`]);
      expect(report.changed![0]!.field).toBe(plan.names.vector);
      expect(report.namespaces.reduce((s, n) => s + (n.changed ?? 0), 0)).toBe(1);
      expect(report.unexpected).toEqual([]);
      expect(seen.some((p) => p.phase === 'reconcile' && p.recordsTotal >= 6_000)).toBe(true);
    } finally {
      await v.sink.close();
    }
  });

  it('a replay into a new collection verifies right', async () => {
    const replayed = await runtime.jobs!.replay(job.id, { collection: uniqueName('verify_replay') });
    expect(replayed.status).toBe('IN_PROGRESS');
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.problems).toEqual([]);
    expect(done.report!.reconciliation).toMatchObject({ logRecords: 6_000, targetRows: 6_000 });
    expect(done.report!.sample.compared).toBe(0); // a replay reads the log, not Pinecone
  });

  it('a job cancelled mid-load and resumed verifies right', async () => {
    const created = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: 'verify-src', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('verify_resume') },
      options: { rateLimits: { listPerSecond: 20, fetchPerSecond: 20 } },
    });
    const inFlight = await waitForStatus(runtime, created.id, ['IN_PROGRESS']);
    for (;;) {
      const v = await runtime.jobs!.get(inFlight.id);
      if (v.progress.total.extracted > 500) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await runtime.jobs!.cancel(created.id);
    const cancelled = await waitForStatus(runtime, created.id);
    expect(cancelled.status).toBe('CANCELLED');
    await runtime.jobs!.resume(created.id);
    const done = await waitForStatus(runtime, created.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.problems).toEqual([]);
    expect(done.report!.reconciliation!.targetRows).toBe(6_000);
    expect(done.report!.reconciliation!.logRecords).toBeGreaterThanOrEqual(6_000);
  });
});
