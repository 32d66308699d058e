// The extractor as its own OS process, SIGKILLed in the middle of its namespaces and started again:
// it resumes from the checkpoints in p2m.checkpoints (a page may be published twice, never skipped)
// and the target ends exactly equal to the source. Then a graceful hand-over (SIGTERM mid-way, exit
// 0, the next one resumes). Controller and loaders run in the test process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedCounts, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import type { Runtime } from '@p2m/cli';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startPipeline, startSeededEmulator, uniqueName, waitForStatus } from './pipeline-harness.ts';
import { expectGroupEmpty, groupMembers, killAllServices, SHARED_STACK_HINT, spawnService, stopService, waitForJob, type ServiceProcess } from './processes.ts';

// 3 namespaces (the default one included) of 3,000 records; no edge cases: this test is about crashes.
const DATA: GeneratorOptions = { seed: 31, count: 9_000, dim: 16, namespaces: 3, edgeCases: false };
const COUNTS = expectedCounts(DATA);
const INDEX = 'crash-extractor-src';
// Kills wait out a Kafka session (30 s) before partitions move; a busy 2-core machine is slow.
const LONG = 600_000;

describe('extractor crash (separate process, SIGKILL mid-namespace, restart)', () => {
  let emulator: Emulator;
  let runtime: Runtime;
  const extractors: ServiceProcess[] = [];

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
    // Slow fetches (100 ids each) stretch each namespace (30 pages) over ~10 s, so the kill lands mid-way.
    emulator.setFaults({ latencyMs: 300, latencyJitterMs: 100, operations: ['fetch'] });
    // The extractors group must hold this test's extractor only.
    await expectGroupEmpty('p2m.extractors');
    runtime = await startPipeline({ controller: {}, loaders: 2 });
  });
  afterAll(async () => {
    await killAllServices();
    await runtime?.stop();
    await emulator?.close();
  });

  it(
    'resumes from its checkpoints after SIGKILL and after a SIGTERM hand-over; the target equals the source exactly',
    async () => {
      extractors.push(await spawnService('extractor', 'extractor-1'));
      const job = await runtime.jobs!.create({
        source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
        target: { address: milvusAddress(), collection: uniqueName('crash_ext') },
      });
      expect(job.status).toBe('IN_PROGRESS');
      expect(job.plan!.source.totalRecords).toBe(DATA.count);

      // Mid-namespace: every namespace has some but not all of its records extracted.
      const before = await waitForJob(
        runtime,
        job.id,
        (v) => v.progress.namespaces.length === 3 && v.progress.namespaces.every((n) => n.extracted >= 500 && n.extracted < n.sourceCount),
        'every namespace partly extracted',
      );
      expect(await groupMembers('p2m.extractors'), SHARED_STACK_HINT).toBe(1);
      const killed = await extractors[0]!.kill('SIGKILL');
      expect(killed.signal).toBe('SIGKILL');
      const atKill = new Map(before.progress.namespaces.map((n) => [n.namespace, n.extracted]));

      // Nothing extracts while the extractor is dead: the job cannot complete on its own.
      await new Promise((r) => setTimeout(r, 2_000));
      const dead = await runtime.jobs!.get(job.id);
      expect(dead.status).toBe('IN_PROGRESS');
      expect(dead.progress.namespaces.every((n) => !n.extractionDone)).toBe(true);

      extractors.push(await spawnService('extractor', 'extractor-2'));
      // Once it resumed and moved on, a graceful hand-over: SIGTERM mid-extraction stops between pages
      // and exits 0 within 10 s, and the next extractor resumes from where it stopped.
      const moving = await waitForJob(
        runtime,
        job.id,
        (v) => v.progress.namespaces.every((n) => n.extracted >= atKill.get(n.namespace)! + 300) && v.progress.namespaces.some((n) => !n.extractionDone),
        'extraction moving again after the restart',
      );
      expect(await stopService(extractors[1]!)).toEqual({ code: 0, signal: null, withinGrace: true });
      const atStop = new Map(moving.progress.namespaces.map((n) => [n.namespace, n.extracted]));
      extractors.push(await spawnService('extractor', 'extractor-3'));

      const done = await waitForStatus(runtime, job.id);
      expect(done.error).toBeUndefined();
      expect(done.status).toBe('SUCCESSFUL');
      expect(done.report!.passed).toBe(true);

      // Each new process resumed every unfinished namespace from its checkpoint, not from the start.
      for (const [proc, from] of [
        [extractors[1]!, atKill],
        [extractors[2]!, atStop],
      ] as const) {
        const resumed = proc.lines.filter((l) => l.msg === 'resuming namespace from its checkpoint');
        expect(resumed.length, `${proc.name} resumed namespaces`).toBeGreaterThan(0);
        expect(new Set(resumed.map((l) => l.namespace)).size).toBe(resumed.length);
        for (const l of resumed) expect(l.recordsPublished as number).toBeGreaterThanOrEqual(from.get(l.namespace as string)!);
      }
      expect(extractors[1]!.lines.filter((l) => l.msg === 'resuming namespace from its checkpoint')).toHaveLength(3);

      for (const ns of done.report!.namespaces) {
        expect(ns.sourceCount, `source count of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
        expect(ns.extracted, `extracted of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
        expect(ns.targetCount, `target count of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
        expect(ns.dlq).toBe(0);
        expect(ns.missing).toBe(0);
      }
      // A page published twice (sent, then the crash before its checkpoint) is counted once.
      expect(done.progress.total).toEqual({ sourceCount: DATA.count, extracted: DATA.count, loaded: DATA.count, failed: 0 });
      expect((await runtime.jobs!.errors(job.id, { limit: 10 })).total).toBe(0);
      await expectTargetEqualsSource(done.plan!, DATA);

      // SIGTERM when idle: exit 0 within 10 s as well.
      const stopped = await stopService(extractors[2]!);
      expect(stopped).toEqual({ code: 0, signal: null, withinGrace: true });
    },
    LONG,
  );
});
