import { endianness } from 'node:os';
import { DYNAMIC_FIELD, ProtoEncoder, ProtoReader, type CollectionPlan, type Metadata, type VectorRecord } from '@p2m/core';
import { decodeStatus, successStatus, type MutationResult } from './grpc-writer.ts';

/**
 * Verification's read path, column-wise (pure, no I/O): a `QueryRequest` (milvus.proto.milvus) in
 * bytes, and the `QueryResults` answer straight to `VectorRecord`s. The Node SDK turns every answer
 * into row objects one field at a time (an object copy per row per field: ~250 µs per 768-d row,
 * measured, more than the server spends); here a float vector column is one memory copy and each
 * row's vector a view on it, sparse rows are read from their bytes, `$meta` is parsed once per row.
 */

const LITTLE_ENDIAN = endianness() === 'LE';
const WHAT = 'Milvus query answer';

export interface QueryRequestOptions {
  collection: string;
  expr: string;
  outputFields: readonly string[];
  partitionNames?: readonly string[] | undefined;
  /** Sent as `query_params` (limit, iterator, ...), as the SDK does. */
  params?: Record<string, string> | undefined;
  /**
   * Read every write with an earlier timestamp (a flush's): the query is sent at the Customized
   * consistency level with this guarantee timestamp. Without it the query is Strong.
   */
  guaranteeTs?: bigint | undefined;
}

/** common.ConsistencyLevel: the guarantee timestamp is the request's own. */
const CUSTOMIZED = 4;

/**
 * milvus.QueryRequest: collection_name (3), expr (4), output_fields (5), partition_names (6),
 * guarantee_timestamp (8), query_params (9, KeyValuePair key 1 / value 2), consistency_level (11).
 *
 * Verification reads after a flush and wants every acknowledged write. Strong (the level's default,
 * 0) gets that by making each query wait until the server has caught up with the moment the query
 * arrived: on Milvus 2.3 that is its next time tick, about 200 ms, for every query. A guarantee
 * timestamp taken once (the flush's) asks for the same writes, and once the server is past it no
 * query waits again.
 */
export function encodeQueryRequest(o: QueryRequestOptions): Buffer {
  const e = new ProtoEncoder();
  e.string(3, o.collection);
  e.string(4, o.expr);
  for (const f of o.outputFields) e.string(5, f);
  for (const p of o.partitionNames ?? []) e.string(6, p);
  if (o.guaranteeTs !== undefined) e.uint64(8, o.guaranteeTs);
  for (const [key, value] of Object.entries(o.params ?? {})) {
    const kv = new ProtoEncoder();
    kv.string(1, key);
    kv.string(2, value);
    e.bytes(9, kv.finish());
  }
  if (o.guaranteeTs !== undefined) e.uint(11, CUSTOMIZED);
  return e.finish();
}

/** One `schema.FieldData` of an answer, kept as raw columns. */
export interface QueryColumn {
  name: string;
  strings?: string[];
  json?: Buffer[];
  /** Float vector column: all rows' values, `dim` per row. */
  floats?: Float32Array;
  dim?: number;
  sparse?: Buffer[];
  /** Present for nullable fields: which rows hold a value. */
  valid?: boolean[];
}

export interface QueryAnswer {
  status: MutationResult['status'];
  columns: Map<string, QueryColumn>;
}

function floatsOf(bytes: Buffer): Float32Array {
  const out = new Float32Array(bytes.length >>> 2);
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  else for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** Repeated length-delimited values of field 1 in a message body (StringArray, JSONArray, SparseFloatArray). */
function repeatedBytes(body: Buffer, field = 1): Buffer[] {
  const out: Buffer[] = [];
  const r = new ProtoReader(body, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    if (tag >>> 3 === field && (tag & 7) === 2) out.push(r.bytes());
    else r.skip(tag & 7);
  }
  return out;
}

function decodeScalars(body: Buffer, column: QueryColumn): void {
  const r = new ProtoReader(body, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    if (field === 6 && (tag & 7) === 2) column.strings = repeatedBytes(r.bytes()).map((b) => b.toString('utf8'));
    else if (field === 9 && (tag & 7) === 2) column.json = repeatedBytes(r.bytes());
    else r.skip(tag & 7);
  }
}

function decodeVectors(body: Buffer, column: QueryColumn): void {
  const r = new ProtoReader(body, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) column.dim = r.varint();
    else if (field === 2 && wire === 2) {
      // FloatArray { repeated float data = 1 }: packed (one length-delimited run) or, unusually, one float per tag.
      const array = r.bytes();
      const arr = new ProtoReader(array, WHAT);
      const runs: Buffer[] = [];
      while (arr.pos < arr.end) {
        const t = arr.varint();
        if (t === ((1 << 3) | 2)) runs.push(arr.bytes());
        else if (t === ((1 << 3) | 5)) {
          runs.push(array.subarray(arr.pos, arr.pos + 4));
          arr.skip(5);
        } else arr.skip(t & 7);
      }
      column.floats = floatsOf(runs.length === 1 ? runs[0]! : Buffer.concat(runs));
    } else if (field === 6 && wire === 2) column.sparse = repeatedBytes(r.bytes());
    else r.skip(wire);
  }
}

function decodeValid(r: ProtoReader, wire: number, column: QueryColumn): void {
  column.valid ??= [];
  if (wire === 2) {
    const packed = new ProtoReader(r.bytes(), WHAT);
    while (packed.pos < packed.end) column.valid.push(packed.varint() !== 0);
  } else column.valid.push(r.varint() !== 0);
}

function decodeFieldData(body: Buffer): QueryColumn {
  const column: QueryColumn = { name: '' };
  const r = new ProtoReader(body, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 2 && wire === 2) column.name = r.bytes().toString('utf8');
    else if (field === 3 && wire === 2) decodeScalars(r.bytes(), column);
    else if (field === 4 && wire === 2) decodeVectors(r.bytes(), column);
    else if (field === 7) decodeValid(r, wire, column);
    else r.skip(wire);
  }
  return column;
}

/** milvus.QueryResults: status (1), fields_data (2); the rest is not needed here. */
export function decodeQueryResults(bytes: Buffer): QueryAnswer {
  const answer: QueryAnswer = { status: successStatus(), columns: new Map() };
  const r = new ProtoReader(bytes, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) answer.status = decodeStatus(r.bytes());
    else if (field === 2 && wire === 2) {
      const column = decodeFieldData(r.bytes());
      answer.columns.set(column.name, column);
    } else r.skip(wire);
  }
  return answer;
}

/**
 * A nullable column's values, one slot per row: the server sends either one value per row
 * ("row-dense") or only the valid rows' values ("compact"); both are read, as the SDK does.
 */
function physicalIndex(column: QueryColumn, values: number, rows: number): (row: number) => number | null {
  const valid = column.valid;
  if (!valid || valid.length === 0 || valid.every(Boolean)) return (row) => (row < values ? row : null);
  if (values === rows) return (row) => (valid[row] ? row : null);
  const map = new Int32Array(rows).fill(-1);
  let next = 0;
  for (let i = 0; i < rows; i++) if (valid[i]) map[i] = next++;
  return (row) => (map[row]! >= 0 ? map[row]! : null);
}

/** SparseFloatArray row bytes: (uint32 LE index, float32 LE value) pairs. Zero weights hold nothing (the SDK drops them too). */
function sparseRow(bytes: Buffer): VectorRecord['sparse'] {
  const pairs: [number, number][] = [];
  for (let i = 0; i + 8 <= bytes.length; i += 8) {
    const value = bytes.readFloatLE(i + 4);
    if (value !== 0) pairs.push([bytes.readUInt32LE(i), value]);
  }
  if (pairs.length === 0) return null;
  pairs.sort((a, b) => a[0] - b[0]);
  return { indices: pairs.map((p) => p[0]), values: Float32Array.from(pairs, (p) => p[1]) };
}

/** Whether an object has an own key (without making the array of them, once per row). */
function hasOwnKeys(o: object): boolean {
  for (const key in o) if (Object.hasOwn(o, key)) return true;
  return false;
}

/**
 * The answer's rows as records: id, namespace (the namespace field, or `namespace` in partitions
 * mode), dense values (a view on the column), sparse values (null for NULL or an empty row), and
 * metadata (the dynamic field's keys; null when it has none).
 */
export function answerToRecords(plan: CollectionPlan, answer: QueryAnswer, namespace: string): VectorRecord[] {
  const ids = answer.columns.get(plan.names.id)?.strings ?? [];
  const rows = ids.length;
  const nsColumn = plan.namespaceMode === 'partitionKey' ? answer.columns.get(plan.names.namespace)?.strings : undefined;
  const dense = plan.hasDense ? answer.columns.get(plan.names.vector) : undefined;
  const dim = dense?.dim ?? plan.dimension ?? 0;
  const denseAt = dense?.floats && dim > 0 ? physicalIndex(dense, dense.floats.length / dim, rows) : null;
  const sparse = plan.hasSparse ? answer.columns.get(plan.names.sparseVector) : undefined;
  const sparseAt = sparse?.sparse ? physicalIndex(sparse, sparse.sparse.length, rows) : null;
  const meta = answer.columns.get(DYNAMIC_FIELD);
  const metaAt = meta?.json ? physicalIndex(meta, meta.json.length, rows) : null;
  const out: VectorRecord[] = [];
  for (let row = 0; row < rows; row++) {
    const d = denseAt?.(row) ?? null;
    const s = sparseAt?.(row) ?? null;
    const m = metaAt?.(row) ?? null;
    let metadata: Metadata | null = null;
    if (m !== null) {
      const text = meta!.json![m]!;
      if (text.length > 0) {
        const parsed = JSON.parse(text.toString('utf8')) as Metadata | null;
        if (parsed && typeof parsed === 'object' && hasOwnKeys(parsed)) metadata = parsed;
      }
    }
    out.push({
      kind: 'vector',
      namespace: nsColumn?.[row] ?? namespace,
      id: ids[row]!,
      values: d === null ? null : dense!.floats!.subarray(d * dim, (d + 1) * dim),
      sparse: s === null ? null : sparseRow(sparse!.sparse![s]!),
      metadata,
    });
  }
  return out;
}
