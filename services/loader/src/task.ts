import {
  MILVUS_REQUEST_LIMIT_BYTES,
  schemaFieldNames,
  type CollectionPlan,
  type RowBatch,
  type VectorRecord,
} from '@p2m/core';

/**
 * The loader's task (after Kafka Connect's `SinkTask.put`): records in, Milvus batches out, and the
 * records that can never load out to the dead-letter queue with a reason. Pure: no I/O.
 */

export interface SourcedRecord {
  record: VectorRecord;
  /** Where it came from in the records topic, `partition:offset`. */
  source: string;
}

export interface Rejection {
  record: VectorRecord;
  source: string;
  code: 'RECORD_INVALID' | 'RECORD_REJECTED';
  reason: string;
}

export interface PlannedBatch extends RowBatch {
  sources: string[];
  bytes: number;
}

const UINT32_MAX = 4_294_967_295;
/** Milvus's dynamic (JSON) field holds at most 65,536 bytes per row. */
const MAX_DYNAMIC_BYTES = 65_536;

/** Approximate bytes a record takes in an upsert request (vectors dominate). */
export function estimateBytes(r: VectorRecord, metadataBytes: number): number {
  return 64 + r.id.length * 2 + r.namespace.length + (r.values ? r.values.length * 4 : 0) + (r.sparse ? r.sparse.indices.length * 8 : 0) + metadataBytes;
}

/** Why this record can never load into this collection, or null when it can. */
export function rejectionReason(plan: CollectionPlan, r: VectorRecord, reserved: Set<string>): string | null {
  const idBytes = Buffer.byteLength(r.id, 'utf8');
  if (idBytes === 0) return 'the record id is empty';
  if (idBytes > plan.maxIdLength) {
    return `id is ${idBytes} bytes, longer than the target's max_length ${plan.maxIdLength} (field "${plan.names.id}"); re-run with target.maxIdLength ≥ ${idBytes}`;
  }
  if (plan.namespaceMode === 'partitions' && plan.partitions[r.namespace] === undefined) {
    return `namespace "${r.namespace}" was not part of the job's plan, so it has no partition`;
  }
  if (plan.hasDense) {
    if (!r.values) return `the record has no dense values but field "${plan.names.vector}" needs ${plan.dimension}`;
    if (r.values.length !== plan.dimension) {
      return `dense vector has ${r.values.length} dimensions but field "${plan.names.vector}" has ${plan.dimension}`;
    }
    for (let i = 0; i < r.values.length; i++) {
      if (!Number.isFinite(r.values[i]!)) return `dense value at position ${i} is ${String(r.values[i])}; Milvus stores finite floats only`;
    }
  } else if (r.values && r.values.length > 0) {
    return `the record has dense values but the target collection has no dense vector field`;
  }
  if (r.sparse) {
    if (!plan.hasSparse) return `the record has sparse values but the target collection has no sparse vector field`;
    const { indices, values } = r.sparse;
    if (indices.length !== values.length) return `sparse vector has ${indices.length} indices but ${values.length} values`;
    const seen = new Set<number>();
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i]!;
      if (!Number.isInteger(index) || index < 0 || index > UINT32_MAX) return `sparse index ${index} is not a uint32`;
      if (seen.has(index)) return `sparse index ${index} appears twice`;
      seen.add(index);
      if (!Number.isFinite(values[i]!)) return `sparse value for index ${index} is ${String(values[i])}; Milvus stores finite floats only`;
    }
  } else if (plan.hasSparse && !plan.hasDense) {
    return `the record has no sparse values but the collection is sparse-only`;
  }
  if (r.metadata) {
    for (const key of Object.keys(r.metadata)) {
      if (reserved.has(key)) {
        return `metadata key "${key}" clashes with the target field of the same name; rename that field (target.fields) so the metadata keeps its key`;
      }
    }
  }
  return null;
}

/**
 * Validate records and cut them into upsert batches of at most `maxBytes` (and one partition each
 * in partitions mode), keeping their order so the last write of an id wins as in the source.
 */
export function planBatches(plan: CollectionPlan, records: SourcedRecord[], maxBytes: number): { batches: PlannedBatch[]; rejected: Rejection[] } {
  const limit = Math.min(maxBytes, MILVUS_REQUEST_LIMIT_BYTES / 2);
  const reserved = schemaFieldNames(plan);
  reserved.add('$meta');
  const rejected: Rejection[] = [];
  const open = new Map<string, PlannedBatch>();
  const batches: PlannedBatch[] = [];

  for (const item of records) {
    const r = item.record;
    const reason = rejectionReason(plan, r, reserved);
    const metadataBytes = r.metadata ? Buffer.byteLength(JSON.stringify(r.metadata), 'utf8') : 0;
    const tooBig = reason === null && metadataBytes > MAX_DYNAMIC_BYTES ? `metadata is ${metadataBytes} bytes as JSON; Milvus's dynamic field holds at most ${MAX_DYNAMIC_BYTES}` : null;
    if (reason !== null || tooBig !== null) {
      rejected.push({ record: r, source: item.source, code: 'RECORD_INVALID', reason: (reason ?? tooBig)! });
      continue;
    }
    const partition = plan.namespaceMode === 'partitions' ? plan.partitions[r.namespace] : undefined;
    const slot = partition ?? '';
    const bytes = estimateBytes(r, metadataBytes);
    let batch = open.get(slot);
    if (batch && batch.bytes + bytes > limit && batch.records.length > 0) {
      batches.push(batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { partition, records: [], sources: [], bytes: 0 };
      open.set(slot, batch);
    }
    batch.records.push(r);
    batch.sources.push(item.source);
    batch.bytes += bytes;
  }
  for (const batch of open.values()) if (batch.records.length > 0) batches.push(batch);
  return { batches, rejected };
}

/**
 * Within one upsert request Milvus keeps one row per primary key; keep the last occurrence (the
 * latest in log order), as the source would.
 */
export function dedupeLastWins(batch: PlannedBatch): PlannedBatch {
  const last = new Map<string, number>();
  batch.records.forEach((r, i) => last.set(`${r.namespace}\u0000${r.id}`, i));
  if (last.size === batch.records.length) return batch;
  const keep = [...last.values()].sort((a, b) => a - b);
  return {
    partition: batch.partition,
    records: keep.map((i) => batch.records[i]!),
    sources: keep.map((i) => batch.sources[i]!),
    bytes: batch.bytes,
  };
}
