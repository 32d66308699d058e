import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
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
    producers[0]!.failNext.push(
      Object.assign(new Error('out of order'), { name: 'KafkaJSProtocolError', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false }),
    );
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

// ---------------------------------------------------------------------------------------------
// The idempotence the extractor's checkpoints rely on ("acknowledged means in the log"), shown with
// KafkaJS's own producer code (sequence numbers, broker lock, retries) against a broker that
// deduplicates like Kafka: per producer id and partition, a batch whose sequence numbers repeat
// one of the last ones is acknowledged and not written again.

const requireKafkaJs = createRequire(import.meta.url);
const createKafkaJsProducer = requireKafkaJs('kafkajs/src/producer/index.js') as (options: Record<string, unknown>) => Producer;
const { createLogger: createKafkaJsLogger, LEVELS } = requireKafkaJs('kafkajs/src/loggers/index.js') as {
  createLogger: (options: Record<string, unknown>) => unknown;
  LEVELS: Record<string, number>;
};
type KafkaJsErrorClass = new (message: string | Record<string, unknown>, options?: Record<string, unknown>) => Error;
const { KafkaJSConnectionError, KafkaJSProtocolError } = requireKafkaJs('kafkajs/src/errors.js') as {
  KafkaJSConnectionError: KafkaJsErrorClass;
  KafkaJSProtocolError: KafkaJsErrorClass;
};

interface ProduceRequest {
  producerId: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence: number; messages: { value: Buffer | null }[] }[] }[];
}

class DeduplicatingBroker {
  readonly nodeId = 1;
  /** What partition 0 holds, in order. */
  readonly log: string[] = [];
  /** The next produce requests that are written but whose answer is lost on the way back. */
  loseAnswers = 0;
  #nextProducerId = 1000;
  readonly #sequences = new Map<number, { next: number; recent: { first: number; last: number }[] }>();

  async initProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    return { producerId: this.#nextProducerId++, producerEpoch: 0 };
  }

  async produce({ producerId, topicData }: ProduceRequest): Promise<unknown> {
    await new Promise((r) => setTimeout(r, 2)); // a network round trip: other sends may queue up
    for (const { partitions } of topicData) {
      for (const { firstSequence, messages } of partitions) {
        const state = this.#sequences.get(producerId) ?? { next: 0, recent: [] };
        this.#sequences.set(producerId, state);
        const last = firstSequence + messages.length - 1;
        if (firstSequence === state.next) {
          this.log.push(...messages.map((m) => m.value!.toString()));
          state.next = last + 1;
          state.recent = [...state.recent, { first: firstSequence, last }].slice(-5);
        } else if (!state.recent.some((b) => b.first === firstSequence && b.last === last)) {
          throw new KafkaJSProtocolError({ type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', code: 45, retriable: false, message: 'out of order sequence number' });
        } // else: a duplicate of a batch already written, acknowledged without writing it again
      }
    }
    if (this.loseAnswers > 0) {
      this.loseAnswers--;
      throw new KafkaJSConnectionError('Connection closed before the answer arrived');
    }
    return {
      topics: topicData.map((t) => ({
        topicName: t.topic,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' })),
      })),
    };
  }
}

/** A `Kafka` whose producers are KafkaJS's own producer code talking to `broker` (one partition). */
function kafkaJsAgainst(broker: DeduplicatingBroker): Kafka {
  const cluster = {
    retry: { retries: 3, initialRetryTime: 5, maxRetryTime: 20 },
    targetTopics: new Set<string>(),
    isConnected: () => true,
    connect: async () => undefined,
    disconnect: async () => undefined,
    refreshMetadata: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    addMultipleTargetTopics: async () => undefined,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () => [{ partitionId: 0, leader: broker.nodeId, replicas: [1], isr: [1] }],
    findLeaderForPartitions: (_topic: string, partitions: string[]) => ({ [broker.nodeId]: partitions.map(Number) }),
    findBroker: async () => broker,
    findControllerBroker: async () => broker,
  };
  const logger = createKafkaJsLogger({ level: LEVELS.NOTHING, logCreator: () => () => undefined });
  return {
    producer: (config: Record<string, unknown>) =>
      createKafkaJsProducer({ cluster, logger, retry: cluster.retry, idempotent: config.idempotent, createPartitioner: config.createPartitioner }),
  } as unknown as Kafka;
}

/** One request and the retries of the cluster above. */
const KAFKAJS_ATTEMPTS = 4;
const batch = (prefix: string) => [1, 2, 3].map((i) => ({ key: null, value: Buffer.from(`${prefix}${i}`) }));
const count = (log: string[], value: string) => log.filter((v) => v === value).length;

describe('KafkaLogProducer: acknowledged means in the log (KafkaJS producer, deduplicating broker)', () => {
  it('KafkaJS alone: a concurrent send reuses the sequence numbers of a failed request and is acknowledged but dropped', async () => {
    const broker = new DeduplicatingBroker();
    const producer = kafkaJsAgainst(broker).producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    broker.loseAnswers = 1; // "a" is written, its answer is lost, KafkaJS retries it
    await Promise.all([producer.send({ topic: 't', acks: -1, messages: batch('a') }), producer.send({ topic: 't', acks: -1, messages: batch('b') })]);
    expect(count(broker.log, 'b1')).toBe(0); // acknowledged, never written
  });

  it('KafkaJS alone: after it gives up, the next send on the same producer is acknowledged but dropped', async () => {
    const broker = new DeduplicatingBroker();
    const producer = kafkaJsAgainst(broker).producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    broker.loseAnswers = KAFKAJS_ATTEMPTS; // every attempt: the send fails, though its first request was written
    await expect(producer.send({ topic: 't', acks: -1, messages: batch('a') })).rejects.toThrow();
    await producer.send({ topic: 't', acks: -1, messages: batch('c') });
    expect(count(broker.log, 'c1')).toBe(0);
  });

  it('with concurrent sends and a lost answer, every acknowledged message is in the log, in order', async () => {
    const broker = new DeduplicatingBroker();
    const producer = new KafkaLogProducer({ kafka: kafkaJsAgainst(broker), logger, topicExists: async () => true });
    broker.loseAnswers = 1;
    await Promise.all([producer.send('t', batch('a')), producer.send('t', batch('b')), producer.send('t', batch('c'))]);
    expect(broker.log).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'c1', 'c2', 'c3']);
    await producer.close();
  });

  it('when a send fails for good, the sends queued behind it and its retry use a new producer id: written again, never skipped', async () => {
    const broker = new DeduplicatingBroker();
    const producer = new KafkaLogProducer({ kafka: kafkaJsAgainst(broker), logger, topicExists: async () => true });
    broker.loseAnswers = KAFKAJS_ATTEMPTS;
    const [a, b] = await Promise.allSettled([producer.send('t', batch('a')), producer.send('t', batch('b'))]);
    expect(a).toMatchObject({ status: 'rejected', reason: { retriable: true } });
    expect(b.status).toBe('fulfilled');
    await producer.send('t', batch('a')); // what the extractor does with a page whose send failed
    for (const v of ['a1', 'a2', 'a3']) expect(count(broker.log, v)).toBe(2); // once lost-answer, once retried
    for (const v of ['b1', 'b2', 'b3']) expect(count(broker.log, v)).toBe(1);
    await producer.close();
  });
});
