import {
  DYNAMIC_FIELD,
  MAX_DYNAMIC_FIELD_BYTES,
  MAX_SPARSE_INDEX,
  namespaceAndIdKey,
  rejectionReason,
  type CollectionPlan,
  type Metadata,
  type MetadataValue,
  type VectorRecord,
} from '@p2m/core';

export { DYNAMIC_FIELD, MAX_DYNAMIC_FIELD_BYTES, MAX_SPARSE_INDEX, rejectionReason };

/**
 * The sink's task (pure, no I/O): `VectorRecord` ↔ Milvus row, by the mapping rules of DESIGN.md.
 * Rows are what the Node SDK takes: schema fields by name, every other key goes to the dynamic
 * field (`$meta`), so metadata keys are spread into the row with their values as they are.
 */

export type MilvusRow = Record<string, unknown>;

export interface RejectedRecord {
  /** Position in the batch. */
  index: number;
  namespace: string;
  id: string;
  reason: string;
}

/** Sparse entries sorted by index, as Milvus requires; the vector itself is unchanged. */
function sortedSparse(indices: readonly number[], values: ArrayLike<number>): { indices: number[]; values: number[] } {
  const order = indices.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < indices.length; i++) {
    if (indices[i]! <= indices[i - 1]!) {
      sorted = false;
      break;
    }
  }
  if (!sorted) order.sort((a, b) => indices[a]! - indices[b]!);
  return { indices: order.map((i) => indices[i]!), values: order.map((i) => values[i]!) };
}

/**
 * One Milvus row for a valid record (see `rejectionReason`). Dense values become a plain number
 * array (the SDK deep-copies rows through JSON, which would turn a Float32Array into an object);
 * every float32 is a double exactly, so nothing is rounded. Sparse vectors go as `{ indices, values }`
 * (an array of pairs would be stored empty). A hybrid record without sparse values leaves a
 * nullable sparse field out (NULL), or gets an empty sparse vector where the plan says `emptyRow`.
 */
export function buildRow(plan: CollectionPlan, r: VectorRecord): MilvusRow {
  const row: MilvusRow = {};
  if (r.metadata) for (const key of Object.keys(r.metadata)) row[key] = r.metadata[key];
  if (plan.primaryKey === 'namespaceAndId') row[plan.names.primaryKey] = namespaceAndIdKey(r.namespace, r.id);
  row[plan.names.id] = r.id;
  if (plan.namespaceMode === 'partitionKey') row[plan.names.namespace] = r.namespace;
  if (plan.hasDense && r.values) row[plan.names.vector] = Array.from(r.values);
  if (plan.hasSparse) {
    if (r.sparse && r.sparse.indices.length > 0) row[plan.names.sparseVector] = sortedSparse(r.sparse.indices, r.sparse.values);
    else if (plan.sparseRows !== 'nullable') row[plan.names.sparseVector] = { indices: [], values: [] };
  }
  return row;
}

/** Rows for the valid records; the others with their reasons. */
export function buildRows(plan: CollectionPlan, records: readonly VectorRecord[]): { rows: MilvusRow[]; rejected: RejectedRecord[] } {
  const rows: MilvusRow[] = [];
  const rejected: RejectedRecord[] = [];
  records.forEach((r, index) => {
    const reason = rejectionReason(plan, r);
    if (reason === null) rows.push(buildRow(plan, r));
    else rejected.push({ index, namespace: r.namespace, id: r.id, reason });
  });
  return { rows, rejected };
}

/** The fields to ask for when reading records back. */
export function outputFields(plan: CollectionPlan): string[] {
  const fields = [plan.names.id];
  if (plan.namespaceMode === 'partitionKey') fields.push(plan.names.namespace);
  if (plan.hasDense) fields.push(plan.names.vector);
  if (plan.hasSparse) fields.push(plan.names.sparseVector);
  fields.push(DYNAMIC_FIELD);
  return fields;
}

function parseSparse(value: unknown): VectorRecord['sparse'] {
  if (value === null || value === undefined || typeof value !== 'object') return null;
  let pairs: [number, number][];
  if ('indices' in value && 'values' in value) {
    const v = value as { indices: ArrayLike<number>; values: ArrayLike<number> };
    pairs = Array.from(v.indices, (index, i) => [Number(index), Number(v.values[i])]);
  } else {
    pairs = Object.entries(value as Record<string, unknown>).map(([k, v]) => [Number(k), Number(v)]);
  }
  if (pairs.length === 0) return null;
  pairs.sort((a, b) => a[0] - b[0]);
  return { indices: pairs.map((p) => p[0]), values: Float32Array.from(pairs, (p) => p[1]) };
}

/**
 * A row read back from Milvus as the source model, so a verifier can compare field by field:
 * dense as Float32Array, sparse sorted by index (entries whose value is 0 are not returned by the
 * SDK), metadata = the dynamic field's keys (null when it has none), namespace from the namespace
 * field or, in partitions mode, the namespace that was asked for.
 */
export function rowToRecord(plan: CollectionPlan, namespace: string, row: MilvusRow): VectorRecord {
  const schema = new Set(plan.fields.map((f) => f.name));
  const metadata: Metadata = {};
  const dynamic = row[DYNAMIC_FIELD];
  if (dynamic && typeof dynamic === 'object' && !Array.isArray(dynamic)) Object.assign(metadata, dynamic);
  // Some servers and SDKs return dynamic keys at the top level instead of under $meta.
  for (const [key, value] of Object.entries(row)) {
    if (key !== DYNAMIC_FIELD && !schema.has(key)) metadata[key] = value as MetadataValue;
  }
  const dense = plan.hasDense ? row[plan.names.vector] : undefined;
  return {
    kind: 'vector',
    namespace: plan.namespaceMode === 'partitionKey' ? String(row[plan.names.namespace] ?? namespace) : namespace,
    id: String(row[plan.names.id]),
    values: Array.isArray(dense) || ArrayBuffer.isView(dense) ? Float32Array.from(dense as ArrayLike<number>) : null,
    sparse: plan.hasSparse ? parseSparse(row[plan.names.sparseVector]) : null,
    metadata: Object.keys(metadata).length > 0 ? metadata : null,
  };
}
