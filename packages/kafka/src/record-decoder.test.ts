import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { kafkajsModuleInUse, kafkajsOriginal } from './kafkajs-module.fixture.ts';
import { decodeRecord, type DecodedRecord, type KafkaDecoder } from './record-decoder.ts';

const require = createRequire(import.meta.url);

/** KafkaJS's `Decoder`, with what the test reads a batch's header with besides a record. */
interface BatchDecoder extends KafkaDecoder {
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readArray<T>(reader: (d: BatchDecoder) => T): T[];
}
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => BatchDecoder;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: string | number | bigint): unknown };
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => { buffer: Buffer };
const { RecordBatch: encodeBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (b: object) => Promise<{ buffer: Buffer }> };

type RecordDecoderFn = (decoder: KafkaDecoder, context: object) => DecodedRecord;

// KafkaJS's own record decoder: the module cache may hold ours in its place (the test compares the two).
const original = kafkajsOriginal<RecordDecoderFn>('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');

interface TestRecord {
  offsetDelta: number;
  timestampDelta: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
}

/**
 * Reads a record batch as KafkaJS's batch decoder does (header fields, then each length-prefixed
 * record with the batch's context) and decodes every record with both decoders.
 */
function decodeBoth(bytes: Buffer, contextOverrides: object = {}): [DecodedRecord[], DecodedRecord[]] {
  const d = new Decoder(bytes);
  const firstOffset = d.readInt64().toString();
  d.readInt32(); // length
  const partitionLeaderEpoch = d.readInt32();
  const magicByte = d.readInt8();
  d.readInt32(); // crc
  const attributes = d.readInt16();
  const lastOffsetDelta = d.readInt32();
  const firstTimestamp = d.readInt64().toString();
  const maxTimestamp = d.readInt64().toString();
  const producerId = d.readInt64().toString();
  const producerEpoch = d.readInt16();
  const firstSequence = d.readInt32();
  const context = {
    firstOffset,
    firstTimestamp,
    partitionLeaderEpoch,
    inTransaction: false,
    isControlBatch: (attributes & 0x20) > 0,
    lastOffsetDelta,
    producerId,
    producerEpoch,
    firstSequence,
    maxTimestamp,
    timestampType: (attributes & 0x8) > 0 ? 1 : 0,
    magicByte,
    ...contextOverrides,
  };
  const pairs = d.readArray((rd) => {
    const buf = rd.readVarIntBytes()!;
    return [original(new Decoder(buf), context), decodeRecord(new Decoder(buf), context)] as const;
  });
  return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
}

async function batchOf(records: TestRecord[], firstOffset: bigint, firstTimestamp: bigint): Promise<Buffer> {
  const encoded = records.map((r) => encodeRecord({ ...r, timestampDelta: Long.fromValue(r.timestampDelta) }));
  const batch = await encodeBatch({
    firstOffset: Long.fromValue(firstOffset),
    firstTimestamp: Long.fromValue(firstTimestamp),
    maxTimestamp: Long.fromValue(firstTimestamp),
    lastOffsetDelta: records.length - 1,
    records: encoded,
  });
  return batch.buffer;
}

const TWO_63 = 2n ** 63n;

describe('decodeRecord (KafkaJS record decoder without Long arithmetic)', () => {
  it('gives what KafkaJS gives for every record, over safe and unsafe offsets, timestamps and deltas', async () => {
    const offsets = [0n, 1n, 4_294_967_296n, 2n ** 53n - 10n, 2n ** 53n + 3n, TWO_63 - 1_000n];
    const timestamps = [-1n, 0n, 1_796_646_189_100n, 2n ** 53n - 1n, 2n ** 60n, -(2n ** 60n)];
    const deltas = [0n, 1n, -1n, 63n, -64n, 64n, 8_191n, 2n ** 35n, -(2n ** 35n), 2n ** 48n, 2n ** 49n, 2n ** 55n, -(2n ** 62n), TWO_63 - 1n, -TWO_63];
    let compared = 0;
    for (const firstOffset of offsets) {
      for (const firstTimestamp of timestamps) {
        const records: TestRecord[] = deltas.map((timestampDelta, i) => ({
          offsetDelta: i * 997,
          timestampDelta,
          key: i % 3 === 0 ? null : randomBytes(i),
          value: i % 5 === 4 ? null : randomBytes(i * 31),
        }));
        const [want, got] = decodeBoth(await batchOf(records, firstOffset, firstTimestamp));
        expect(got.length).toBe(records.length);
        for (let i = 0; i < want.length; i++) {
          expect(got[i], `offset ${firstOffset}, timestamp ${firstTimestamp}, delta ${deltas[i]}`).toStrictEqual(want[i]);
          compared++;
        }
      }
    }
    expect(compared).toBe(offsets.length * timestamps.length * deltas.length);
  });

  it('decodes headers as KafkaJS does: repeated keys as arrays in order, odd names included', async () => {
    const records: TestRecord[] = [
      { offsetDelta: 0, timestampDelta: 0n, key: null, value: Buffer.from('a'), headers: {} },
      { offsetDelta: 1, timestampDelta: 0n, key: Buffer.from('k'), value: Buffer.from('b'), headers: { one: Buffer.from('1') } },
      {
        offsetDelta: 2,
        timestampDelta: 5n,
        key: Buffer.from('k'),
        value: Buffer.from('c'),
        headers: { twice: [Buffer.from('x'), Buffer.from('y')], thrice: [Buffer.from('1'), Buffer.from('2'), Buffer.from('3')], '': Buffer.alloc(0) },
      },
      {
        offsetDelta: 3,
        timestampDelta: 0n,
        key: null,
        value: null,
        headers: { toString: Buffer.from('t'), hasOwnProperty: [Buffer.from('u'), Buffer.from('v')], ['__proto__']: Buffer.from('p') },
      },
    ];
    const [want, got] = decodeBoth(await batchOf(records, 10n, 1_700_000_000_000n));
    // node's comparison: vitest's reads `constructor` and the prototype, which these headers shadow.
    expect(isDeepStrictEqual(got, want)).toBe(true);
    expect(Object.keys(got[3]!.headers)).toStrictEqual(['toString', 'hasOwnProperty', '__proto__']);
    expect(got[2]!.headers['thrice']).toStrictEqual([Buffer.from('1'), Buffer.from('2'), Buffer.from('3')]);
  });

  it('takes the batch maximum for log-append time, and the context of each batch it is given', async () => {
    const a = await batchOf([{ offsetDelta: 0, timestampDelta: 7n, key: null, value: Buffer.from('x') }], 100n, 1_000n);
    const b = await batchOf([{ offsetDelta: 0, timestampDelta: 7n, key: null, value: Buffer.from('x') }], 200n, 2_000n);
    const [wantAppend, gotAppend] = decodeBoth(a, { timestampType: 1, maxTimestamp: '5555' });
    expect(gotAppend).toStrictEqual(wantAppend);
    expect(gotAppend[0]!.timestamp).toBe('5555');
    // Alternating batches: the per-batch base values must follow the context, not the last one.
    for (const [bytes, offset, timestamp] of [
      [a, '100', '1007'],
      [b, '200', '2007'],
      [a, '100', '1007'],
    ] as const) {
      const [want, got] = decodeBoth(bytes);
      expect(got).toStrictEqual(want);
      expect([got[0]!.offset, got[0]!.timestamp]).toStrictEqual([offset, timestamp]);
    }
  });

  it('refuses a varlong longer than ten bytes with KafkaJS own error', () => {
    // attributes, then 11 continuation bytes as the timestamp delta.
    const bytes = Buffer.from([0, ...Array.from({ length: 10 }, () => 0x80), 0x01, 0, 0, 0, 0]);
    const context = { firstOffset: '0', firstTimestamp: '0', timestampType: 0 };
    expect(() => original(new Decoder(bytes), context)).toThrow(/must contain 9 bytes or less/);
    expect(() => decodeRecord(new Decoder(bytes), context)).toThrow(/must contain 9 bytes or less/);
  });

  it('reads a record cut short as KafkaJS reads it', () => {
    const context = { firstOffset: '0', firstTimestamp: '0', timestampType: 0 };
    for (const bytes of [Buffer.from([0, 0x80]), Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0])]) {
      expect(decodeRecord(new Decoder(bytes), context), bytes.toString('hex')).toStrictEqual(original(new Decoder(bytes), context));
    }
  });

  it('is what KafkaJS decodes records with once @p2m/kafka is loaded, under plain node', () => {
    const run = kafkajsModuleInUse('kafkajs/src/protocol/recordBatch/record/v0/decoder.js');
    expect(run.status, run.stderr).toBe(0);
    expect(run.name).toBe('decodeRecord');
  });
});
