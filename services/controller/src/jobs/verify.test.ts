import { describe, expect, it } from 'vitest';
import { EtlError, type Checkpoint, type JobRecord, type VerificationProgress, type VectorRecord } from '@p2m/core';
import { lookupBatch, lookupsInFlight, reconcileHeadroomMb, verifyJob, type VerifyDeps } from './verify.ts';
import { decodeRecord, load, makeJob, MemoryLog, MemoryTarget, publish, vector, type JobOptions } from './verify/fakes.ts';

function checkpoints(job: JobRecord, published: Record<string, number>): Map<string, Checkpoint> {
  return new Map(
    Object.entries(published).map(([namespace, n]) => [
      namespace,
      { jobId: job.id, namespace, paginationToken: null, recordsPublished: n, pages: 1, done: true },
    ]),
  );
}

interface Setup {
  job: JobRecord;
  log: MemoryLog;
  target: MemoryTarget;
  deps: VerifyDeps;
}

/** A job whose log holds `records` (published as the extractor would), loaded into the target as the loader would. */
async function setup(o: JobOptions, records: VectorRecord[], extra: { samePkPerPartition?: boolean; published?: Record<string, number> } = {}): Promise<Setup> {
  const job = makeJob(o);
  const log = new MemoryLog();
  const target = new MemoryTarget(job.plan, { samePkPerPartition: extra.samePkPerPartition });
  const published = extra.published ?? o.namespaces;
  publish(log, job, records, 3, published);
  await load(log, job, target);
  const deps: VerifyDeps = {
    record: job,
    log,
    sink: target,
    source: null,
    decode: decodeRecord,
    sampleSize: 10,
    random: () => 0.5,
    checkpoints: checkpoints(job, published),
    tuning: { batchSize: 7, inFlight: 2 },
  };
  return { job, log, target, deps };
}

const many = (ns: string, n: number, from = 0): VectorRecord[] => Array.from({ length: n }, (_, i) => vector(ns, `${ns || 'd'}-${i + from}`, i + from));

describe('verifyJob', () => {
  it('passes a job whose target holds every record, and says how it went phase by phase', async () => {
    const { deps, target } = await setup({ namespaces: { '': 40, a: 25 } }, [...many('', 40), ...many('a', 25)]);
    const seen: VerificationProgress[] = [];
    const report = await verifyJob(deps, (p) => seen.push(p));
    expect(report.problems).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.namespaces.map((n) => [n.namespace, n.extracted, n.targetCount, n.missing])).toEqual([
      ['', 40, 40, 0],
      ['a', 25, 25, 0],
    ]);
    expect(report.reconciliation).toMatchObject({
      logRecords: 65,
      distinctRecords: 65,
      duplicateCopies: 0,
      targetRows: 65,
      expectedRows: 65,
      bucketsDrilled: 0,
    });
    expect(report.phases!.map((p) => p.phase)).toEqual(['flush', 'indexes', 'load', 'dlq', 'reconcile', 'settle']);
    expect(target.walks).toBe(0); // the counts agreed: no walk of the target
    expect(target.lookups).toBe(Math.ceil(65 / 7));
    expect([...new Set(seen.map((p) => p.phase))]).toEqual(['flush', 'indexes', 'load', 'dlq', 'reconcile', 'settle']);
    const last = seen.at(-1)!;
    expect(last.recordsChecked).toBe(65);
    expect(last.namespacesDone).toBe(2);
    expect(last.namespaces).toBe(2);
  });

  it('names exactly the records deleted from the target and the one changed in it', async () => {
    const { deps, target } = await setup({ namespaces: { '': 40, a: 25 } }, [...many('', 40), ...many('a', 25)]);
    target.delete('', 'd-3');
    target.delete('', 'd-31');
    target.delete('a', 'a-7');
    target.upsert(vector('a', 'a-20', 99));
    const report = await verifyJob(deps);
    expect(report.passed).toBe(false);
    const missing = report.namespaces.flatMap((n) => n.missingSample.map((id) => `${n.namespace}/${id}`));
    expect(missing.sort()).toEqual(['/d-3', '/d-31', 'a/a-7']);
    expect(report.changed!.map((m) => `${m.namespace}/${m.id}`)).toEqual(['a/a-20']);
    expect(report.changed![0]!.field).toBe('vector');
    expect(report.namespaces.map((n) => [n.namespace, n.missing, n.changed, n.targetCount])).toEqual([
      ['', 2, 0, 38],
      ['a', 1, 1, 24],
    ]);
    expect(report.problems.join('\n')).toMatch(/the default namespace: 2 extracted records are neither in the target nor in the DLQ/);
    expect(report.problems.join('\n')).toMatch(/namespace "a": 1 records in the target differ from their latest copy in the log \(e.g. "a-20"\)/);
  });

  it('asks once more before calling a record missing: a row the target answers late is compared, not lost', async () => {
    const { deps, target } = await setup({ namespaces: { '': 40, a: 25 } }, [...many('', 40), ...many('a', 25)]);
    target.upsert(vector('a', 'a-11', 99)); // changed: found on the second read, then compared
    target.delete('', 'd-5'); // gone: absent from both reads
    const late = new Set(['d-2', 'd-9', 'a-11']);
    const read = target.readByKeys.bind(target);
    target.readByKeys = async (plan, keys) => (await read(plan, keys)).filter((r) => !late.delete(r.id));
    const report = await verifyJob(deps);
    expect(late.size).toBe(0);
    expect(report.reconciliation!.foundOnSecondRead).toBe(3);
    expect(report.advice!.join('\n')).toMatch(/did not return 3 rows at the first lookup/);
    expect(report.namespaces.flatMap((n) => n.missingSample)).toEqual(['d-5']);
    expect(report.changed!.map((m) => `${m.namespace}/${m.id}`)).toEqual(['a/a-11']);
    expect(report.namespaces.map((n) => [n.namespace, n.missing, n.changed])).toEqual([
      ['', 1, 0],
      ['a', 0, 1],
    ]);
  });

  it('takes the latest copy of a record the log holds twice (a page sent again after a crash)', async () => {
    const records = [...many('a', 20)];
    // The page with a-3..a-5 went out twice; a-4 changed at the source in between, and the later copy won.
    const job = makeJob({ namespaces: { a: 20 } });
    const log = new MemoryLog();
    const target = new MemoryTarget(job.plan);
    publish(log, job, [...records, vector('a', 'a-3', 3), vector('a', 'a-4', 44), vector('a', 'a-5', 5)], 2, { a: 20 });
    await load(log, job, target);
    const report = await verifyJob({
      record: job,
      log,
      sink: target,
      source: null,
      decode: decodeRecord,
      sampleSize: 0,
      checkpoints: checkpoints(job, { a: 20 }),
      tuning: { batchSize: 4 },
    });
    expect(report.problems).toEqual([]);
    expect(report.reconciliation).toMatchObject({ logRecords: 23, distinctRecords: 20, duplicateCopies: 3, targetRows: 20 });
    // Had the earlier copy won, the target would differ from the log's last word.
    target.upsert(vector('a', 'a-4', 4));
    const again = await verifyJob({
      record: job,
      log,
      sink: target,
      source: null,
      decode: decodeRecord,
      sampleSize: 0,
      checkpoints: checkpoints(job, { a: 20 }),
    });
    expect(again.changed!.map((m) => m.id)).toEqual(['a-4']);
  });

  it('accounts for dead-lettered records once, however often they were refused', async () => {
    const bad = vector('a', 'bad', 1, { values: Float32Array.from([1, 2]) }); // wrong dimension
    const { deps, log, job, target } = await setup({ namespaces: { a: 11 } }, [...many('a', 10), bad]);
    await load(log, job, target); // a replay refuses it again
    expect(log.dlqEntries(job.id)).toHaveLength(2);
    const report = await verifyJob(deps);
    expect(report.problems).toEqual([]);
    expect(report.namespaces[0]).toMatchObject({ extracted: 11, targetCount: 10, dlq: 1, missing: 0 });
    expect(report.dlqSample.map((e) => e.id)).toEqual(['bad']);
  });

  it('names target rows the log does not hold, drilling only into the buckets that disagree', async () => {
    const { deps, target } = await setup({ namespaces: { a: 30, b: 30 } }, [...many('a', 30), ...many('b', 30)]);
    target.upsert(vector('b', 'intruder', 5));
    const report = await verifyJob({ ...deps, tuning: { ...deps.tuning, maxBuckets: 64 } });
    expect(report.passed).toBe(false);
    expect(report.unexpected).toEqual([{ namespace: 'b', id: 'intruder' }]);
    expect(report.namespaces.find((n) => n.namespace === 'b')).toMatchObject({ unexpected: 1, targetCount: 31 });
    expect(report.reconciliation!.bucketsDrilled).toBe(1);
    expect(report.phases!.map((p) => p.phase)).toContain('unexpected');
    expect(report.problems.join('\n')).toMatch(/namespace "b": the target holds 1 records that were not extracted \(e.g. "intruder"\)/);
  });

  it('finds a missing record and a stranger that balance the row count', async () => {
    const { deps, target } = await setup({ namespaces: { a: 30 } }, many('a', 30));
    target.delete('a', 'a-1');
    target.upsert(vector('a', 'stranger'));
    const report = await verifyJob(deps);
    expect(report.namespaces[0]).toMatchObject({ missing: 1, unexpected: 1, missingSample: ['a-1'] });
    expect(report.unexpected).toEqual([{ namespace: 'a', id: 'stranger' }]);
  });

  it('checks (namespace, id) pairs in namespaceAndId mode: the same id in two namespaces is two rows', async () => {
    const records = [vector('a', 'shared', 1), vector('b', 'shared', 2), ...many('a', 5), ...many('b', 5)];
    const { deps, target } = await setup({ namespaces: { a: 6, b: 6 }, primaryKey: 'namespaceAndId' }, records);
    expect(await target.countRows()).toBe(12);
    const report = await verifyJob(deps);
    expect(report.problems).toEqual([]);
    expect(report.idCollisions).toEqual([]);
    target.delete('b', 'shared');
    const after = await verifyJob(deps);
    // Namespaces with a problem come first in the report.
    expect(after.namespaces.map((n) => [n.namespace, n.missingSample])).toEqual([
      ['b', ['shared']],
      ['a', []],
    ]);
  });

  it('id mode with a partition key: the copy the target lost goes to the DLQ naming both namespaces, and the job passes', async () => {
    const records = [vector('a', 'shared', 1), ...many('a', 5), vector('b', 'shared', 2), ...many('b', 5)];
    const { deps, log, job, target } = await setup({ namespaces: { a: 6, b: 6 } }, records);
    const holder = target.get('a', 'shared')!.namespace; // whichever the loader wrote last
    const lost = holder === 'a' ? 'b' : 'a';
    const report = await verifyJob(deps);
    expect(report.problems).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.idCollisions).toEqual([{ namespace: lost, id: 'shared', heldBy: holder }]);
    expect(report.advice!.join(' ')).toMatch(/target\.primaryKey: "namespaceAndId"/);
    const entries = log.dlqEntries(job.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ namespace: lost, id: 'shared', code: 'ID_COLLISION' });
    expect(entries[0]!.reason).toContain(`namespace "${holder}"`);
    expect(entries[0]!.reason).toContain(`namespace "${lost}"`);
    expect(report.namespaces.find((n) => n.namespace === lost)).toMatchObject({ dlq: 1, collisions: 1, targetCount: 5 });
    // Verified again (a resume): the entry is there already, nothing is written twice, still passes.
    const again = await verifyJob(deps);
    expect(again.passed).toBe(true);
    expect(log.dlqEntries(job.id)).toHaveLength(1);
    expect(again.namespaces.find((n) => n.namespace === lost)).toMatchObject({ dlq: 1, collisions: 1 });
  });

  it('id mode with partitions: a server that keeps one row per partition holds every copy', async () => {
    const records = ['', 'tenant-a', 'Tenant_B.2024'].flatMap((ns) => ['r0', 'r1', 'r2'].map((id, i) => vector(ns, id, i)));
    const { deps } = await setup({ namespaces: { '': 3, 'tenant-a': 3, 'Tenant_B.2024': 3 }, partitionKey: false }, records);
    const report = await verifyJob(deps);
    expect(report.problems).toEqual([]);
    expect(report.idCollisions).toEqual([]);
    expect(report.reconciliation!.targetRows).toBe(9);
  });

  it('id mode with partitions: a server that moves the id to the partition written last loses the other copies to the DLQ', async () => {
    const records = ['x', 'y', 'z'].flatMap((ns) => [vector(ns, 'r0', 0), vector(ns, `own-${ns}`, 1)]);
    const { deps, log, job } = await setup({ namespaces: { x: 2, y: 2, z: 2 }, partitionKey: false }, records, { samePkPerPartition: false });
    const report = await verifyJob(deps);
    expect(report.problems).toEqual([]);
    expect(report.idCollisions!.map((c) => c.id)).toEqual(['r0', 'r0']);
    expect(log.dlqEntries(job.id).map((e) => e.code)).toEqual(['ID_COLLISION', 'ID_COLLISION']);
  });

  it('a record without sparse values equals a NULL or empty sparse row in the target; a zero weight is no entry', async () => {
    const records = [
      vector('', 'no-sparse', 1),
      vector('', 'empty-sparse', 2, { sparse: { indices: [], values: new Float32Array(0) } }),
      vector('', 'with-zero', 3, { sparse: { indices: [5, 9], values: Float32Array.from([0, 0.5]) } }),
    ];
    const { deps, target } = await setup({ namespaces: { '': 3 }, metric: 'dotproduct' }, records);
    expect(deps.record.plan.sparseRows).toBe('nullable');
    target.upsert({ ...target.get('', 'no-sparse')!, sparse: { indices: [], values: new Float32Array(0) } });
    target.upsert({ ...target.get('', 'empty-sparse')!, sparse: null });
    target.upsert({ ...target.get('', 'with-zero')!, sparse: { indices: [9], values: Float32Array.from([0.5]) } });
    const report = await verifyJob(deps);
    expect(report.problems).toEqual([]);
    target.upsert({ ...target.get('', 'with-zero')!, sparse: { indices: [9], values: Float32Array.from([0.25]) } });
    expect((await verifyJob(deps)).changed!.map((m) => [m.id, m.field])).toEqual([['with-zero', 'sparse_vector']]);
  });

  it('without checkpoints (a log written by an older version) the end markers say how many records were published', async () => {
    const { deps } = await setup({ namespaces: { a: 12 } }, many('a', 12));
    const report = await verifyJob({ ...deps, checkpoints: undefined });
    expect(report.problems).toEqual([]);
    expect(report.namespaces[0]).toMatchObject({ extracted: 12, targetCount: 12 });
  });

  it('fails when the extractor published fewer records than the source reported', async () => {
    const { deps } = await setup({ namespaces: { a: 12 } }, many('a', 11), { published: { a: 11 } });
    const report = await verifyJob(deps);
    expect(report.problems).toEqual(['namespace "a": the source reported 12 records but 11 were extracted']);
  });

  it('a replay checks the log alone: no source, no sample, the same reconciliation', async () => {
    const { deps, target } = await setup({ namespaces: { a: 12 }, mode: 'replay' }, many('a', 12));
    target.delete('a', 'a-5');
    const report = await verifyJob(deps);
    expect(report.sample.compared).toBe(0);
    expect(report.namespaces[0]!.missingSample).toEqual(['a-5']);
  });

  it('compares a sample with the source, retrying a rate-limited fetch', async () => {
    const { deps } = await setup({ namespaces: { a: 30 } }, many('a', 30));
    let calls = 0;
    const source = {
      describeIndex: () => Promise.reject(new Error('not used')),
      listNamespaces: async () => [],
      listPage: async () => ({ ids: [], next: null }),
      fetch: async (_ns: string, ids: string[]) => {
        if (calls++ === 0) throw new EtlError('RATE_LIMITED', 'max fetch requests per second limit (100)', { retriable: true });
        return ids.map((id) => {
          const n = Number(id.split('-')[1]);
          return { id, values: [id === 'a-7' ? 70 : n, 2, 3], metadata: { n } };
        });
      },
    };
    const report = await verifyJob({ ...deps, source, sampleSize: 30, policies: { source: { initialDelayMs: 1, maxDelayMs: 2 } } });
    expect(calls).toBeGreaterThan(1);
    expect(report.sample.compared).toBe(30);
    expect(report.sample.mismatches.map((m) => m.id)).toEqual(['a-7']);
    expect(report.passed).toBe(false);
  });

  it('remembers only so many differing records, and says the counts are lower bounds beyond', async () => {
    const { deps, target } = await setup({ namespaces: { a: 20 } }, many('a', 20));
    for (let i = 0; i < 6; i++) target.upsert(vector('a', `a-${i}`, 100 + i));
    const report = await verifyJob({ ...deps, tuning: { ...deps.tuning, maxNamed: 4 } });
    expect(report.namespaces[0]!.changed).toBe(4);
    expect(report.problems.at(-1)).toMatch(/lower bounds/);
  });

  it('100,000 namespaces of two records: batched lookups across namespaces, a report of bounded size', { timeout: 60_000 }, async () => {
    const counts = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`tenant-${i}`, 2]));
    const records = Object.keys(counts).flatMap((ns) => [vector(ns, 'doc-1', 1), vector(ns, 'doc-2', 2)]);
    const { deps, target } = await setup({ namespaces: counts, primaryKey: 'namespaceAndId' }, records);
    target.delete('tenant-77777', 'doc-2');
    // The fakes keep the whole log and target in this process (hundreds of MB live): a heap pacer
    // sized for the controller's own live set would collect all of it every few MB.
    const report = await verifyJob({ ...deps, tuning: { batchSize: 2_048, inFlight: 3, heapHeadroomMb: 256 } });
    expect(target.lookups).toBe(Math.ceil(200_000 / 2_048) + 1); // + the second read of the deleted record
    expect(report.namespacesTotal).toBe(100_000);
    expect(report.namespaces.length).toBe(1 + 1_000); // the one with a problem, then the first 1,000 others
    expect(report.namespaces[0]).toMatchObject({ namespace: 'tenant-77777', missing: 1, missingSample: ['doc-2'] });
    expect(report.reconciliation).toMatchObject({ logRecords: 200_000, targetRows: 199_999, expectedRows: 199_999 });
  });

  it('many namespaces of a few records: one lookup per batch, not per namespace', async () => {
    const counts = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`t${i}`, 2]));
    const records = Object.keys(counts).flatMap((ns) => many(ns, 2));
    const { deps, target } = await setup({ namespaces: counts }, records);
    const report = await verifyJob({ ...deps, tuning: { batchSize: 200 } });
    expect(report.problems).toEqual([]);
    expect(report.namespacesTotal).toBe(300);
    expect(target.lookups).toBe(3);
  });

  it('sizes lookups by row: small rows 2,048 keys, three in flight, 8 MB of headroom; 768-d rows fewer keys, eight in flight, room for them', () => {
    const size = (dimension: number, hasSparse = false) => {
      const plan = { dimension, hasSparse };
      return [lookupBatch(plan), lookupsInFlight(plan), reconcileHeadroomMb(plan)];
    };
    expect(size(8)).toEqual([2_048, 3, 8]);
    expect(size(8, true)).toEqual([2_048, 3, 13]);
    expect(size(768)).toEqual([1_170, 8, 64]);
    expect(size(3_072)).toEqual([327, 8, 64]);
  });
});
