// Poison records: ids longer than the target's max_length. They can never load, so each lands in
// the job's DLQ with its reason, everything else loads exactly, the report names them, and the job
// is SUCCESSFUL because every extracted record is accounted for (loaded or dead-lettered).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedCounts, generateRecords, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import type { Runtime } from '@p2m/cli';
import { API_KEY, expectTargetEqualsSource, milvusAddress, startPipeline, startSeededEmulator, uniqueName, waitForStatus } from './pipeline-harness.ts';

// Dense only, with the generator's edge cases: a 512-char id, ids full of punctuation and of URL
// syntax, and regular ids (doc-N#chunk-M) that stay well under the limit.
const DATA: GeneratorOptions = { seed: 61, count: 6_000, dim: 16, namespaces: 3 };
const MAX_ID_LENGTH = 24;
const COUNTS = expectedCounts(DATA);
const INDEX = 'poison-src';

/** Milvus's rule, stated independently of the code under test: a VARCHAR holds max_length bytes. */
const POISON = new Map<string, { namespace: string; id: string; bytes: number }>();
for (const r of generateRecords(DATA)) {
  const bytes = Buffer.byteLength(r.id, 'utf8');
  if (bytes > MAX_ID_LENGTH) POISON.set(`${r.namespace}\u0000${r.id}`, { namespace: r.namespace, id: r.id, bytes });
}
const key = (e: { namespace: string; id: string }): string => `${e.namespace}\u0000${e.id}`;

describe('poison records (ids longer than target.maxIdLength)', () => {
  let emulator: Emulator;
  let runtime: Runtime;

  beforeAll(async () => {
    emulator = await startSeededEmulator(INDEX, DATA);
    runtime = await startPipeline({ controller: {}, extractor: true, loaders: 2 });
  });
  afterAll(async () => {
    await runtime?.stop();
    await emulator?.close();
  });

  it('the dataset has poison records in more than one namespace', () => {
    expect(POISON.size).toBeGreaterThanOrEqual(3);
    expect([...POISON.values()].some((p) => p.bytes === 512)).toBe(true);
    expect(new Set([...POISON.values()].map((p) => p.namespace)).size).toBeGreaterThan(1);
  });

  it('they land in the DLQ with reasons, the rest loads exactly, the report names them, the job succeeds', async () => {
    const job = await runtime.jobs!.create({
      source: { apiKey: API_KEY, index: INDEX, controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('poison'), maxIdLength: MAX_ID_LENGTH },
    });
    expect(job.plan!.maxIdLength).toBe(MAX_ID_LENGTH);
    const done = await waitForStatus(runtime, job.id);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCESSFUL');
    expect(done.report!.passed).toBe(true);

    // GET errors: exactly the poison records, each with its reason.
    const page = await runtime.jobs!.errors(job.id, { limit: 1000 });
    expect(page.total).toBe(POISON.size);
    expect(page.next).toBeNull();
    expect(new Set(page.entries.map(key))).toEqual(new Set(POISON.keys()));
    for (const e of page.entries) {
      const bytes = POISON.get(key(e))!.bytes;
      expect(e.code).toBe('RECORD_INVALID');
      expect(e.reason).toBe(`the id is ${bytes} bytes, longer than max_length ${MAX_ID_LENGTH} of field "id" (raise target.maxIdLength to at least ${bytes})`);
      expect(e.source).toMatch(/^\d+:\d+$/);
    }
    // Paging walks the same entries.
    const first = await runtime.jobs!.errors(job.id, { limit: 1 });
    expect(first.entries).toHaveLength(1);
    expect(first.next).toBe('1');

    // The report: per-namespace DLQ counts, the sample names them, counts add up.
    const report = done.report!;
    expect(new Set(report.dlqSample.map(key))).toEqual(new Set(POISON.keys()));
    for (const ns of report.namespaces) {
      const dead = [...POISON.values()].filter((p) => p.namespace === ns.namespace).length;
      expect(ns.extracted, `extracted of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]);
      expect(ns.dlq, `dlq of "${ns.namespace}"`).toBe(dead);
      expect(ns.targetCount, `target count of "${ns.namespace}"`).toBe(COUNTS[ns.namespace]! - dead);
      expect(ns.missing).toBe(0);
      expect(ns.ok).toBe(true);
    }
    expect(done.progress.total.failed).toBe(POISON.size);
    expect(done.progress.total.loaded).toBe(DATA.count - POISON.size);

    await expectTargetEqualsSource(done.plan!, DATA, new Set(POISON.keys()));
  });
});
