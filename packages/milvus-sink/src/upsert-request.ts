import { endianness } from 'node:os';
import { DYNAMIC_FIELD, metadataJson, namespaceAndIdKey, varintSize, writeVarint, type CollectionPlan, type VectorRecord } from '@p2m/core';

/**
 * The sink's column-wise write task (pure, no I/O): valid `VectorRecord`s straight to the bytes of
 * a Milvus `UpsertRequest` (milvus.proto.milvus, as shipped with the Node SDK), with no row objects
 * in between. A packed float32 vector is already what protobuf puts on the wire for
 * `FloatArray.data` (packed `repeated float`, little-endian), so each dense vector is one memory
 * copy; sparse rows are the `SparseFloatArray` bytes (uint32 LE index + float32 LE value per
 * entry, ascending); metadata is one JSON document per row in the dynamic field (`$meta`), the
 * same bytes the SDK would send (`{}` for a record without metadata).
 *
 * The request is sized first and written into one buffer. Records must have passed
 * `rejectionReason` (the sink checks before calling).
 */

/** milvus.proto.schema.DataType values used here. */
const VARCHAR = 21;
const JSON_TYPE = 23;
const FLOAT_VECTOR = 101;
const SPARSE_FLOAT_VECTOR = 104;

const LITTLE_ENDIAN = endianness() === 'LE';
const EMPTY_JSON = Buffer.from('{}');

/** Size of a length-delimited field with a one-byte tag (every field number here is < 16). */
function lenField(len: number): number {
  return 1 + varintSize(len) + len;
}

class Writer {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  varint(v: number): void {
    this.pos = writeVarint(this.buf, this.pos, v);
  }
  tag(field: number, wire: 0 | 2): void {
    this.buf[this.pos++] = (field << 3) | wire;
  }
  /** Tag + length of a length-delimited field whose body the caller writes next. */
  open(field: number, len: number): void {
    this.tag(field, 2);
    this.varint(len);
  }
  string(field: number, s: string, bytes: number): void {
    this.open(field, bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }
  bytes(field: number, b: Uint8Array): void {
    this.open(field, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** One `schema.FieldData` column: its type, name and the body of its `scalars` (3) or `vectors` (4). */
interface Column {
  type: number;
  name: string;
  nameBytes: number;
  dynamic: boolean;
  /** 3 = scalars, 4 = vectors. */
  slot: 3 | 4;
  bodySize: number;
  writeBody(w: Writer): void;
}

function fieldDataSize(c: Column): number {
  return 1 + varintSize(c.type) + lenField(c.nameBytes) + lenField(c.bodySize) + (c.dynamic ? 2 : 0);
}

function writeFieldData(w: Writer, c: Column): void {
  w.open(5, fieldDataSize(c)); // UpsertRequest.fields_data
  w.tag(1, 0);
  w.varint(c.type);
  w.string(2, c.name, c.nameBytes);
  w.open(c.slot, c.bodySize);
  const start = w.pos;
  c.writeBody(w);
  if (w.pos - start !== c.bodySize) throw new Error(`column "${c.name}": wrote ${w.pos - start} bytes, sized ${c.bodySize}`);
  if (c.dynamic) {
    w.tag(6, 0); // is_dynamic
    w.varint(1);
  }
}

/** A VarChar column: ScalarField.string_data (6) = StringArray { repeated string data = 1 }. */
function stringColumn(name: string, values: string[]): Column {
  const sizes = values.map((v) => Buffer.byteLength(v, 'utf8'));
  const arraySize = sizes.reduce((sum, s) => sum + lenField(s), 0);
  return {
    type: VARCHAR,
    name,
    nameBytes: Buffer.byteLength(name),
    dynamic: false,
    slot: 3,
    bodySize: lenField(arraySize),
    writeBody(w) {
      w.open(6, arraySize);
      for (let i = 0; i < values.length; i++) w.string(1, values[i]!, sizes[i]!);
    },
  };
}

/** The dynamic field: ScalarField.json_data (9) = JSONArray { repeated bytes data = 1 }. */
function jsonColumn(docs: Buffer[]): Column {
  const arraySize = docs.reduce((sum, d) => sum + lenField(d.length), 0);
  return {
    type: JSON_TYPE,
    name: DYNAMIC_FIELD,
    nameBytes: Buffer.byteLength(DYNAMIC_FIELD),
    dynamic: true,
    slot: 3,
    bodySize: lenField(arraySize),
    writeBody(w) {
      w.open(9, arraySize);
      for (const d of docs) w.bytes(1, d);
    },
  };
}

/** VectorField { int64 dim = 1; FloatArray float_vector = 2 { repeated float data = 1 [packed] } }. */
function denseColumn(name: string, dim: number, vectors: Float32Array[]): Column {
  const dataBytes = vectors.length * dim * 4;
  const floatArraySize = lenField(dataBytes);
  return {
    type: FLOAT_VECTOR,
    name,
    nameBytes: Buffer.byteLength(name),
    dynamic: false,
    slot: 4,
    bodySize: 1 + varintSize(dim) + lenField(floatArraySize),
    writeBody(w) {
      w.tag(1, 0);
      w.varint(dim);
      w.open(2, floatArraySize);
      w.open(1, dataBytes);
      for (const v of vectors) {
        if (LITTLE_ENDIAN) {
          w.buf.set(new Uint8Array(v.buffer, v.byteOffset, dim * 4), w.pos);
          w.pos += dim * 4;
        } else {
          for (let d = 0; d < dim; d++) w.pos = w.buf.writeFloatLE(v[d]!, w.pos);
        }
      }
    },
  };
}

/** Whether a record carries sparse values (Pinecone omits them on the dense records of a hybrid index). */
export function hasSparseValues(r: VectorRecord): boolean {
  return r.sparse !== null && r.sparse.indices.length > 0;
}

/** One sparse row as SparseFloatArray content: (uint32 LE index, float32 LE value) pairs, ascending. */
export function sparseRowBytes(sparse: VectorRecord['sparse']): Buffer {
  if (!sparse || sparse.indices.length === 0) return Buffer.alloc(0);
  const { indices, values } = sparse;
  const order = indices.map((_, i) => i);
  for (let i = 1; i < indices.length; i++) {
    if (indices[i]! <= indices[i - 1]!) {
      order.sort((a, b) => indices[a]! - indices[b]!);
      break;
    }
  }
  const out = Buffer.allocUnsafe(order.length * 8);
  for (let k = 0; k < order.length; k++) {
    out.writeUInt32LE(indices[order[k]!]!, k * 8);
    out.writeFloatLE(values[order[k]!]!, k * 8 + 4);
  }
  return out;
}

/** VectorField { int64 dim = 1; SparseFloatArray sparse_float_vector = 6 { repeated bytes contents = 1; int64 dim = 2 } }. */
function sparseColumn(name: string, rows: Buffer[], dim: number): Column {
  const contents = rows.reduce((sum, r) => sum + lenField(r.length), 0);
  const sparseSize = contents + 1 + varintSize(dim);
  return {
    type: SPARSE_FLOAT_VECTOR,
    name,
    nameBytes: Buffer.byteLength(name),
    dynamic: false,
    slot: 4,
    bodySize: 1 + varintSize(dim) + lenField(sparseSize),
    writeBody(w) {
      w.tag(1, 0);
      w.varint(dim);
      w.open(6, sparseSize);
      for (const r of rows) w.bytes(1, r);
      w.tag(2, 0);
      w.varint(dim);
    },
  };
}

/**
 * The serialized `milvus.proto.milvus.UpsertRequest` for these records: one column per schema
 * field of the plan plus `$meta`, `num_rows`, and `partition_name` in partitions mode (absent for
 * `_default` and in partition-key mode, where Milvus routes by the key).
 */
export function encodeUpsertRequest(plan: CollectionPlan, partition: string | undefined, records: readonly VectorRecord[]): Buffer {
  const columns: Column[] = [];
  if (plan.primaryKey === 'namespaceAndId')
    columns.push(
      stringColumn(
        plan.names.primaryKey,
        records.map((r) => namespaceAndIdKey(r.namespace, r.id)),
      ),
    );
  columns.push(
    stringColumn(
      plan.names.id,
      records.map((r) => r.id),
    ),
  );
  if (plan.namespaceMode === 'partitionKey')
    columns.push(
      stringColumn(
        plan.names.namespace,
        records.map((r) => r.namespace),
      ),
    );
  if (plan.hasDense)
    columns.push(
      denseColumn(
        plan.names.vector,
        plan.dimension!,
        records.map((r) => r.values!),
      ),
    );
  // A nullable sparse field is left out of a request whose records have no sparse values: Milvus
  // stores NULL for a nullable field a write omits. (The sink sends such records in a request of
  // their own; valid_data on a sparse column is not read by Milvus Lite 3.2.2.)
  if (plan.hasSparse && !(plan.sparseRows === 'nullable' && !records.some(hasSparseValues))) {
    let dim = 0;
    const rows = records.map((r) => {
      const bytes = sparseRowBytes(r.sparse);
      // Ascending, so the last index is the largest: dim = largest index + 1, as pymilvus sends.
      if (bytes.length > 0) dim = Math.max(dim, bytes.readUInt32LE(bytes.length - 8) + 1);
      return bytes;
    });
    columns.push(sparseColumn(plan.names.sparseVector, rows, dim));
  }
  columns.push(jsonColumn(records.map((r) => (r.metadata ? metadataJson(r.metadata) : EMPTY_JSON))));

  const collectionBytes = Buffer.byteLength(plan.collection);
  const partitionBytes = partition === undefined ? 0 : Buffer.byteLength(partition);
  let size = lenField(collectionBytes) + (partition === undefined ? 0 : lenField(partitionBytes)) + 1 + varintSize(records.length);
  for (const c of columns) size += lenField(fieldDataSize(c));

  const w = new Writer(size);
  w.string(3, plan.collection, collectionBytes);
  if (partition !== undefined) w.string(4, partition, partitionBytes);
  for (const c of columns) writeFieldData(w, c);
  w.tag(7, 0); // num_rows
  w.varint(records.length);
  if (w.pos !== size) throw new Error(`UpsertRequest: wrote ${w.pos} bytes, sized ${size}`);
  return w.buf;
}
