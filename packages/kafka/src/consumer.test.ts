import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EtlError, type ConsumerBatch } from '@p2m/core';
import { KafkaLogConsumer } from './consumer.ts';
import { fakeKafka, type FakeKafkaConsumer } from './fake-kafkajs.ts';

const logger = pino({ level: 'silent' });
const msg = (offset: number, value = `v${offset}`) => ({
  offset: String(offset),
  value: Buffer.from(value),
  key: Buffer.from(`k${offset}`),
  headers: { h: Buffer.from('x') },
});

async function started(onAssignment?: (a: { topic: string; partition: number }[]) => void) {
  const { kafka, consumers } = fakeKafka();
  const consumer = new KafkaLogConsumer({ kafka, logger }, { groupId: 'g', topics: ['t'], fromBeginning: true, onAssignment });
  const batches: ConsumerBatch[] = [];
  let handler: (b: ConsumerBatch) => Promise<void> = async (b) => void batches.push(b);
  const running = consumer.run((b) => handler(b));
  await new Promise((r) => setImmediate(r));
  const fake = consumers[0]! as FakeKafkaConsumer;
  fake.join({ t: [0, 1] });
  return { consumer, fake, batches, running, setHandler: (h: typeof handler) => (handler = h) };
}

describe('KafkaLogConsumer', () => {
  it('runs KafkaJS with autoCommit and eachBatchAutoResolve off', async () => {
    const { fake, consumer, running } = await started();
    expect(fake.runConfig).toMatchObject({ autoCommit: false, eachBatchAutoResolve: false });
    expect(fake.config).toMatchObject({ groupId: 'g', allowAutoTopicCreation: false });
    await consumer.stop();
    await running;
  });

  it('hands the batch over and moves the fetch position only after the handler returned', async () => {
    const { fake, consumer, batches, running } = await started();
    await fake.deliver('t', 1, [msg(5), msg(6)]);
    expect(batches).toHaveLength(1);
    const [b] = batches;
    expect(b!.partition).toBe(1);
    expect(b!.messages.map((m) => [m.offset, m.value?.toString(), m.key?.toString(), m.headers.h])).toEqual([
      ['5', 'v5', 'k5', 'x'],
      ['6', 'v6', 'k6', 'x'],
    ]);
    expect(fake.resolved).toEqual([{ partition: 1, offset: '6' }]);
    expect(fake.commits).toEqual([]); // nothing is committed unless asked
    await consumer.stop();
    await running;
  });

  it('commits with per-partition metadata and resolves once acknowledged', async () => {
    const { fake, consumer, running } = await started();
    await consumer.commit('t', [
      { partition: 0, offset: '7', metadata: '{"records":7}' },
      { partition: 1, offset: '3' },
    ]);
    expect(fake.commits).toEqual([
      { topic: 't', partition: 0, offset: '7', metadata: '{"records":7}' },
      { topic: 't', partition: 1, offset: '3', metadata: null },
    ]);
    await expect(consumer.commit('t', [{ partition: 0, offset: '-1' }])).rejects.toBeInstanceOf(EtlError);
    await consumer.stop();
    await running;
  });

  it('turns a commit KafkaJS silently skipped into a retriable error', async () => {
    const { fake, consumer, running } = await started();
    fake.runnerRunning = false;
    await expect(consumer.commit('t', [{ partition: 0, offset: '1' }])).rejects.toMatchObject({ code: 'TRANSIENT', retriable: true });
    await consumer.stop();
    await running;
  });

  it('a handler error stops the consumer and rejects run; the batch is not resolved', async () => {
    const { fake, running, setHandler } = await started();
    setHandler(async () => {
      throw new EtlError('TARGET_UNAVAILABLE', 'milvus down');
    });
    await fake.deliver('t', 0, [msg(1)]);
    await expect(running).rejects.toMatchObject({ code: 'TARGET_UNAVAILABLE' });
    expect(fake.resolved).toEqual([]);
    expect(fake.disconnected).toBe(true);
  });

  it('stop called inside the handler does not deadlock; the batch turns stale but can still commit', async () => {
    const { fake, consumer, running, setHandler } = await started();
    let staleAfterStop: boolean | null = null;
    setHandler(async (b) => {
      await consumer.stop();
      staleAfterStop = b.isStale();
      await consumer.commit('t', [{ partition: 0, offset: '2' }]);
    });
    await fake.deliver('t', 0, [msg(1)]);
    await running;
    expect(staleAfterStop).toBe(true);
    expect(fake.commits.map((c) => c.offset)).toEqual(['2']);
    expect(fake.resolved).toEqual([]);
    expect(fake.disconnected).toBe(true);
    await expect(consumer.commit('t', [{ partition: 0, offset: '3' }])).rejects.toMatchObject({ retriable: false });
  });

  it('stop from outside waits for the running handler, which may still commit', async () => {
    const { fake, consumer, running, setHandler } = await started();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    setHandler(async () => {
      await gate;
      await consumer.commit('t', [{ partition: 0, offset: '9' }]);
    });
    const delivery = fake.deliver('t', 0, [msg(8)]);
    const stopping = consumer.stop();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release();
    await stopping;
    await delivery;
    await running;
    expect(fake.commits.map((c) => c.offset)).toEqual(['9']);
  });

  it('reports assignments and marks a batch stale when a rebalance took its partition', async () => {
    const seen: { topic: string; partition: number }[][] = [];
    const { fake, consumer, running, setHandler } = await started((a) => seen.push(a));
    expect(seen).toEqual([
      [
        { topic: 't', partition: 0 },
        { topic: 't', partition: 1 },
      ],
    ]);
    const stale: boolean[] = [];
    setHandler(async (b) => {
      stale.push(b.isStale());
      fake.join({ t: [0] }); // partition 1 moves to another member mid-batch
      stale.push(b.isStale());
    });
    await fake.deliver('t', 1, [msg(1)]);
    expect(stale).toEqual([false, true]);
    expect(fake.resolved).toEqual([]);
    await consumer.stop();
    await running;
  });

  it('a heartbeat that meets a rebalance marks the batch stale instead of throwing', async () => {
    const { fake, consumer, running, setHandler } = await started();
    fake.heartbeatError = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    let stale: boolean | null = null;
    setHandler(async (b) => {
      await b.heartbeat();
      stale = b.isStale();
    });
    await fake.deliver('t', 0, [msg(1)]);
    expect(stale).toBe(true);
    await consumer.stop();
    await running;
  });

  it('a commit refused because the group is rebalancing marks the batch stale, so a handler stops retrying it', async () => {
    const { fake, consumer, running, setHandler } = await started();
    fake.commitError = Object.assign(new Error('The group is rebalancing, so a rejoin is needed'), { type: 'REBALANCE_IN_PROGRESS', retriable: true });
    const seen: unknown[] = [];
    setHandler(async (b) => {
      seen.push(b.isStale());
      await consumer.commit('t', [{ partition: 0, offset: '2' }]).catch((err: unknown) => seen.push((err as { retriable?: boolean }).retriable));
      seen.push(b.isStale());
    });
    await fake.deliver('t', 0, [msg(1)]);
    expect(seen).toEqual([false, true, true]);
    expect(fake.resolved).toEqual([]);
    await consumer.stop();
    await running;
  });

  it('lets KafkaJS restart a crashed member only while it runs, never once stopped (kafkajs#1639)', async () => {
    const { fake, consumer, running } = await started();
    const restartOnFailure = (fake.config['retry'] as { restartOnFailure: (e: Error) => Promise<boolean> }).restartOnFailure;
    expect(await restartOnFailure(new Error('broker gone'))).toBe(true);
    await consumer.stop();
    await running;
    expect(await restartOnFailure(new Error('broker gone'))).toBe(false);
  });

  it('while KafkaJS restarts a crashed member, commits fail as retriable; a crash without restart ends run', async () => {
    const { fake, consumer, running } = await started();
    fake.emit(fake.events.CRASH, { error: new Error('broker gone'), restart: true });
    await expect(consumer.commit('t', [{ partition: 0, offset: '1' }])).rejects.toMatchObject({ code: 'TRANSIENT', retriable: true });
    fake.join({ t: [0, 1] });
    await consumer.commit('t', [{ partition: 0, offset: '1' }]);
    fake.emit(fake.events.CRASH, { error: Object.assign(new Error('not authorized'), { name: 'KafkaJSProtocolError', retriable: false }), restart: false });
    await expect(running).rejects.toMatchObject({ code: 'INTERNAL', retriable: false });
  });
});
