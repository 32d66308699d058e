import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, recordsTopic, type JobBoard, type LogAdmin } from '@p2m/core';
import { InMemoryLog } from '@p2m/testing';
import { job } from './decide.fixture.ts';
import { ProgressTracker } from './progress-tracker.ts';

describe("ProgressTracker: a job's records topic deleted outside p2m", () => {
  const record = job({ id: 'job-1', topicJobId: 'job-1' });
  const topic = recordsTopic('job-1');
  let log: InMemoryLog;
  let admin: LogAdmin;
  let tracker: ProgressTracker;
  const calls: string[] = [];

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-05-01T12:00:00.000Z'));
    log = new InMemoryLog();
    const real = log.admin();
    calls.length = 0;
    // Counts what is asked of Kafka: a missing topic must not be asked for its offsets.
    admin = new Proxy(real, {
      get: (target, name: keyof LogAdmin) => {
        const value = target[name];
        return typeof value === 'function'
          ? (...args: unknown[]) => (calls.push(String(name)), (value as (...a: unknown[]) => unknown).apply(target, args))
          : value;
      },
    });
    await real.ensureTopic({ topic, partitions: 2, retentionMs: -1 });
    const board = { checkpoints: new Map() } as unknown as JobBoard;
    tracker = new ProgressTracker({ board, admin: () => admin, logger: createLogger('test', { level: 'silent' }) });
  });
  afterEach(() => vi.useRealTimers());

  it('measures a topic that is there, and lists the topics once for several measurements', async () => {
    expect((await tracker.measure(record)).offsetsKnown).toBe(true);
    expect((await tracker.measure(record)).offsetsKnown).toBe(true);
    expect(tracker.logMissingSince(record)).toBeNull();
    expect(calls.filter((c) => c === 'listTopics')).toHaveLength(1);
    expect(calls.filter((c) => c === 'topicOffsets')).toHaveLength(2);
  });

  it('finds it missing within seconds, since when, without asking for its offsets; and forgets that once it is back', async () => {
    await tracker.measure(record);
    await log.admin().deleteTopic(topic);
    // The list of topics is a few seconds old at most: the deletion shows once it is renewed.
    vi.advanceTimersByTime(5_001);
    const deletedSeen = Date.now();
    calls.length = 0;
    const first = await tracker.measure(record);
    expect(first.offsetsKnown).toBe(false);
    expect(tracker.logMissingSince(record)).toBe(deletedSeen);
    expect(calls).toEqual(['listTopics']);

    vi.advanceTimersByTime(1_500);
    await tracker.measure(record);
    // Still missing: the time it was first found missing is kept, for the grace period.
    expect(tracker.logMissingSince(record)).toBe(deletedSeen);
    expect(calls).not.toContain('topicOffsets');
    expect(calls).not.toContain('groupOffsets');

    await log.admin().ensureTopic({ topic, partitions: 2, retentionMs: -1 });
    vi.advanceTimersByTime(1_500);
    expect((await tracker.measure(record)).offsetsKnown).toBe(true);
    expect(tracker.logMissingSince(record)).toBeNull();
  });

  it('a topic created after the list was read is not taken for a deleted one: the list is read again', async () => {
    const other = job({ id: 'job-2', topicJobId: 'job-2' });
    await tracker.measure(record);
    await log.admin().ensureTopic({ topic: recordsTopic('job-2'), partitions: 2, retentionMs: -1 });
    vi.advanceTimersByTime(1_001);
    expect((await tracker.measure(other)).offsetsKnown).toBe(true);
    expect(tracker.logMissingSince(other)).toBeNull();
    expect(calls.filter((c) => c === 'listTopics')).toHaveLength(2);
  });

  it('topics that cannot be listed leave the offsets to answer, and nothing is called missing', async () => {
    (admin as { listTopics: () => Promise<string[]> }).listTopics = async () => Promise.reject(new Error('Kafka down'));
    expect((await tracker.measure(record)).offsetsKnown).toBe(true);
    expect(tracker.logMissingSince(record)).toBeNull();
  });
});

describe('ProgressTracker: Kafka stops answering for offsets', () => {
  const record = job({ id: 'job-1', topicJobId: 'job-1' });
  const topic = recordsTopic('job-1');
  let down = false;
  let committed = 0;
  // Two partitions of 5 records each; the loader group committed `committed` of partition 0.
  const admin = {
    listTopics: async () => [topic],
    topicOffsets: async () => {
      if (down) throw new Error('KafkaJSNumberOfRetriesExceeded');
      return [0, 1].map((partition) => ({ partition, high: '5', low: '0' }));
    },
    groupOffsets: async () => {
      if (down) throw new Error('KafkaJSNumberOfRetriesExceeded');
      return [{ partition: 0, offset: String(committed), metadata: JSON.stringify({ l: committed - 1, d: 1, ns: { '': { l: committed - 1, d: 1 } } }) }];
    },
  } as unknown as LogAdmin;
  let tracker: ProgressTracker;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-05-01T12:00:00.000Z'));
    down = false;
    committed = 2;
    const board = { checkpoints: new Map() } as unknown as JobBoard;
    tracker = new ProgressTracker({ board, admin: () => admin, logger: createLogger('test', { level: 'silent' }) });
  });
  afterEach(() => vi.useRealTimers());

  it('keeps the last counts Kafka gave, dated, with no rate and no ETA; and measures again once it answers', async () => {
    await tracker.measure(record);
    vi.advanceTimersByTime(2_000);
    committed = 4;
    const answered = Date.now();
    const live = (await tracker.measure(record)).progress;
    expect(live.total).toMatchObject({ loaded: 3, failed: 1 });
    expect(live.recordsPerSecond).toBe(1);
    expect(live.offsetsAt).toBe(live.updatedAt);

    down = true;
    vi.advanceTimersByTime(30_000);
    const silent = await tracker.measure(record);
    expect(silent.offsetsKnown).toBe(false);
    // Not zeros: what was loaded stays loaded, and the view says since when nothing was read.
    expect(silent.progress.total).toMatchObject({ loaded: 3, failed: 1 });
    expect(silent.progress.namespaces.find((n) => n.namespace === '')).toMatchObject({ loaded: 3, failed: 1 });
    expect(silent.progress.consumerLag).toBe(6);
    expect(silent.progress.offsetsAt).toBe(new Date(answered).toISOString());
    expect(silent.progress.updatedAt).toBe(new Date(Date.now()).toISOString());
    expect(silent.progress.recordsPerSecond).toBe(0);
    expect(silent.progress.etaSeconds).toBeNull();
    // A job that ends now (failed, cancelled) keeps these counts as its final progress.
    expect(tracker.current('job-1')?.total.loaded).toBe(3);

    down = false;
    committed = 5;
    vi.advanceTimersByTime(1_000);
    const back = (await tracker.measure(record)).progress;
    expect(back.total).toMatchObject({ loaded: 4, failed: 1 });
    expect(back.offsetsAt).toBe(back.updatedAt);
  });

  it('before Kafka ever answered, the counts are 0 and the view says they were never read', async () => {
    down = true;
    const { progress, offsetsKnown } = await tracker.measure(record);
    expect(offsetsKnown).toBe(false);
    expect(progress.total.loaded).toBe(0);
    expect(progress.offsetsAt).toBeNull();
    expect(progress.etaSeconds).toBeNull();
  });
});

describe('ProgressTracker: finished jobs leave nothing behind', () => {
  it('keeps figures only for the active jobs it is given; a finished job shows its frozen progress', async () => {
    const log = new InMemoryLog();
    const admin = log.admin();
    const board = { checkpoints: new Map() } as unknown as JobBoard;
    const tracker = new ProgressTracker({ board, admin: () => admin, logger: createLogger('test', { level: 'silent' }) });
    const records = Array.from({ length: 50 }, (_, i) => job({ id: `job-${i}`, topicJobId: `job-${i}` }));
    // Half the topics exist; the other half are found missing, which is kept too.
    for (const r of records.slice(0, 25)) await admin.ensureTopic({ topic: recordsTopic(r.id), partitions: 1, retentionMs: -1 });
    for (const r of records) await tracker.measure(r);
    tracker.verificationListener('job-3')({ phase: 'flush', startedAt: '2026-05-01T12:00:00.000Z' } as never);
    expect(tracker.size).toBe(50);
    expect(tracker.logMissingSince(records[40]!)).not.toBeNull();

    const active = records.slice(0, 2);
    tracker.retain(active);
    expect(tracker.size).toBe(2);
    expect(tracker.current('job-1')).toBeDefined();
    expect(tracker.current('job-3')).toBeUndefined();
    expect(tracker.logMissingSince(records[40]!)).toBeNull();

    // The view of a finished job comes from its record, not from what was forgotten.
    const frozen = { ...(await tracker.measure(records[3]!)).progress, recordsPerSecond: 7 };
    tracker.retain(active);
    const finished = { ...records[3]!, status: 'SUCCESSFUL' as const, finalProgress: frozen };
    expect(tracker.forView(finished)).toBe(frozen);
  });
});
