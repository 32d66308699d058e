import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { EtlError, errorMessage } from '@p2m/core';

/**
 * A typed Avro codec: one `.avsc` file of `schemas/`, the mapping between the domain value and its
 * Avro form, and encode/decode of the Avro body (no framing: the registry adapter adds the
 * Confluent header). Readers for other schema versions resolve to this codec's schema.
 */

export type AvroSchema = avro.schema.AvroSchema;
export type AvroType = avro.Type;
type Resolver = ReturnType<AvroType['createResolver']>;

/** Options every codec type is built with, so a reader type and a writer type agree on value shapes. */
export const TYPE_OPTIONS = { wrapUnions: 'auto' } as const;

const SCHEMA_DIR = new URL('../../../schemas/', import.meta.url);

/** Parse `schemas/<name>.avsc`. */
export function loadSchema(name: string): AvroSchema {
  const text = readFileSync(new URL(`${name}.avsc`, SCHEMA_DIR), 'utf8');
  return JSON.parse(text) as AvroSchema;
}

/** What avsc's reading position offers a type's `_read` (avsc 5's Tap). */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  _invalidate(): void;
}

/**
 * `bytes` read as a view on the buffer being decoded, not a copy. avsc copies every `bytes` value
 * into a 4 KB pool of its own, so a 768-d vector (3,072 bytes) took a fresh zero-filled 4 KB
 * ArrayBuffer per record, which the codec then copied again (profiled: a sixth of the controller's
 * CPU reconciling 768-d records, with the garbage collection it caused). Every `bytes` field of the
 * schemas is copied by its codec's `fromAvro` (vectors unpacked, the sealed spec turned into a
 * string), so nothing keeps a view, and with it the message buffer, alive.
 */
function readBytesView(tap: Tap): Buffer | undefined {
  const len = tap.readLong();
  if (len < 0) {
    tap._invalidate();
    return undefined;
  }
  const start = tap.pos;
  tap.pos += len;
  // Past the end: avsc's own convention, the tap is invalid and decode reports a truncation.
  if (tap.pos > tap.buf.length) return undefined;
  return tap.buf.subarray(start, tap.pos);
}

/** avsc's `bytes` type reading views (same `typeName`, so it resolves against avsc's own). */
const BytesType = (avro.types as unknown as { BytesType: new () => AvroType }).BytesType;
class ViewBytesType extends BytesType {}
(ViewBytesType.prototype as unknown as { _read: typeof readBytesView })._read = readBytesView;

export function typeForSchema(schema: AvroSchema | string | AvroType): AvroType {
  if (schema instanceof avro.Type) return schema;
  const parsed = typeof schema === 'string' ? (JSON.parse(schema) as AvroSchema) : schema;
  return avro.Type.forSchema(parsed, {
    ...TYPE_OPTIONS,
    typeHook: (s) =>
      s === 'bytes' || (typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'bytes' && !('logicalType' in s))
        ? new ViewBytesType()
        : undefined,
  });
}

/**
 * Decoder of data written with `writerSchema`, read as `readerSchema` (Avro schema resolution: added
 * fields take their defaults, removed fields are skipped, promotions apply). Returns raw Avro values.
 */
export function createReader(
  writerSchema: AvroSchema | string | AvroType,
  readerSchema: AvroSchema | string | AvroType,
): (buf: Buffer, offset?: number) => unknown {
  const writer = typeForSchema(writerSchema);
  const reader = typeForSchema(readerSchema);
  if (reader.equals(writer)) return (buf, offset = 0) => decodeWhole(reader, buf, offset, undefined);
  let resolver: Resolver;
  try {
    resolver = reader.createResolver(writer);
  } catch (err) {
    throw new EtlError(
      'RECORD_INVALID',
      `schema ${String(reader.name ?? reader.typeName)} cannot read data written with this writer schema: ${errorMessage(err)}`,
      {
        retriable: false,
        cause: err,
      },
    );
  }
  return (buf, offset = 0) => decodeWhole(reader, buf, offset, resolver);
}

function decodeWhole(type: AvroType, buf: Buffer, offset: number, resolver: Resolver | undefined): unknown {
  let result: { value: unknown; offset: number };
  try {
    result = type.decode(buf, offset, resolver);
  } catch (err) {
    throw new EtlError('RECORD_INVALID', `malformed Avro data: ${errorMessage(err)}`, { retriable: false, cause: err });
  }
  // avsc reports a truncated buffer as a negative offset rather than throwing.
  if (result.offset !== buf.length) {
    throw new EtlError('RECORD_INVALID', result.offset < 0 ? 'truncated Avro data' : `trailing bytes after the Avro value (${buf.length - result.offset})`, {
      retriable: false,
    });
  }
  return result.value;
}

export interface AvroCodec<T> {
  /** Name of the `.avsc` file (without extension). */
  readonly name: string;
  readonly schema: AvroSchema;
  readonly type: AvroType;
  /** The Avro body; with `prefix`, the body follows those bytes in the one buffer (framing without a copy). */
  encode(value: T, prefix?: Uint8Array): Buffer;
  /** Decode an Avro body written with this codec's schema, starting at `offset`. */
  decode(buf: Buffer, offset?: number): T;
  /** The domain value in the shape avsc writes (wrapped unions, packed vectors as Buffers). */
  toAvro(value: T): unknown;
  /** The domain value of a decoded Avro value of this schema. */
  fromAvro(value: unknown): T;
  /** Decoder of bodies written with another version of the schema, resolved to this one. */
  readerFor(writerSchema: AvroSchema | string | AvroType): (buf: Buffer, offset?: number) => T;
}

export interface CodecDefinition<T> {
  name: string;
  schema: AvroSchema;
  toAvro(value: T): unknown;
  fromAvro(value: unknown): T;
}

/** A scratch buffer shared by the encoders of this module (encoding is synchronous). */
let scratch = Buffer.allocUnsafe(64 * 1024);

export function defineCodec<T>(def: CodecDefinition<T>): AvroCodec<T> {
  const type = typeForSchema(def.schema);
  const fromAvro = def.fromAvro;

  const encode = (value: T, prefix?: Uint8Array): Buffer => {
    const avroValue = def.toAvro(value);
    const start = prefix?.length ?? 0;
    let end: number;
    try {
      // avsc's own toBuffer encodes anything over 1 KB twice; a large scratch buffer avoids that.
      end = type.encode(avroValue, scratch, start);
      if (end < 0) {
        scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end + start));
        end = type.encode(avroValue, scratch, start);
      }
    } catch (err) {
      if (err instanceof EtlError) throw err;
      throw new EtlError('RECORD_INVALID', `cannot encode a ${def.name} value: ${errorMessage(err)}`, { retriable: false, cause: err });
    }
    const out = Buffer.allocUnsafe(end);
    if (prefix) out.set(prefix, 0);
    scratch.copy(out, start, start, end);
    return out;
  };

  return {
    name: def.name,
    schema: def.schema,
    type,
    encode,
    toAvro: def.toAvro,
    fromAvro,
    decode: (buf, offset = 0) => fromAvro(decodeWhole(type, buf, offset, undefined)),
    readerFor(writerSchema) {
      const read = createReader(writerSchema, type);
      return (buf, offset = 0) => fromAvro(read(buf, offset));
    },
  };
}
