import {
  DEFAULT_PARTITION,
  EtlError,
  rejectionReason,
  type CollectionPlan,
  type CommitCandidate,
  type RowBatch,
  type SinkWriter,
  type SinkWriterOptions,
  type VectorRecord,
  type WriteRejection,
} from '@p2m/core';
import type { FakeMilvusServer } from './server.ts';

/** Rewrites of writes a restart lost before `preCommit` gives up (as the Milvus sink's writer does). */
const MAX_REWRITES = 3;

interface Retained {
  partition: number;
  epoch: number;
  milvusPartition: string | undefined;
  records: VectorRecord[];
}

/**
 * The `SinkWriter` contract on the in-memory Milvus: `write` answers per record (p2m's rules for the
 * target, then what the server refuses); with `flushBeforeCommit`, what was written is kept until a
 * flush made it durable, and `preCommit` flushes and writes again what a restart lost in between
 * (compared by the server's restart epoch), at most three times. Without it, `preCommit` confirms
 * everything at once: right for a server with a write-ahead log, data loss for a Lite-like one.
 */
export function createFakeWriter(server: FakeMilvusServer, plan: CollectionPlan, options: SinkWriterOptions, use: (name: string) => void): SinkWriter {
  const interval = options.flushIntervalMs ?? 0;
  let retained: Retained[] = [];
  let flushedAt = -Infinity;

  function upsert(milvusPartition: string | undefined, records: VectorRecord[]): void {
    use('upsert');
    server.upsert(plan, milvusPartition, records);
  }

  async function write(batch: RowBatch, partition: number): Promise<{ rejected: WriteRejection[] }> {
    use('write');
    const rejected: WriteRejection[] = [];
    const accepted: VectorRecord[] = [];
    batch.records.forEach((record, index) => {
      const invalid = rejectionReason(plan, record);
      const refused = invalid === null ? server.refuse?.(record) : null;
      if (invalid !== null) rejected.push({ index, code: 'RECORD_INVALID', reason: invalid });
      else if (refused) rejected.push({ index, code: 'RECORD_REJECTED', reason: refused });
      else accepted.push(record);
    });
    const milvusPartition = batch.partition && batch.partition !== DEFAULT_PARTITION ? batch.partition : undefined;
    const epoch = server.epoch;
    if (accepted.length > 0) upsert(milvusPartition, accepted);
    if (options.flushBeforeCommit && accepted.length > 0) retained.push({ partition, epoch, milvusPartition, records: accepted });
    return { rejected };
  }

  async function confirm(due: Retained[]): Promise<void> {
    use('flush');
    server.flush(plan.collection);
    let lost = due.filter((r) => r.epoch !== server.epoch);
    for (let round = 1; lost.length > 0; round++) {
      if (round > MAX_REWRITES) {
        throw new EtlError('TARGET_UNAVAILABLE', `${lost.length} writes could not be confirmed stored after writing them again ${MAX_REWRITES} times`, {
          retriable: false,
        });
      }
      const epoch = server.epoch;
      for (const r of lost) upsert(r.milvusPartition, r.records);
      use('flush');
      server.flush(plan.collection);
      lost = lost.map((r) => ({ ...r, epoch })).filter((r) => r.epoch !== server.epoch);
    }
  }

  async function preCommit(candidates: CommitCandidate[]): Promise<CommitCandidate[]> {
    if (!options.flushBeforeCommit || candidates.length === 0) return candidates;
    if (performance.now() - flushedAt < interval) return [];
    const due = retained;
    retained = [];
    try {
      await confirm(due);
    } catch (err) {
      retained = [...due, ...retained];
      throw err;
    }
    flushedAt = performance.now();
    return candidates;
  }

  function forget(partitions: number[]): void {
    const gone = new Set(partitions);
    retained = retained.filter((r) => !gone.has(r.partition));
  }

  return { write, preCommit, forget };
}
