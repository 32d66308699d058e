import { describe, expect, it } from 'vitest';
import { JobBoard, mergeJob } from './board.ts';
import { jsonStateCodec, type Checkpoint, type JobRecord, type WorkerStatus } from './job-record.ts';
import type { IncomingMessage, LogClient, OutgoingMessage } from './ports.ts';
import { CHECKPOINTS_TOPIC, JOBS_TOPIC } from './topics.ts';

/** A log that keeps every message; enough for the board, which only appends and reads. */
function memoryLog(): LogClient & { messages: IncomingMessage[] } {
  const messages: IncomingMessage[] = [];
  const tails: { topic: string; handler: (m: IncomingMessage) => Promise<void> | void }[] = [];
  const append = (topic: string, m: OutgoingMessage): IncomingMessage => {
    const msg: IncomingMessage = {
      topic,
      partition: 0,
      offset: String(messages.length),
      key: m.key === null ? null : Buffer.from(m.key),
      value: m.value,
      headers: {},
      timestamp: '0',
    };
    messages.push(msg);
    return msg;
  };
  return {
    messages,
    producer: () => ({
      async send(topic, batch) {
        for (const m of batch) {
          const msg = append(topic, m);
          for (const t of tails) if (t.topic === topic) await t.handler(msg);
        }
      },
      async close() {},
    }),
    consumer: () => {
      throw new Error('not used');
    },
    admin: () => {
      throw new Error('not used');
    },
    readTopicToEnd: async (topic) => messages.filter((m) => m.topic === topic),
    scanToEnd: async (topic, handler) => {
      for (const m of messages.filter((x) => x.topic === topic)) await handler(m);
    },
    // As the Kafka tail: what the topic holds first (resolving once seen), then what comes.
    tail: async (topic, handler) => {
      for (const m of messages.filter((x) => x.topic === topic)) await handler(m);
      const t = { topic, handler };
      tails.push(t);
      return { stop: async () => void tails.splice(tails.indexOf(t), 1) };
    },
  };
}

const job = (over: Partial<JobRecord> = {}): JobRecord =>
  ({
    id: 'j1',
    status: 'IN_PROGRESS',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:01.000Z',
    generation: 1,
    mode: 'extract',
    topicJobId: 'j1',
    sealedSecrets: 'v1.x.y.z',
    ...over,
  }) as JobRecord;

describe('JobBoard', () => {
  it('rebuilds jobs, checkpoints and worker states from the topics, the last value winning', async () => {
    const log = memoryLog();
    const writer = new JobBoard(log, jsonStateCodec);
    await writer.start();
    await writer.putJob(job());
    await writer.putJob(job({ status: 'VERIFYING', updatedAt: '2026-01-01T00:00:02.000Z' }));
    const cp: Checkpoint = { jobId: 'j1', namespace: '', paginationToken: 't', recordsPublished: 100, pages: 1, done: false };
    await writer.putCheckpoint(cp);
    await writer.putCheckpoint({ ...cp, paginationToken: null, recordsPublished: 150, pages: 2, done: true });
    const w: WorkerStatus = {
      jobId: 'j1',
      role: 'loader',
      workerId: 'w1',
      generation: 1,
      state: 'failed',
      error: { code: 'X', message: 'm' },
      at: '2026-01-01T00:00:03.000Z',
    };
    await writer.putWorkerStatus(w, 'worker/j1/loader/w1');

    const reader = new JobBoard(log, jsonStateCodec);
    await reader.start();
    expect(reader.jobs.get('j1')?.status).toBe('VERIFYING');
    expect(reader.checkpoints.get('j1')?.get('')).toMatchObject({ recordsPublished: 150, done: true });
    expect(reader.workers.get('j1')?.get('loader/w1')?.error?.code).toBe('X');
    expect(log.messages.filter((m) => m.topic === JOBS_TOPIC)).toHaveLength(2);
    expect(log.messages.filter((m) => m.topic === CHECKPOINTS_TOPIC)).toHaveLength(3);
  });

  it('reads what the topics hold once at start (not to the end and then again from the beginning), checkpoints before jobs', async () => {
    const log = memoryLog();
    const writer = new JobBoard(log, jsonStateCodec);
    await writer.start();
    await writer.putJob(job());
    const cp: Checkpoint = { jobId: 'j1', namespace: '', paginationToken: 't', recordsPublished: 100, pages: 1, done: false };
    for (let page = 1; page <= 5; page++) await writer.putCheckpoint({ ...cp, namespace: `ns${page % 2}`, pages: page });
    await writer.stop();

    const reader = new JobBoard(log, jsonStateCodec);
    const seen: string[] = [];
    reader.on('checkpoint', (c: Checkpoint) => seen.push(`checkpoint ${c.namespace} ${c.pages}`));
    reader.on('job', (j: JobRecord) => seen.push(`job ${j.id} with ${reader.checkpoints.get(j.id)?.size ?? 0} namespaces checkpointed`));
    await reader.start();
    expect([...seen]).toEqual([
      'checkpoint ns1 1',
      'checkpoint ns0 2',
      'checkpoint ns1 3',
      'checkpoint ns0 4',
      'checkpoint ns1 5',
      'job j1 with 2 namespaces checkpointed',
    ]);
    // And it follows on: another writer's checkpoint reaches it.
    await writer.putCheckpoint({ ...cp, namespace: 'ns0', pages: 6 });
    expect(seen.slice(6)).toEqual(['checkpoint ns0 6']);
  });

  it('keeps the newer record when an older one arrives late, and forgets a tombstoned job', async () => {
    const log = memoryLog();
    const board = new JobBoard(log, jsonStateCodec);
    await board.start();
    await board.putJob(job({ status: 'SUCCESSFUL', updatedAt: '2026-01-01T00:00:09.000Z' }));
    await board.putJob(job({ status: 'IN_PROGRESS', updatedAt: '2026-01-01T00:00:05.000Z' }));
    expect(board.jobs.get('j1')?.status).toBe('SUCCESSFUL');
    await log.producer().send(JOBS_TOPIC, [{ key: 'j1', value: null }]);
    expect(board.jobs.has('j1')).toBe(false);
  });
});

describe('JobBoard: a cancel request is never lost to a racing write', () => {
  const cancelling = job({ status: 'CANCELLING', cancelRequestedAt: '2026-01-01T00:00:02.000Z', updatedAt: '2026-01-01T00:00:02.000Z' });
  // The owner's write from the record it read before the cancel arrived: newer, without the request.
  const stale = job({ status: 'VERIFYING', updatedAt: '2026-01-01T00:00:03.000Z' });

  it("whichever of the two arrives first, every board ends CANCELLING with the newer write's other fields", async () => {
    for (const order of [
      [cancelling, stale],
      [stale, cancelling],
    ]) {
      const log = memoryLog();
      const writer = new JobBoard(log, jsonStateCodec);
      await writer.start();
      const reader = new JobBoard(log, jsonStateCodec);
      await reader.start();
      for (const r of order) await writer.putJob(r);
      for (const board of [writer, reader]) {
        const got = board.jobs.get('j1')!;
        expect([got.status, got.cancelRequestedAt, got.updatedAt]).toEqual(['CANCELLING', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z']);
      }
      // A board started later replays the topic to the same record.
      const late = new JobBoard(log, jsonStateCodec);
      await late.start();
      expect(late.jobs.get('j1')!.status).toBe('CANCELLING');
    }
  });

  it('a job that ended meanwhile keeps its end, and a resumed run (a new generation) starts without the request', () => {
    expect(mergeJob(cancelling, job({ status: 'SUCCESSFUL', updatedAt: '2026-01-01T00:00:04.000Z' })).status).toBe('SUCCESSFUL');
    expect(mergeJob(cancelling, job({ status: 'FAILED', updatedAt: '2026-01-01T00:00:04.000Z' })).status).toBe('FAILED');
    const cancelled = { ...cancelling, status: 'CANCELLED' as const };
    const resumed = job({ status: 'IN_PROGRESS', generation: 2, updatedAt: '2026-01-01T00:00:05.000Z' });
    expect(mergeJob(cancelled, resumed)).toBe(resumed);
    expect(mergeJob(resumed, cancelled)).toBe(resumed);
    // Without a cancel request on either side, the newer write simply wins.
    expect(mergeJob(job({ status: 'IN_PROGRESS' }), stale)).toBe(stale);
  });
});

describe('JobBoard with unreadable values', () => {
  it('skips and reports a value it cannot decode instead of stopping', async () => {
    const log = memoryLog();
    await log.producer().send(JOBS_TOPIC, [{ key: 'bad', value: Buffer.from('not json') }]);
    const board = new JobBoard(log, jsonStateCodec);
    const seen: unknown[] = [];
    board.on('unreadable', (info) => seen.push(info));
    await board.start();
    await board.putJob(job());
    expect(seen).toHaveLength(1);
    expect(board.jobs.has('j1')).toBe(true);
    expect(board.jobs.has('bad')).toBe(false);
  });
});
