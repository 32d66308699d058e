import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { IncomingMessage } from '@p2m/core';
import { etlErrorOf } from '@p2m/testing';
import type { KafkaLogAdmin } from './admin.ts';
import { fakeKafka, type FakeKafkaConsumer } from './fake-kafkajs.ts';
import { scanToEnd, tail, type ReaderDeps } from './reader.ts';

const logger = pino({ level: 'silent' });
const STALL_MS = 120;

/** A topic of one partition holding offsets 0..high-1; the fake consumer delivers only what a test hands it. */
function deps(high: number) {
  const { kafka, consumers } = fakeKafka();
  const admin = {
    topicExists: async () => true,
    topicOffsets: async () => [{ partition: 0, low: '0', high: String(high) }],
    deleteGroup: async () => undefined,
  } as unknown as KafkaLogAdmin;
  const readerDeps: ReaderDeps = { kafka, admin, logger, stallMs: STALL_MS };
  const consumer = async (): Promise<FakeKafkaConsumer> => {
    for (let i = 0; i < 100 && !consumers[0]?.eachBatch; i++) await new Promise((r) => setTimeout(r, 5));
    return consumers[0]!;
  };
  return { readerDeps, consumers, consumer };
}

const msgs = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ offset: String(from + i), value: Buffer.from(`v${from + i}`) }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reading a topic to its end without waiting forever', () => {
  it('scanToEnd fails retriable, naming the topic, when its partitions never come', async () => {
    const { readerDeps } = deps(5);
    const t0 = Date.now();
    const err = await etlErrorOf(scanToEnd(readerDeps, 'p2m.records.j1', () => undefined));
    expect(err.code).toBe('LOG_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.message).toContain('"p2m.records.j1"');
    expect(err.message).toContain('1 partition(s) still to read');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('scanToEnd fails when a partition goes silent half way, and disconnects', async () => {
    const { readerDeps, consumer } = deps(10);
    const seen: IncomingMessage[] = [];
    const scan = scanToEnd(readerDeps, 't', (m) => void seen.push(m));
    const fake = await consumer();
    await fake.deliver('t', 0, msgs(0, 4));
    const err = await etlErrorOf(scan);
    expect(err.code).toBe('LOG_UNAVAILABLE');
    expect(seen).toHaveLength(4);
    expect(fake.disconnected).toBe(true);
  });

  it('a handler slower than the stall limit is not a stall', async () => {
    const { readerDeps, consumer } = deps(3);
    const seen: string[] = [];
    const scan = scanToEnd(readerDeps, 't', async (m) => {
      await sleep(STALL_MS * 2);
      seen.push(m.offset);
    });
    const fake = await consumer();
    await fake.deliver('t', 0, msgs(0, 3));
    await scan;
    expect(seen).toEqual(['0', '1', '2']);
  });

  it('fails too when KafkaJS never finishes connecting', async () => {
    const { readerDeps } = deps(5);
    const kafka = readerDeps.kafka as unknown as { consumer: (c: Record<string, unknown>) => FakeKafkaConsumer };
    const make = kafka.consumer;
    kafka.consumer = (config) => Object.assign(make(config), { connect: () => new Promise<void>(() => undefined) });
    const err = await etlErrorOf(scanToEnd(readerDeps, 't', () => undefined));
    expect(err.code).toBe('LOG_UNAVAILABLE');
  });

  it("a tail's catch-up fails when nothing arrives", async () => {
    const { readerDeps } = deps(5);
    const err = await etlErrorOf(tail(readerDeps, 'p2m.jobs', () => undefined));
    expect(err.code).toBe('LOG_UNAVAILABLE');
    expect(err.message).toContain('catching up with "p2m.jobs"');
  });

  it('a caught-up tail may stay quiet for longer than the stall limit', async () => {
    const { readerDeps, consumer } = deps(2);
    const seen: string[] = [];
    const following = tail(readerDeps, 'p2m.jobs', (m) => void seen.push(m.offset));
    const fake = await consumer();
    await fake.deliver('p2m.jobs', 0, msgs(0, 2));
    const t = await following;
    await sleep(STALL_MS * 3);
    await fake.deliver('p2m.jobs', 0, msgs(2, 3));
    expect(seen).toEqual(['0', '1', '2']);
    await t.stop();
    expect(fake.disconnected).toBe(true);
  });
});
