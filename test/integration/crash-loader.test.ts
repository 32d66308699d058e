// Loaders as their own OS processes, SIGKILLed while loading. A loader commits offsets only after
// Milvus acknowledged the upsert, so whatever batch it was in the middle of is read again by the
// next owner of its partitions and upserted again (harmless by primary key). Controller and
// extractor run in the test process; the records topic is complete before the loaders start, so
// they load flat out and the kill lands in the middle of their work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loaderGroup, recordsTopic } from '@p2m/core';
import { expectedCounts, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { createKafka } from '@p2m/kafka';
import { decodeCounts } from '@p2m/loader';
import type { Runtime } from '@p2m/cli';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startPipeline, startSeededEmulator, uniqueName, waitForStatus } from './pipeline-harness.ts';
import { expectGroupEmpty, groupMembers, killAllServices, SHARED_STACK_HINT, spawnService, stopService, waitForJob, type ServiceProcess } from './processes.ts';
import { getTestStack } from './stack.ts';

const DATA: GeneratorOptions = { seed: 41, count: 10_000, dim: 32, namespaces: 3, edgeCases: false };
const COUNTS = expectedCounts(DATA);
const INDEX = 'crash-loader-src';
const PARTITIONS = 6;
/** ≥ 17 s of loading in all: time for the loaders to join, and for the kills to come mid-load. */
const LOAD_PER_SECOND = 600;
// Kills wait out a Kafka session (30 s) before partitions move; a busy 2-core machine is slow.
const LONG = 600_000;

describe('loader crashes (separate processes, SIGKILL while loading)', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
    // No other run's workers on this Kafka: they would load this test's jobs too.
    await expectGroupEmpty('p2m.extractors');
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 0 });
  });
  afterAll(async () => {
    await killAllServices();
    await runtime?.stop();
    await emulator?.close();
  });

  /** A job whose records topic is fully extracted before any loader runs. */
  async function extractedJob(prefix: string): Promise<string> {
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      // Small batches: many upsert + commit rounds, so a kill falls between an upsert and its commit.
      target: { address: milvusAddress(), collection: uniqueName(prefix) },
      // Paced loading (the job's write limit, shared by its loaders): a quiet machine would load
      // 10k records in a few seconds, before a kill could land in the middle of it.
      options: { batchBytes: 64 * 1024, topicPartitions: PARTITIONS, rateLimits: { upsertRecordsPerSecond: LOAD_PER_SECOND } },
    });
    expect(job.status).toBe('IN_PROGRESS');
    await waitForJob(runtime, job.id, (v) => v.progress.namespaces.length === 3 && v.progress.namespaces.every((n) => n.extractionDone), 'extraction done');
    const view = await runtime.jobs!.get(job.id);
    expect(view.progress.total.loaded, `loaded before this test started a loader: ${SHARED_STACK_HINT}`).toBe(0);
    return job.id;
  }

  /**
   * Waits until `victim` owns partitions of the job and loading is well under way (and has moved
   * since the victim joined) but far from done. The loaders read a complete topic flat out, so a
   * loader is nearly always between fetching a batch and committing it: the kill lands mid-batch.
   */
  async function midLoad(id: string, victim: ServiceProcess, loaders: number): Promise<number> {
    await victim.waitForLine(
      (l) => l.msg === 'joined the consumer group' && l.groupId === loaderGroup(id) && Array.isArray(l.assigned) && l.assigned.length > 0,
    );
    // Exactly this test's loaders in the job's group (once the last one to start has joined).
    let members = await groupMembers(loaderGroup(id));
    for (let i = 0; i < 60 && members !== loaders; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      members = await groupMembers(loaderGroup(id));
    }
    expect(members, `members of the job's loader group: ${SHARED_STACK_HINT}`).toBe(loaders);
    const atJoin = (await runtime.jobs!.get(id)).progress.total.loaded;
    const view = await waitForJob(runtime, id, (v) => v.progress.total.loaded >= Math.max(DATA.count * 0.1, atJoin + 1), 'loading under way');
    expect(view.progress.total.loaded, 'the kill must come before loading is complete').toBeLessThan(DATA.count);
    return view.progress.total.loaded;
  }

  async function expectExact(id: string): Promise<void> {
    const done = await waitForStatus(runtime, id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);
    for (const ns of done.report!.namespaces) {
      expect(ns.extracted, `extracted of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
      expect(ns.targetCount, `target count of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
      expect(ns.dlq).toBe(0);
      expect(ns.missing).toBe(0);
    }
    expect(done.progress.total.loaded).toBe(DATA.count);
    expect(done.progress.total.failed).toBe(0);
    // The loaders' own tallies (offset metadata, what live progress shows) agree: a replayed batch
    // is counted once, and a partition that came back keeps the counts its other owner committed.
    const kafka = createKafka({ brokers: getTestStack().kafka.brokers, clientId: 'p2m-crash-loader-test' });
    try {
      const committed = await kafka.admin().groupOffsets(loaderGroup(id), recordsTopic(id));
      expect(committed).toHaveLength(PARTITIONS);
      const tallies = committed.map((c) => decodeCounts(c.metadata));
      expect(tallies.reduce((n, t) => n + t.loaded, 0)).toBe(DATA.count);
      expect(tallies.reduce((n, t) => n + t.failed, 0)).toBe(0);
    } finally {
      await kafka.close();
    }
    expect((await runtime.jobs!.errors(id, { limit: 10 })).total).toBe(0);
    await expectTargetEqualsSource(done.plan!, DATA);
  }

  /** The partitions of the job's records topic a loader was last assigned. */
  function lastAssignment(proc: ServiceProcess, id: string): number[] {
    const joins = proc.lines.filter((l) => l.msg === 'joined the consumer group' && l.groupId === loaderGroup(id));
    const last = joins[joins.length - 1] as { assigned?: { partition: number }[] } | undefined;
    return (last?.assigned ?? []).map((a) => a.partition);
  }

  it(
    'one of two loaders SIGKILLed mid-batch and restarted, then SIGTERMed mid-load: the target equals the source exactly',
    async () => {
      const id = await extractedJob('crash_ld_restart');
      const [a1, b1] = await Promise.all([spawnService('loader', 'loader-a1'), spawnService('loader', 'loader-b1')]);
      const atKill = await midLoad(id, a1, 2);
      expect((await a1.kill('SIGKILL')).signal).toBe('SIGKILL');
      const a2 = await spawnService('loader', 'loader-a2');

      // The restarted loader gets the dead one's partitions back once its session expired, and loads
      // what was not committed. In the middle of that, SIGTERM: it finishes or abandons its batch,
      // commits only what Milvus acknowledged, leaves the group and exits 0 within 10 s; the other
      // loader takes every partition over and finishes.
      const atRejoin = await midLoad(id, a2, 2);
      expect(atRejoin).toBeGreaterThan(atKill);
      expect(await stopService(a2)).toEqual({ code: 0, signal: null, withinGrace: true });

      await expectExact(id);
      expect(lastAssignment(b1, id).sort((x, y) => x - y)).toEqual(Array.from({ length: PARTITIONS }, (_, i) => i));
      // SIGTERM when idle: exit 0 within 10 s as well.
      expect(await stopService(b1)).toEqual({ code: 0, signal: null, withinGrace: true });
    },
    LONG,
  );

  it(
    'one of three loaders SIGKILLed and not restarted: the other two finish and the target equals the source exactly',
    async () => {
      const id = await extractedJob('crash_ld_gone');
      const loaders = await Promise.all([spawnService('loader', 'loader-c'), spawnService('loader', 'loader-d'), spawnService('loader', 'loader-e')]);
      const [victim, ...survivors] = loaders;
      await midLoad(id, victim, 3);
      expect((await victim.kill('SIGKILL')).signal).toBe('SIGKILL');

      await expectExact(id);
      // The survivors took the dead member's partitions over: between them they own all of them.
      const owned = survivors.flatMap((p) => lastAssignment(p, id));
      expect(owned.sort((a, b) => a - b)).toEqual(Array.from({ length: PARTITIONS }, (_, i) => i));
      expect(victim.hasExited()).toBe(true);

      for (const p of survivors) expect(await stopService(p)).toEqual({ code: 0, signal: null, withinGrace: true });
    },
    LONG,
  );
});
