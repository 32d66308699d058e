import { createRequire } from 'node:module';
import { crc32c } from './crc32c.ts';
import { replaceKafkajsModule } from './kafkajs-module.ts';

/**
 * KafkaJS's produce request, written in one pass into one buffer of its exact size.
 *
 * KafkaJS builds a produce request from nested `Encoder`s: one per record, one for the batch's body,
 * one for the batch, one per partition, one per topic, one for the payload, one for the header and
 * one for the whole request. Each is copied into the next, each grows by doubling (a zero-filled
 * allocation and a copy each time), and every record's timestamp delta goes through its BigInt-backed
 * `Long`. A 768-d record (3.2 KB of Avro) is copied about ten times before it reaches the socket: in
 * the extractor that was a third of KafkaJS's produce time (`FastBuffer` and `_copyActual` in a
 * --cpu-prof). This encoder computes every size first, writes the request once, and checksums the
 * batch in place; the request header is written around it with one more copy.
 *
 * The bytes are KafkaJS's, byte for byte (produce-encoder.test.ts compares the two on the requests
 * KafkaJS itself encodes). It covers what p2m sends: uncompressed batches of messages without their
 * own timestamps. A request with compression or with message timestamps goes to KafkaJS's own
 * encoder unchanged.
 */

const require = createRequire(import.meta.url);

interface KafkaLong {
  getHighBits(): number;
  getLowBits(): number;
}
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): KafkaLong; fromInt(v: number): KafkaLong };
interface KafkaEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  size(): number;
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (initialSize?: number) => KafkaEncoder;
const { Produce: PRODUCE_API_KEY } = require('kafkajs/src/protocol/requests/apiKeys.js') as { Produce: number };
const { Types: Compression } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number } };

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;

type HeaderValue = Buffer | string | null;
export interface ProduceMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
  timestamp?: string | number;
  partition?: number;
}
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}
export interface TopicData {
  topic: string;
  partitions: PartitionData[];
}
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}
export interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse(): boolean;
  encode(): Promise<KafkaEncoder>;
}

/** A zigzag varint's size (KafkaJS's `Encoder.sizeOfVarInt`). */
function varIntSize(value: number): number {
  let v = (value << 1) ^ (value >> 31);
  let bytes = 1;
  while ((v & 0xffffff80) !== 0) {
    bytes++;
    v >>>= 7;
  }
  return bytes;
}

function writeVarInt(buf: Buffer, at: number, value: number): number {
  let v = (value << 1) ^ (value >> 31);
  while ((v & 0xffffff80) !== 0) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v & 0x7f;
  return at;
}

/** What KafkaJS writes for a key, value or header value: a Buffer as it is, anything else as its string. */
function bytesOf(value: Buffer | string | number | boolean): Buffer | string {
  return Buffer.isBuffer(value) ? value : String(value);
}

function bytesSize(value: Buffer | string | null | undefined): number {
  if (value == null) return varIntSize(-1);
  const n = Buffer.isBuffer(value) ? value.length : Buffer.byteLength(bytesOf(value));
  return varIntSize(n) + n;
}

function writeBytes(buf: Buffer, at: number, value: Buffer | string | null | undefined): number {
  if (value == null) return writeVarInt(buf, at, -1);
  if (Buffer.isBuffer(value)) {
    at = writeVarInt(buf, at, value.length);
    value.copy(buf, at);
    return at + value.length;
  }
  const text = bytesOf(value) as string;
  const n = Buffer.byteLength(text);
  at = writeVarInt(buf, at, n);
  buf.write(text, at, n, 'utf8');
  return at + n;
}

/** The headers as KafkaJS flattens them: a key with an array value gives one header per element. */
function headerList(headers: ProduceMessage['headers']): [string, HeaderValue][] {
  const list: [string, HeaderValue][] = [];
  if (!headers) return list;
  for (const key of Object.keys(headers)) {
    const value = headers[key]!;
    if (Array.isArray(value)) for (const v of value) list.push([key, v]);
    else list.push([key, value]);
  }
  return list;
}

/** One record's body size (without its length prefix), its headers flattened once. */
function recordBodySize(m: ProduceMessage, offsetDelta: number, headers: [string, HeaderValue][]): number {
  // attributes (1) + timestampDelta 0 as a varlong (1)
  let size = 2 + varIntSize(offsetDelta) + bytesSize(m.key) + bytesSize(m.value) + varIntSize(headers.length);
  for (const [key, value] of headers) size += bytesSize(key) + bytesSize(value);
  return size;
}

function writeInt64(buf: Buffer, at: number, value: unknown): number {
  const long = Long.fromValue(value);
  buf.writeInt32BE(long.getHighBits(), at);
  buf.writeInt32BE(long.getLowBits(), at + 4);
  return at + 8;
}

function stringSize(value: string | null | undefined): number {
  return value == null ? 2 : 2 + Buffer.byteLength(value);
}

function writeString(buf: Buffer, at: number, value: string | null | undefined): number {
  if (value == null) return buf.writeInt16BE(-1, at);
  const n = Buffer.byteLength(value);
  at = buf.writeInt16BE(n, at);
  buf.write(value, at, n, 'utf8');
  return at + n;
}

/** Whether this encoder writes the request (else KafkaJS's own does). */
export function leanEncodable(args: ProduceRequestArgs): boolean {
  if ((args.compression ?? Compression.None) !== Compression.None) return false;
  for (const t of args.topicData) for (const p of t.partitions) for (const m of p.messages) if (m.timestamp != null) return false;
  return true;
}

/** The produce request's payload (what KafkaJS's `encode()` gives), for an uncompressed request without message timestamps. */
export function encodeProducePayload(args: ProduceRequestArgs, now?: number): Buffer {
  const { topicData, transactionalId = null, producerEpoch = 0 } = args;
  const producerId = args.producerId ?? Long.fromInt(-1);
  const attributes = transactionalId ? TRANSACTIONAL_MASK : 0;
  // Sizes first: of each record's body, then of each partition's batch.
  const plans = topicData.map((t) =>
    t.partitions.map((p) => {
      const bodies = new Array<number>(p.messages.length);
      const headers = new Array<[string, HeaderValue][]>(p.messages.length);
      let records = 0;
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        const flat = headerList(m.headers);
        headers[i] = flat;
        const body = recordBodySize(m, i, flat);
        bodies[i] = body;
        records += varIntSize(body) + body;
      }
      // From partitionLeaderEpoch to the end: epoch 4, magic 1, crc 4, then the body: its fixed
      // fields (36), the record count (4) and the records.
      const batch = 4 + 1 + 4 + 36 + 4 + records;
      return { bodies, headers, batch };
    }),
  );
  let size = stringSize(transactionalId) + 2 + 4 + 4;
  topicData.forEach((t, ti) => {
    size += stringSize(t.topic) + 4;
    for (const plan of plans[ti]!) size += 4 + 4 + 8 + 4 + plan.batch;
  });

  const buf = Buffer.allocUnsafe(size);
  let at = writeString(buf, 0, transactionalId);
  at = buf.writeInt16BE(args.acks, at);
  at = buf.writeInt32BE(args.timeout, at);
  at = buf.writeInt32BE(topicData.length, at);
  topicData.forEach((t, ti) => {
    at = writeString(buf, at, t.topic);
    at = buf.writeInt32BE(t.partitions.length, at);
    t.partitions.forEach((p, pi) => {
      const plan = plans[ti]![pi]!;
      at = buf.writeInt32BE(p.partition, at);
      at = buf.writeInt32BE(8 + 4 + plan.batch, at); // the record set's size
      at = writeInt64(buf, at, 0); // firstOffset
      at = buf.writeInt32BE(plan.batch, at);
      at = buf.writeInt32BE(0, at); // partitionLeaderEpoch
      at = buf.writeInt8(MAGIC_BYTE, at);
      const stamp = now ?? Date.now(); // KafkaJS reads the clock once per partition
      const crcAt = at;
      at += 4;
      const bodyStart = at;
      at = buf.writeInt16BE(attributes, at);
      at = buf.writeInt32BE(p.messages.length - 1, at); // lastOffsetDelta
      at = writeInt64(buf, at, stamp); // firstTimestamp
      at = writeInt64(buf, at, stamp); // maxTimestamp
      at = writeInt64(buf, at, producerId);
      at = buf.writeInt16BE(producerEpoch, at);
      at = buf.writeInt32BE(p.firstSequence ?? 0, at);
      at = buf.writeInt32BE(p.messages.length, at);
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        at = writeVarInt(buf, at, plan.bodies[i]!);
        buf[at++] = 0; // attributes
        buf[at++] = 0; // timestampDelta: every message is stamped with the batch's time
        at = writeVarInt(buf, at, i);
        at = writeBytes(buf, at, m.key);
        at = writeBytes(buf, at, m.value);
        const headers = plan.headers[i]!;
        at = writeVarInt(buf, at, headers.length);
        for (const [key, value] of headers) {
          at = writeBytes(buf, at, key);
          at = writeBytes(buf, at, value);
        }
      }
      buf.writeUInt32BE(crc32c(buf.subarray(bodyStart, at)), crcAt);
    });
  });
  if (at !== size) throw new Error(`produce encoder: wrote ${at} bytes of ${size}`);
  return buf;
}

/** An `Encoder` holding `buf` as written, for the code that takes KafkaJS's encoders. */
function asEncoder(buf: Buffer): KafkaEncoder {
  const encoder = new Encoder(0);
  encoder.buf = buf;
  encoder.offset = buf.length;
  return encoder;
}

export type ProduceRequestFactory = (args: ProduceRequestArgs) => ProduceRequest;

/** KafkaJS's produce request v3 (v4 to v7 reuse it), encoded here when `leanEncodable`. */
export function leanProduceRequest(original: ProduceRequestFactory): ProduceRequestFactory {
  const lean = (args: ProduceRequestArgs): ProduceRequest => {
    const request = original(args);
    if (!leanEncodable(args)) return request;
    return { ...request, encode: async () => asEncoder(encodeProducePayload(args)) };
  };
  return lean;
}

interface RequestArgs {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode(): Promise<{ readonly buffer: Buffer }> };
}

/**
 * KafkaJS's framing of a request (protocol/request.js): size, api key and version, correlation id,
 * client id, then the payload. The same bytes, with one copy of the payload instead of two and no
 * growing.
 */
export async function frameRequest({ correlationId, clientId, request: { apiKey, apiVersion, encode } }: RequestArgs): Promise<KafkaEncoder> {
  const payload = (await encode()).buffer;
  const headerSize = 2 + 2 + 4 + stringSize(clientId);
  const buf = Buffer.allocUnsafe(4 + headerSize + payload.length);
  let at = buf.writeInt32BE(headerSize + payload.length, 0);
  at = buf.writeInt16BE(apiKey, at);
  at = buf.writeInt16BE(apiVersion, at);
  at = buf.writeInt32BE(correlationId, at);
  at = writeString(buf, at, clientId);
  payload.copy(buf, at);
  return asEncoder(buf);
}

const KAFKAJS_PRODUCE_V3 = 'kafkajs/src/protocol/requests/produce/v3/request.js';
const KAFKAJS_PRODUCE_LATER = [4, 5, 6, 7].map((v) => `kafkajs/src/protocol/requests/produce/v${v}/request.js`);
const KAFKAJS_REQUEST = 'kafkajs/src/protocol/request.js';
const KAFKAJS_CONNECTION = 'kafkajs/src/network/connection.js';

/**
 * Makes KafkaJS frame its requests with `frameRequest` and encode produce requests v3–v7 with
 * `encodeProducePayload`. Has to run before anything loads `kafkajs`; when KafkaJS was loaded
 * already it changes nothing and says so.
 */
export function useLeanProduceEncoder(): boolean {
  const framed = replaceKafkajsModule(KAFKAJS_REQUEST, frameRequest, KAFKAJS_CONNECTION);
  // KafkaJS loads a produce request's module when it first sends one at that version; v4–v7 take
  // v3's from the module cache then. So v3's original is loaded here and its cache entry swapped.
  const v3 = require.resolve(KAFKAJS_PRODUCE_V3);
  if (KAFKAJS_PRODUCE_LATER.some((file) => require.cache[require.resolve(file)])) {
    return framed && (require.cache[v3]?.exports as { lean?: boolean } | undefined)?.lean === true;
  }
  const original = require(v3) as ProduceRequestFactory & { lean?: boolean };
  if (original.lean) return framed;
  const lean = Object.assign(leanProduceRequest(original), { lean: true });
  require.cache[v3]!.exports = lean;
  return framed;
}

useLeanProduceEncoder();
