import { createRequire } from 'node:module';
import { replaceKafkajsModule } from './kafkajs-module.ts';

/**
 * KafkaJS's decoder of one record of a fetched record batch, without its 64-bit arithmetic on
 * objects. KafkaJS decodes every record's timestamp delta as a varlong through its BigInt-backed
 * `Long` (three to six objects a byte), parses the batch's first offset and first timestamp from
 * their strings again for every record, and builds the headers with an object spread per header.
 * Every consumer of p2m pays that once per message: the loader, reconciliation, every follower of a
 * state topic. This decoder returns the same object, field for field (record-decoder.test.ts
 * compares the two on batches that KafkaJS itself encoded), using plain numbers while every value
 * is a safe integer, and falls back to BigInt, as KafkaJS does, when one is not.
 *
 * `useLeanRecordDecoder` registers it in the CommonJS cache in place of KafkaJS's module, like the
 * CRC-32C in crc32c.ts: before anything loads KafkaJS (this package's index imports it first).
 */

/** The part of KafkaJS's `Decoder` a record is read with. */
export interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}

interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

type Headers = Record<string, Buffer | null | (Buffer | null)[]>;

export interface DecodedRecord {
  magicByte: number | undefined;
  attributes: number;
  timestamp: string | undefined;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  isControlRecord: boolean;
  batchContext: BatchContext;
}

const LOG_APPEND_TIME = 1;
/** Seven varint bytes carry 49 bits: the sum stays exact in a double. */
const SAFE_VARLONG_BYTES = 7;

const require = createRequire(import.meta.url);
const { KafkaJSInvalidLongError } = require('kafkajs/src/errors') as { KafkaJSInvalidLongError: new (message: string) => Error };

/** A batch's base values, parsed once per batch instead of once per record. */
let lastContext: BatchContext | null = null;
let baseOffset: number | null = null;
let baseTimestamp: number | null = null;

function safeNumber(s: string | undefined): number | null {
  if (s === undefined) return null;
  const n = Number(s);
  // `String(n) === s` also refuses spellings BigInt reads differently ("", " 1", "0x10").
  return Number.isSafeInteger(n) && String(n) === s ? n : null;
}

/** Long.fromValue(s) of KafkaJS for the strings a batch decoder gives it. */
function bigFrom(s: string | undefined): bigint {
  if (s === undefined) return BigInt(s as unknown as string); // KafkaJS's TypeError
  if (s === '') throw new Error('empty string');
  if (s === 'NaN' || s === 'Infinity' || s === '+Infinity' || s === '-Infinity') return 0n;
  return BigInt(s);
}

/**
 * A zigzag varlong: a number while it fits in seven bytes, else a bigint (KafkaJS's arithmetic,
 * its 10-byte limit and its error).
 */
function readVarLong(d: KafkaDecoder): number | bigint {
  const buf = d.buffer;
  const start = d.offset;
  let raw = 0;
  let scale = 1;
  for (let i = 0; i < SAFE_VARLONG_BYTES; i++) {
    const byte = buf[d.offset++]!;
    raw += (byte & 0x7f) * scale;
    // Negated as KafkaJS tests it: a read past the end (undefined) ends the varlong there too.
    if (!(byte >= 0x80)) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    scale *= 128;
  }
  d.offset = start;
  let big = 0n;
  let shift = 0n;
  for (;;) {
    if (shift > 63n) throw new KafkaJSInvalidLongError('Invalid Long, must contain 9 bytes or less');
    const byte = buf[d.offset++]!;
    big += BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if (!(byte >= 0x80)) break;
  }
  return (big >> 1n) ^ -(big & 1n);
}

function plus(base: number | null, baseText: string | undefined, delta: number | bigint): string {
  if (base !== null && typeof delta === 'number') {
    const sum = base + delta;
    if (Number.isSafeInteger(sum)) return String(sum);
  }
  return String(bigFrom(baseText) + BigInt(delta));
}

/**
 * The headers as KafkaJS gives them: a key seen twice holds the array of its values, in order. The
 * lookup is KafkaJS's own, quirks included (it reads inherited keys too).
 */
function readHeaders(d: KafkaDecoder): Headers {
  const headers: Headers = {};
  const count = d.readVarInt();
  for (let i = 0; i < count; i++) {
    const key = d.readVarIntString() as string;
    const value = d.readVarIntBytes();
    const had = headers[key] as Headers[string] | undefined;
    const next = had === undefined ? value : Array.isArray(had) ? had.concat([value]) : [had, value];
    // Defined, not assigned: a header named "__proto__" is an own key, as in KafkaJS's object literal.
    Object.defineProperty(headers, key, { value: next, writable: true, enumerable: true, configurable: true });
  }
  return headers;
}

export function decodeRecord(decoder: KafkaDecoder, batchContext: BatchContext = {}): DecodedRecord {
  if (batchContext !== lastContext) {
    lastContext = batchContext;
    baseOffset = safeNumber(batchContext.firstOffset);
    baseTimestamp = safeNumber(batchContext.firstTimestamp);
  }
  const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
  const attributes = decoder.readInt8();
  const timestampDelta = readVarLong(decoder);
  const timestamp = timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : plus(baseTimestamp, firstTimestamp, timestampDelta);
  const offset = plus(baseOffset, firstOffset, decoder.readVarInt());
  const key = decoder.readVarIntBytes();
  const value = decoder.readVarIntBytes();
  const headers = readHeaders(decoder);
  return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
}

const KAFKAJS_RECORD_DECODER = 'kafkajs/src/protocol/recordBatch/record/v0/decoder.js';
const KAFKAJS_RECORD_BATCH = 'kafkajs/src/protocol/recordBatch/v0/decoder.js';

/**
 * Makes KafkaJS decode records with `decodeRecord`. Has to run before anything loads `kafkajs`;
 * when KafkaJS's batch decoder was loaded already it changes nothing and says so.
 */
export function useLeanRecordDecoder(): boolean {
  return replaceKafkajsModule(KAFKAJS_RECORD_DECODER, decodeRecord, KAFKAJS_RECORD_BATCH);
}

useLeanRecordDecoder();
