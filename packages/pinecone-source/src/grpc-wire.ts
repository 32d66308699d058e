import { endianness } from 'node:os';
import {
  ProtobufWireError,
  ProtoReader as Reader,
  varintSize,
  WIRE_I32 as I32,
  WIRE_I64 as I64,
  WIRE_LEN as LEN,
  WIRE_VARINT as VARINT,
  writeVarint,
  type SourceVector,
} from '@p2m/core';

/**
 * The protobuf messages of Pinecone's gRPC data plane that the extractor uses (`VectorService`, no
 * package; the same index host serves it as the REST API), written and read by hand:
 *
 *   message FetchRequest  { repeated string ids = 1; string namespace = 2; }
 *   message FetchResponse { map<string, Vector> vectors = 1; string namespace = 2; Usage usage = 3; }
 *   message Vector        { string id = 1; repeated float values = 2; google.protobuf.Struct metadata = 3;
 *                           SparseValues sparse_values = 4; }
 *   message SparseValues  { repeated uint32 indices = 1; repeated float values = 2; }
 *
 * Why by hand: dense values arrive as packed little-endian float32, and are copied once, straight
 * into the Float32Array the record carries, with no `number[]` and no JSON text in between (the
 * REST path parses every value from decimal text: a third of the extractor's CPU). Metadata
 * (`google.protobuf.Struct`) becomes the same plain object REST's JSON gives. Unknown fields are
 * skipped, and repeated scalars are read packed or not, as protobuf requires of a parser.
 */

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

const WHAT = 'gRPC fetch response';

// ---- writing ------------------------------------------------------------------------------

/** FetchRequest { ids = 1; namespace = 2 } */
export function encodeFetchRequest(ids: readonly string[], namespace: string): Buffer {
  const strings = [...ids.map((id) => ({ field: 1, bytes: Buffer.from(id, 'utf8') })), { field: 2, bytes: Buffer.from(namespace, 'utf8') }];
  const size = strings.reduce((sum, s) => sum + 1 + varintSize(s.bytes.length) + s.bytes.length, 0);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const s of strings) {
    out[pos++] = (s.field << 3) | LEN;
    pos = writeVarint(out, pos, s.bytes.length);
    pos += s.bytes.copy(out, pos);
  }
  return out;
}

// ---- reading ------------------------------------------------------------------------------

/**
 * Floats of a packed field, copied once into a 4-byte-aligned Float32Array. Under 4 KB (up to 1,024
 * dimensions) the copy goes to Node's shared Buffer pool, whose slices are 8-byte aligned, rather
 * than to an ArrayBuffer of its own per record, which the garbage collector tracks one by one (as
 * `unpackFloat32` in @p2m/codec does for the same reason).
 */
function packedFloats(r: Reader): Float32Array {
  const { start, end } = r.span();
  const bytes = end - start;
  if (bytes % 4 !== 0) throw new ProtobufWireError(WHAT, `packed float field of ${bytes} bytes`);
  if (LITTLE_ENDIAN_HOST) {
    const copy = Buffer.allocUnsafe(bytes);
    r.buf.copy(copy, 0, start, end);
    if (copy.byteOffset % 4 === 0) return new Float32Array(copy.buffer, copy.byteOffset, bytes / 4);
    return new Float32Array(new Uint8Array(copy).buffer);
  }
  const out = new Float32Array(bytes / 4);
  for (let i = 0; i < out.length; i++) out[i] = r.buf.readFloatLE(start + i * 4);
  return out;
}

/** A repeated float field, packed (LEN) or one value per field (I32), possibly split. */
interface FloatList {
  chunks: Float32Array[];
  loose: number[];
}

function addFloats(list: FloatList, r: Reader, wireType: number): void {
  if (wireType === LEN) {
    if (list.loose.length > 0) {
      list.chunks.push(Float32Array.from(list.loose));
      list.loose = [];
    }
    list.chunks.push(packedFloats(r));
  } else if (wireType === I32) list.loose.push(r.float());
  else throw new ProtobufWireError(WHAT, `float field with wire type ${wireType}`);
}

function finishFloats(list: FloatList): Float32Array {
  if (list.loose.length > 0) list.chunks.push(Float32Array.from(list.loose));
  if (list.chunks.length === 1) return list.chunks[0]!;
  const out = new Float32Array(list.chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of list.chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function uint32s(r: Reader, wireType: number, into: number[]): void {
  if (wireType === LEN) {
    const sub = r.sub();
    while (sub.more) into.push(sub.varint() >>> 0);
  } else if (wireType === VARINT) into.push(r.varint() >>> 0);
  else throw new ProtobufWireError(WHAT, `uint32 field with wire type ${wireType}`);
}

// google.protobuf.Struct / Value / ListValue -> the plain JSON value REST would give.

function structValue(r: Reader): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  while (r.more) {
    const tag = r.varint();
    if (tag >>> 3 !== 1 || (tag & 7) !== LEN) {
      r.skip(tag & 7);
      continue;
    }
    // map<string, Value> fields = 1: entries { string key = 1; Value value = 2; }
    const entry = r.sub();
    let key = '';
    let value: unknown = null;
    while (entry.more) {
      const t = entry.varint();
      if (t === ((1 << 3) | LEN)) key = entry.string();
      else if (t === ((2 << 3) | LEN)) value = valueOf(entry.sub());
      else entry.skip(t & 7);
    }
    // A key named "__proto__" would otherwise set the object's prototype.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function valueOf(r: Reader): unknown {
  let value: unknown = null;
  while (r.more) {
    const tag = r.varint();
    switch (tag) {
      case (1 << 3) | VARINT: // null_value
        r.varint();
        value = null;
        break;
      case (2 << 3) | I64: // number_value
        value = r.double();
        break;
      case (3 << 3) | LEN: // string_value
        value = r.string();
        break;
      case (4 << 3) | VARINT: // bool_value
        value = r.varint() !== 0;
        break;
      case (5 << 3) | LEN: // struct_value
        value = structValue(r.sub());
        break;
      case (6 << 3) | LEN: {
        // list_value: ListValue { repeated Value values = 1; }
        const list = r.sub();
        const items: unknown[] = [];
        while (list.more) {
          const t = list.varint();
          if (t === ((1 << 3) | LEN)) items.push(valueOf(list.sub()));
          else list.skip(t & 7);
        }
        value = items;
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  return value;
}

function vectorOf(r: Reader): SourceVector {
  let id = '';
  const values: FloatList = { chunks: [], loose: [] };
  let sparse: { indices: number[]; values: FloatList } | undefined;
  let metadata: Record<string, unknown> | undefined;
  while (r.more) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === LEN) id = r.string();
    else if (field === 2) addFloats(values, r, wireType);
    else if (field === 3 && wireType === LEN) metadata = structValue(r.sub());
    else if (field === 4 && wireType === LEN) {
      sparse ??= { indices: [], values: { chunks: [], loose: [] } };
      const s = r.sub();
      while (s.more) {
        const t = s.varint();
        if (t >>> 3 === 1) uint32s(s, t & 7, sparse.indices);
        else if (t >>> 3 === 2) addFloats(sparse.values, s, t & 7);
        else s.skip(t & 7);
      }
    } else r.skip(wireType);
  }
  const out: SourceVector = { id, values: finishFloats(values) };
  if (sparse) out.sparseValues = { indices: sparse.indices, values: finishFloats(sparse.values) };
  if (metadata) out.metadata = metadata;
  return out;
}

export interface FetchResponse {
  /** By map key, as the server sent them (a later entry of the same key replaces an earlier one). */
  vectors: Map<string, SourceVector>;
  namespace: string;
}

export function decodeFetchResponse(buf: Buffer): FetchResponse {
  const r = new Reader(buf, WHAT);
  const vectors = new Map<string, SourceVector>();
  let namespace = '';
  while (r.more) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === LEN) {
      const entry = r.sub();
      let key: string | undefined;
      let vector: SourceVector | undefined;
      while (entry.more) {
        const t = entry.varint();
        if (t === ((1 << 3) | LEN)) key = entry.string();
        else if (t === ((2 << 3) | LEN)) vector = vectorOf(entry.sub());
        else entry.skip(t & 7);
      }
      vector ??= { id: key ?? '', values: new Float32Array(0) };
      if (!vector.id && key !== undefined) vector.id = key;
      vectors.set(key ?? vector.id, vector);
    } else if (field === 2 && wireType === LEN) namespace = r.string();
    else r.skip(wireType);
  }
  return { vectors, namespace };
}
