import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EtlError } from '@p2m/core';
import { fakeKafka } from './fake-kafkajs.ts';
import { KafkaLogProducer } from './producer.ts';

const logger = pino({ level: 'silent' });

function make(existing = ['t'], maxRequestBytes?: number) {
  const { kafka, producers } = fakeKafka();
  const producer = new KafkaLogProducer({ kafka, logger, topicExists: async (t) => existing.includes(t), maxRequestBytes });
  return { producer, producers };
}

describe('KafkaLogProducer', () => {
  it('is idempotent with acks=all and one request in flight', async () => {
    const { producer, producers } = make();
    await producer.send('t', [{ key: 'a', value: Buffer.from('1') }]);
    expect(producers[0]!.config).toMatchObject({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    expect(producers[0]!.sends[0]).toMatchObject({ topic: 't', acks: -1 });
    await producer.close();
    expect(producers[0]!.disconnected).toBe(true);
  });

  it('cuts a large send into requests under the byte limit, in order', async () => {
    const { producer, producers } = make(['t'], 10_000);
    const messages = Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(3_000, i) }));
    await producer.send('t', messages);
    const sends = producers[0]!.sends;
    expect(sends.length).toBeGreaterThan(5);
    expect(sends.flatMap((s) => s.messages.map((m) => m.key))).toEqual(messages.map((m) => m.key));
    for (const s of sends) expect(s.messages.length).toBeLessThanOrEqual(3);
  });

  it('refuses a topic that does not exist instead of retrying forever', async () => {
    const { producer } = make([]);
    await expect(producer.send('missing', [{ key: 'a', value: null }])).rejects.toMatchObject({ code: 'INTERNAL', retriable: false });
  });

  it('maps a connection failure to a retriable error, and the next send uses a new producer id', async () => {
    const { producer, producers } = make();
    await producer.send('t', [{ key: 'a', value: null }]);
    producers[0]!.failNext.push(Object.assign(new Error('Connection error: ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true }));
    await expect(producer.send('t', [{ key: 'b', value: null }])).rejects.toMatchObject({ code: 'TRANSIENT', retriable: true });
    expect(producers[0]!.disconnected).toBe(true);
    await producer.send('t', [{ key: 'b', value: null }]);
    expect(producers).toHaveLength(2);
  });

  it('starts a fresh idempotent producer after its sequence state is lost', async () => {
    const { producer, producers } = make();
    await producer.send('t', [{ key: 'a', value: null }]);
    producers[0]!.failNext.push(Object.assign(new Error('out of order'), { name: 'KafkaJSProtocolError', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false }));
    const err = await producer.send('t', [{ key: 'b', value: null }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).retriable).toBe(true);
    expect(producers[0]!.disconnected).toBe(true);
    await producer.send('t', [{ key: 'b', value: null }]);
    expect(producers).toHaveLength(2);
    expect(producers[1]!.sends).toHaveLength(1);
  });

  it('refuses to send after close', async () => {
    const { producer } = make();
    await producer.close();
    await expect(producer.send('t', [{ key: 'a', value: null }])).rejects.toBeInstanceOf(EtlError);
  });
});
