import { EtlError, type EndOfNamespace, type LogRecord, type Metadata, type MetadataValue, type SparseVector, type VectorRecord } from '@p2m/core';
import { defineCodec, loadSchema, type AvroCodec, type AvroSchema } from './avro-codec.ts';
import { UINT32_MAX, packFloat32, packUint32, unpackFloat32, unpackUint32 } from './packed.ts';

/**
 * `LogRecord` ⇄ Avro (`schemas/log-record.avsc`).
 *
 * Exactness: dense and sparse values are float32 on both sides, sparse indices are uint32 carried as
 * packed bytes, metadata numbers that are integers travel as `long` (within avsc's exact range,
 * −2^52 … 2^53 − 2), all others as `double`; both decode to the same JS number.
 *
 * Non-finite numbers (NaN, ±Infinity) are rejected when encoding, in vectors and in metadata, with a
 * permanent `RECORD_INVALID`: Pinecone's JSON API cannot produce them and Milvus's `$meta` JSON cannot
 * hold them, so one can only come from a bug upstream, and it is caught where it enters the log.
 * A metadata key `__proto__` is refused too: a JS map decoder cannot give it back as a plain key.
 */

/** How the vector fields are laid out on the wire. The pipeline uses `PACKED`; the others exist for `bench/codec.ts`. */
export interface VectorEncoding {
  dense: 'packed' | 'array';
  sparse: 'packed' | 'array';
}

/** What `schemas/log-record.avsc` says (chosen by measurement, see bench/codec.ts). */
export const PACKED: VectorEncoding = { dense: 'packed', sparse: 'packed' };

const VECTOR = 'p2m.VectorRecord';
/**
 * Integers avsc writes exactly as a long: its zigzag arithmetic is done in doubles, so the bounds are
 * 2^53 − 2 above and −2^52 below. Integers outside go as doubles, where they are still exact.
 */
const MAX_AVRO_LONG = 2 ** 53 - 2;
const MIN_AVRO_LONG = -(2 ** 52);
const END = 'p2m.EndOfNamespace';

type AvroMetadataValue = { string: string } | { long: number } | { double: number } | { boolean: boolean } | { array: string[] };

interface AvroSparse {
  indices: Buffer | number[];
  values: Buffer | number[];
}

interface AvroVector {
  namespace: string;
  id: string;
  values: Buffer | number[] | null;
  sparse: AvroSparse | null;
  metadata: Record<string, AvroMetadataValue> | null;
}

interface AvroEnvelope {
  body: { [VECTOR]?: AvroVector; [END]?: { namespace: string; count: number } };
}

const invalid = (message: string, field?: string): EtlError => new EtlError('RECORD_INVALID', message, { retriable: false, field });

function checkFinite(values: Float32Array, field: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // v - v is NaN exactly for NaN and ±Infinity.
    if (v - v !== 0) throw invalid(`${field}[${i}] is ${v}; vectors must hold finite numbers`, field);
  }
}

function checkIndices(indices: ArrayLike<number>, field: string): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!;
    if (!Number.isInteger(v) || v < 0 || v > UINT32_MAX) throw invalid(`${field}[${i}] is ${v}; sparse indices are integers from 0 to ${UINT32_MAX}`, field);
  }
}

function metadataToAvro(metadata: Metadata): Record<string, AvroMetadataValue> {
  const out: Record<string, AvroMetadataValue> = {};
  for (const key of Object.keys(metadata)) {
    const field = `metadata.${key}`;
    if (key === '__proto__') throw invalid('metadata key "__proto__" is not supported', field);
    const value: unknown = metadata[key];
    switch (typeof value) {
      case 'string':
        out[key] = { string: value };
        break;
      case 'number':
        if (!Number.isFinite(value)) throw invalid(`${field} is ${value}; metadata numbers must be finite`, field);
        // -0 keeps its sign as a double.
        out[key] = Number.isInteger(value) && value <= MAX_AVRO_LONG && value >= MIN_AVRO_LONG && !Object.is(value, -0) ? { long: value } : { double: value };
        break;
      case 'boolean':
        out[key] = { boolean: value };
        break;
      default:
        if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
          out[key] = { array: value as string[] };
          break;
        }
        throw invalid(`${field} has an unsupported type; metadata values are strings, numbers, booleans or lists of strings`, field);
    }
  }
  return out;
}

function metadataFromAvro(avroMap: Record<string, AvroMetadataValue>): Metadata {
  const out: Metadata = {};
  // In place, no key array: every record read by a loader or by reconciliation comes through here.
  for (const key in avroMap) {
    if (!Object.hasOwn(avroMap, key)) continue;
    const w = avroMap[key] as { string?: string; long?: number; double?: number; boolean?: boolean; array?: string[] };
    let value: MetadataValue;
    if (w.string !== undefined) value = w.string;
    else if (w.long !== undefined) value = w.long;
    else if (w.double !== undefined) value = w.double;
    else if (w.boolean !== undefined) value = w.boolean;
    else if (w.array !== undefined) value = w.array;
    else throw invalid(`metadata.${key} has an unknown Avro branch`, `metadata.${key}`);
    out[key] = value;
  }
  return out;
}

function vectorToAvro(r: VectorRecord, enc: VectorEncoding): AvroVector {
  if (typeof r.id !== 'string' || r.id.length === 0) throw invalid('record id must be a non-empty string', 'id');
  if (typeof r.namespace !== 'string') throw invalid('namespace must be a string', 'namespace');
  let values: Buffer | number[] | null = null;
  if (r.values !== null && r.values !== undefined) {
    if (!(r.values instanceof Float32Array)) throw invalid('values must be a Float32Array', 'values');
    checkFinite(r.values, 'values');
    values = enc.dense === 'packed' ? packFloat32(r.values) : Array.from(r.values);
  }
  let sparse: AvroSparse | null = null;
  if (r.sparse !== null && r.sparse !== undefined) {
    const s: SparseVector = r.sparse;
    if (!(s.values instanceof Float32Array)) throw invalid('sparse values must be a Float32Array', 'sparse.values');
    if (s.indices.length !== s.values.length) {
      throw invalid(`sparse vector has ${s.indices.length} indices but ${s.values.length} values`, 'sparse');
    }
    checkIndices(s.indices, 'sparse.indices');
    checkFinite(s.values, 'sparse.values');
    sparse =
      enc.sparse === 'packed'
        ? { indices: packUint32(s.indices), values: packFloat32(s.values) }
        : { indices: Array.from(s.indices), values: Array.from(s.values) };
  }
  const metadata = r.metadata === null || r.metadata === undefined ? null : metadataToAvro(r.metadata);
  return { namespace: r.namespace, id: r.id, values, sparse, metadata };
}

function float32From(v: Buffer | number[], field: string): Float32Array {
  if (Array.isArray(v)) return new Float32Array(v);
  try {
    return unpackFloat32(v);
  } catch (err) {
    throw new EtlError('RECORD_INVALID', `${field}: ${(err as Error).message}`, { retriable: false, field, cause: err });
  }
}

function vectorFromAvro(v: AvroVector): VectorRecord {
  let sparse: SparseVector | null = null;
  if (v.sparse !== null) {
    let indices: number[];
    if (Array.isArray(v.sparse.indices)) indices = v.sparse.indices;
    else {
      try {
        indices = unpackUint32(v.sparse.indices);
      } catch (err) {
        throw new EtlError('RECORD_INVALID', `sparse.indices: ${(err as Error).message}`, { retriable: false, field: 'sparse.indices', cause: err });
      }
    }
    const values = float32From(v.sparse.values, 'sparse.values');
    if (indices.length !== values.length) throw invalid(`sparse vector has ${indices.length} indices but ${values.length} values`, 'sparse');
    sparse = { indices, values };
  }
  return {
    kind: 'vector',
    namespace: v.namespace,
    id: v.id,
    values: v.values === null ? null : float32From(v.values, 'values'),
    sparse,
    metadata: v.metadata === null ? null : metadataFromAvro(v.metadata),
  };
}

function endToAvro(r: EndOfNamespace): { namespace: string; count: number } {
  if (!Number.isSafeInteger(r.count) || r.count < 0) throw invalid(`end-of-namespace count ${r.count} must be a non-negative integer`, 'count');
  return { namespace: r.namespace, count: r.count };
}

/** The record schema with the vector fields laid out as `enc` says (the file's own layout is `PACKED`). */
export function logRecordSchema(enc: VectorEncoding = PACKED): AvroSchema {
  const schema = loadSchema('log-record') as unknown as { fields: [{ type: [{ fields: { name: string; type: unknown }[] }] }] };
  const vectorFields = schema.fields[0].type[0].fields;
  const field = (name: string): { name: string; type: unknown } => vectorFields.find((f) => f.name === name)!;
  if (enc.dense === 'array') field('values').type = ['null', { type: 'array', items: 'float' }];
  if (enc.sparse === 'array') {
    const sparseType = (field('sparse').type as [string, { fields: { name: string; type: unknown }[] }])[1];
    sparseType.fields[0]!.type = { type: 'array', items: 'long' };
    sparseType.fields[1]!.type = { type: 'array', items: 'float' };
  }
  return schema as unknown as AvroSchema;
}

export function createLogRecordCodec(enc: VectorEncoding = PACKED): AvroCodec<LogRecord> {
  return defineCodec<LogRecord>({
    name: 'log-record',
    schema: logRecordSchema(enc),
    toAvro(record): AvroEnvelope {
      if (record.kind === 'vector') return { body: { [VECTOR]: vectorToAvro(record, enc) } };
      if (record.kind === 'end') return { body: { [END]: endToAvro(record) } };
      throw invalid(`unknown record kind ${String((record as { kind: unknown }).kind)}`, 'kind');
    },
    fromAvro(value): LogRecord {
      const body = (value as AvroEnvelope).body;
      const vector = body[VECTOR];
      if (vector !== undefined) return vectorFromAvro(vector);
      const end = body[END];
      if (end !== undefined) return { kind: 'end', namespace: end.namespace, count: end.count };
      throw invalid('record body is neither a vector nor an end-of-namespace marker');
    },
  });
}

/** The codec of the records topic. */
export const logRecordCodec: AvroCodec<LogRecord> = createLogRecordCodec();

/** The Avro body of one records-topic message. */
export function encodeRecord(record: LogRecord): Buffer {
  return logRecordCodec.encode(record);
}

export function decodeRecord(buf: Buffer): LogRecord {
  return logRecordCodec.decode(buf);
}
