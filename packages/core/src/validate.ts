import { NAMESPACE_MAX_LENGTH, namespaceAndIdKey, type CollectionPlan } from './plan.ts';
import type { Metadata, MetadataValue, VectorRecord } from './record.ts';

/**
 * Whether a record can ever load into a collection: the one set of rules, shared by the loader's
 * task (which sends refused records to the DLQ with the reason) and the Milvus sink (which checks
 * again before sending, so one bad record never fails a whole batch on the server).
 */

/** Milvus keeps 2^32-1 for itself: a sparse index must be below it ("must be less than 2^32-1"). */
export const MAX_SPARSE_INDEX = 4_294_967_294;
/** Milvus's dynamic (JSON) field holds at most 65,536 bytes per row. */
export const MAX_DYNAMIC_FIELD_BYTES = 65_536;
export const DYNAMIC_FIELD = '$meta';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

const metadataJsonCache = new WeakMap<Metadata, Buffer>();

/**
 * A record's metadata as the JSON document Milvus's dynamic field stores (UTF-8 bytes), made once
 * per metadata object: validation (its size), the loader's batch sizing and the upsert request all
 * need it, and three `JSON.stringify` calls per record were a tenth of the loader's own work on the
 * benchmark's records. Metadata objects are never changed once a record is read, so the first
 * document made stays right; it lives as long as the metadata object does.
 */
export function metadataJson(metadata: Metadata): Buffer {
  let json = metadataJsonCache.get(metadata);
  if (json === undefined) {
    json = Buffer.from(JSON.stringify(metadata), 'utf8');
    metadataJsonCache.set(metadata, json);
  }
  return json;
}

const fieldNamesCache = new WeakMap<CollectionPlan, Set<string>>();

/** The collection's field names, made once per plan (a metadata key may not take one of them). */
function fieldNames(plan: CollectionPlan): Set<string> {
  let names = fieldNamesCache.get(plan);
  if (names === undefined) {
    names = new Set(plan.fields.map((f) => f.name));
    fieldNamesCache.set(plan, names);
  }
  return names;
}

function metadataValueProblem(key: string, value: MetadataValue | unknown): string | null {
  if (typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number')
    return Number.isFinite(value) ? null : `metadata "${key}" is ${String(value)}; JSON (the dynamic field) holds finite numbers only`;
  if (Array.isArray(value)) {
    return value.every((v) => typeof v === 'string') ? null : `metadata "${key}" is a list with non-string items; Pinecone metadata lists hold strings only`;
  }
  return `metadata "${key}" is ${value === null ? 'null' : typeof value}; Pinecone metadata values are strings, numbers, booleans or lists of strings`;
}

/** Records found loadable, with the plan they were checked against. */
const acceptedFor = new WeakMap<VectorRecord, CollectionPlan>();

/**
 * Why Milvus would refuse this record in this collection, or null when it would take it. Checked
 * here so one bad record is named with its reason instead of failing its whole batch on the server.
 *
 * The loader's task and the sink both ask, for the same record and plan: a record found loadable is
 * remembered with its plan (records are never changed once read), so the second ask does not walk
 * every dense value again. A refusal is not remembered; it is rare and its reason is made anew.
 */
export function rejectionReason(plan: CollectionPlan, r: VectorRecord): string | null {
  if (acceptedFor.get(r) === plan) return null;
  const reason = checkRecord(plan, r);
  if (reason === null) acceptedFor.set(r, plan);
  return reason;
}

function checkRecord(plan: CollectionPlan, r: VectorRecord): string | null {
  if (LONE_SURROGATE.test(r.id)) return 'the id is not valid Unicode (lone surrogate), so it cannot be stored as UTF-8 unchanged';
  const idBytes = utf8Bytes(r.id);
  if (idBytes === 0) return 'the id is empty';
  if (idBytes > plan.maxIdLength) {
    return `the id is ${idBytes} bytes, longer than max_length ${plan.maxIdLength} of field "${plan.names.id}" (raise target.maxIdLength to at least ${idBytes})`;
  }
  if (LONE_SURROGATE.test(r.namespace)) return 'the namespace is not valid Unicode (lone surrogate)';
  if (plan.primaryKey === 'namespaceAndId') {
    const keyBytes = utf8Bytes(namespaceAndIdKey(r.namespace, r.id));
    if (keyBytes > plan.primaryKeyMaxLength) {
      return `the primary key (namespace and id) is ${keyBytes} bytes, longer than max_length ${plan.primaryKeyMaxLength} of field "${plan.names.primaryKey}"`;
    }
  }
  if (plan.namespaceMode === 'partitionKey') {
    const nsBytes = utf8Bytes(r.namespace);
    if (nsBytes > NAMESPACE_MAX_LENGTH)
      return `the namespace is ${nsBytes} bytes, longer than max_length ${NAMESPACE_MAX_LENGTH} of field "${plan.names.namespace}"`;
  } else if (plan.partitions[r.namespace] === undefined) {
    return `namespace "${r.namespace}" is not in the job's plan, so it has no partition`;
  }

  // The vector is read into a local once: reading `r.values` through the record on every one of
  // 768 iterations cost 2.5 times as much as the loop itself (bench:floor, validate).
  const dense = r.values;
  if (plan.hasDense) {
    if (!dense) return `the record has no dense values but field "${plan.names.vector}" needs ${plan.dimension}`;
    const n = dense.length;
    if (n !== plan.dimension) return `the dense vector has ${n} dimensions but field "${plan.names.vector}" has ${plan.dimension}`;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(dense[i]!)) return `dense value ${i} is ${String(dense[i])}; Milvus stores finite floats only`;
    }
  } else if (dense && dense.length > 0) {
    return 'the record has dense values but the collection has no dense vector field';
  }

  // No sparse values at all (absent, or present with no entries) is how Pinecone stores a dense
  // record of a hybrid index; only a sparse index needs them on every record.
  if (r.sparse && r.sparse.indices.length === 0 && r.sparse.values.length === 0) {
    if (plan.sparseRows === 'required') return `the record has no sparse values but field "${plan.names.sparseVector}" of this sparse index needs them`;
  } else if (r.sparse) {
    if (!plan.hasSparse) return 'the record has sparse values but the collection has no sparse vector field';
    const { indices, values } = r.sparse;
    if (indices.length !== values.length) return `the sparse vector has ${indices.length} indices but ${values.length} values`;
    const seen = new Set<number>();
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i]!;
      if (!Number.isInteger(index) || index < 0 || index > 4_294_967_295) return `sparse index ${index} is not a uint32`;
      if (index > MAX_SPARSE_INDEX) return `sparse index ${index} (2^32-1) is reserved by Milvus, which stores indices up to ${MAX_SPARSE_INDEX}`;
      if (seen.has(index)) return `sparse index ${index} appears twice`;
      seen.add(index);
      const value = values[i]!;
      if (!Number.isFinite(value)) return `sparse value for index ${index} is ${String(value)}; Milvus stores finite floats only`;
      if (value < 0) return `sparse value for index ${index} is negative (${value}); Milvus sparse vectors hold non-negative weights only`;
    }
    if (values.every((v) => v === 0)) return 'every sparse weight is zero; Milvus stores a sparse vector only with at least one nonzero weight';
  } else if (plan.sparseRows === 'required') {
    return `the record has no sparse values but field "${plan.names.sparseVector}" of this sparse index needs them`;
  }

  if (r.metadata) {
    const schema = fieldNames(plan);
    // In place, no array of [key, value] pairs: every record a loader writes is checked here.
    for (const key in r.metadata) {
      if (!Object.hasOwn(r.metadata, key)) continue;
      const value = r.metadata[key];
      if (key === DYNAMIC_FIELD) return `metadata key "${DYNAMIC_FIELD}" is the name of Milvus's dynamic field itself`;
      if (schema.has(key))
        return `metadata key "${key}" clashes with the collection field of the same name; rename that field (target.fields) so the metadata keeps its key`;
      const problem = metadataValueProblem(key, value);
      if (problem) return problem;
    }
    const bytes = metadataJson(r.metadata).length;
    if (bytes > MAX_DYNAMIC_FIELD_BYTES) return `the metadata is ${bytes} bytes as JSON; Milvus's dynamic field holds at most ${MAX_DYNAMIC_FIELD_BYTES}`;
  }
  return null;
}
