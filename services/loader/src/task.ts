import { metadataJson, MILVUS_REQUEST_LIMIT_BYTES, primaryKeyOf, rejectionReason, type CollectionPlan, type RowBatch, type VectorRecord } from '@p2m/core';

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

/** Approximate bytes a record takes in an upsert request (vectors dominate). */
export function estimateBytes(r: VectorRecord, metadataBytes: number): number {
  return 64 + r.id.length * 2 + r.namespace.length + (r.values ? r.values.length * 4 : 0) + (r.sparse ? r.sparse.indices.length * 8 : 0) + metadataBytes;
}

/**
 * Validate records and cut them into upsert batches of at most `maxBytes` (and one partition each
 * in partitions mode), keeping their order so the last write of an id wins as in the source.
 */
export function planBatches(plan: CollectionPlan, records: SourcedRecord[], maxBytes: number): { batches: PlannedBatch[]; rejected: Rejection[] } {
  const limit = Math.min(maxBytes, MILVUS_REQUEST_LIMIT_BYTES / 2);
  const rejected: Rejection[] = [];
  const open = new Map<string, PlannedBatch>();
  const batches: PlannedBatch[] = [];

  for (const item of records) {
    const r = item.record;
    const reason = rejectionReason(plan, r);
    if (reason !== null) {
      rejected.push({ record: r, source: item.source, code: 'RECORD_INVALID', reason });
      continue;
    }
    const metadataBytes = r.metadata ? metadataJson(r.metadata).length : 0;
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
 * One upsert request must hold one row per primary key: keep the last occurrence (the latest in
 * log order), as the source would. Keyed by the target's primary key, not by (namespace, id): with
 * `primaryKey: "id"` and a partition key, the same id from two namespaces is one row, and a request
 * carrying both left Milvus Lite storing a row that matched neither copy.
 */
export function dedupeLastWins(plan: Pick<CollectionPlan, 'primaryKey'>, batch: PlannedBatch): PlannedBatch {
  const last = new Map<string, number>();
  batch.records.forEach((r, i) => last.set(primaryKeyOf(plan, r.namespace, r.id), i));
  if (last.size === batch.records.length) return batch;
  const keep = [...last.values()].sort((a, b) => a - b);
  return {
    partition: batch.partition,
    records: keep.map((i) => batch.records[i]!),
    sources: keep.map((i) => batch.sources[i]!),
    bytes: batch.bytes,
  };
}
