import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { kafkajsModuleInUse, kafkajsOriginal } from './kafkajs-module.fixture.ts';
import {
  encodeProducePayload,
  frameRequest,
  leanEncodable,
  leanProduceRequest,
  type ProduceMessage,
  type ProduceRequest,
  type ProduceRequestArgs,
  type ProduceRequestFactory,
  type TopicData,
} from './produce-encoder.ts';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: string | number): unknown };
const { Types: Compression } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { GZIP: number } };
const metadataRequest = require('kafkajs/src/protocol/requests/metadata/v6/request.js') as (args: object) => ProduceRequest;

const originalProduce = kafkajsOriginal<ProduceRequestFactory>('kafkajs/src/protocol/requests/produce/v3/request.js');
const originalFrame = kafkajsOriginal<(args: object) => Promise<{ buffer: Buffer }>>('kafkajs/src/protocol/request.js');

const text = (n: number): string => 'ünïcødé-'.repeat(Math.ceil(n / 8)).slice(0, n);

/** Messages of every shape KafkaJS takes from p2m: Buffer and string keys and values, nulls, headers. */
function messages(count: number, valueBytes: number, seed: number): ProduceMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const m: ProduceMessage = {
      key: i % 5 === 0 ? null : i % 2 ? Buffer.from(`ns\u0000id-${seed}-${i}`) : `key-${i}-${text(i % 40)}`,
      value: i % 7 === 3 ? null : i % 3 ? randomBytes(valueBytes + (i % 13)) : text(valueBytes % 500),
    };
    if (i % 4 === 1) m.headers = { 'p2m-error': `reason ${text(i % 30)}`, raw: Buffer.from([i & 0xff, 0, 255]) };
    if (i % 6 === 2) m.headers = { multi: ['a', Buffer.from('b'), text(200)], empty: '' };
    return m;
  });
}

function topicData(): TopicData[] {
  return [
    {
      topic: 'p2m.records.20261207-abc',
      partitions: [
        { partition: 0, firstSequence: 0, messages: messages(3, 3185, 1) },
        { partition: 5, firstSequence: 123_456, messages: messages(300, 3185, 2) },
      ],
    },
    { topic: 'p2m.dlq.ünï', partitions: [{ partition: 2, firstSequence: 2 ** 31 - 1, messages: messages(70, 40_000, 3) }] },
  ];
}

const CASES: [string, ProduceRequestArgs][] = [
  [
    'idempotent, acks all (what p2m sends)',
    { acks: -1, timeout: 30_000, producerId: Long.fromValue('4611686018427387905'), producerEpoch: 7, topicData: topicData() },
  ],
  ['no producer id, acks 1', { acks: 1, timeout: 1_000, topicData: topicData() }],
  ['transactional', { acks: -1, timeout: 30_000, transactionalId: 'tx-ünï', producerId: Long.fromValue(42), producerEpoch: 1, topicData: topicData() }],
  ['one message', { acks: -1, timeout: 30_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ key: null, value: null }] }] }] }],
];

describe('the produce encoder', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-12-07T23:10:00.123Z'));
  });
  afterEach(() => vi.useRealTimers());

  for (const [name, args] of CASES) {
    it(`writes KafkaJS's bytes, byte for byte: ${name}`, async () => {
      expect(leanEncodable(args)).toBe(true);
      const want = (await originalProduce(args).encode()).buffer;
      expect(encodeProducePayload(args).equals(want)).toBe(true);
      const lean = leanProduceRequest(originalProduce)(args);
      expect((await lean.encode()).buffer.equals(want)).toBe(true);
      expect({ apiKey: lean.apiKey, apiVersion: lean.apiVersion }).toEqual({ apiKey: 0, apiVersion: 3 });
    });
  }

  it('a different clock, a different batch: the test compares what it claims to', async () => {
    const args = CASES[0]![1];
    const want = (await originalProduce(args).encode()).buffer;
    expect(encodeProducePayload(args, Date.now() + 1).equals(want)).toBe(false);
  });

  it('leaves compressed requests and messages with their own timestamps to KafkaJS', async () => {
    const compressed: ProduceRequestArgs = { ...CASES[0]![1], compression: Compression.GZIP };
    const stamped: ProduceRequestArgs = {
      acks: -1,
      timeout: 1_000,
      topicData: [
        {
          topic: 't',
          partitions: [
            {
              partition: 0,
              messages: [
                { key: 'k', value: 'v', timestamp: '1765000000000' },
                { key: 'k2', value: 'v2' },
              ],
            },
          ],
        },
      ],
    };
    for (const args of [compressed, stamped]) {
      expect(leanEncodable(args)).toBe(false);
      const lean = leanProduceRequest(originalProduce)(args);
      expect((await lean.encode()).buffer.equals((await originalProduce(args).encode()).buffer)).toBe(true);
    }
  });

  it('frames any request as KafkaJS does, with or without a client id', async () => {
    const requests = [originalProduce(CASES[0]![1]), metadataRequest({ topics: ['a', 'b'], allowAutoTopicCreation: false })];
    for (const request of requests) {
      for (const clientId of ['p2m-extractor', null]) {
        const want = (await originalFrame({ correlationId: 2 ** 31 - 3, clientId, request })).buffer;
        const got = (await frameRequest({ correlationId: 2 ** 31 - 3, clientId, request })).buffer;
        expect(got.equals(want)).toBe(true);
      }
    }
  });

  it('is what KafkaJS frames requests and encodes produce requests with once @p2m/kafka is loaded, under plain node', () => {
    const framing = kafkajsModuleInUse('kafkajs/src/protocol/request.js');
    expect(framing.status, framing.stderr).toBe(0);
    expect(framing.name).toBe('frameRequest');
    const produce = kafkajsModuleInUse('kafkajs/src/protocol/requests/produce/v3/request.js');
    expect(produce.status, produce.stderr).toBe(0);
    expect(produce.name).toBe('lean');
  });
});
