import {
  DEFAULT_PARTITION,
  EtlError,
  primaryKeyOf,
  rejectionReason,
  type CollectionPlan,
  type CommitCandidate,
  type RowBatch,
  type SinkReader,
  type SinkWriter,
  type SinkWriterOptions,
  type VectorRecord,
  type WriteRejection,
  type WriteResult,
} from '@p2m/core';
import type { RowData } from '@zilliz/milvus2-sdk-node';
import type { MilvusConnection } from './connection.ts';
import { checked, checkedCall, toEtlError, type FailureContext } from './errors.ts';
import { fieldIn } from './filter.ts';
import { encodeDeleteRequest } from './grpc-writer.ts';
import { ensureIndexes } from './indexes.ts';
import { buildRow } from './rows.ts';
import { encodeUpsertRequest, hasSparseValues } from './upsert-request.ts';

/**
 * The loader's view of the target (`SinkWriter`). `write` validates every record against the
 * plan's rules, sends the valid ones (one request per Milvus partition, and for a nullable sparse
 * field one for the records with sparse values and one for those without), and answers per record.
 * `preCommit` owns durability: for a target that keeps acknowledged writes in memory (Milvus Lite)
 * it flushes at most once per interval and makes sure the server that acknowledged the writes is
 * the one that flushed them — the connection epoch, or a read-back where there is none — writing
 * again, a bounded number of times, what a restart lost.
 */

/** Rewrites of writes a restart lost before `preCommit` gives up and fails the job with the reason. */
export const MAX_REWRITES = 3;
/** Records Milvus refuses in a row, with none accepted, before the writer stops calling it a record problem. */
export const MAX_REFUSED_IN_A_ROW = 100;
const KEYS_PER_LOOKUP = 256;
/** How long a write waits for its channel to connect before it is sent anyway (see GrpcWriter.ready). */
const READY_WAIT_MS = 2_000;

/** The distinct primary keys of these records, in requests of at most KEYS_PER_LOOKUP. */
function* keyChunks(plan: CollectionPlan, records: readonly VectorRecord[]): Generator<string[]> {
  const keys = [...new Set(records.map((r) => primaryKeyOf(plan, r.namespace, r.id)))];
  for (let i = 0; i < keys.length; i += KEYS_PER_LOOKUP) yield keys.slice(i, i + KEYS_PER_LOOKUP);
}

/** The distinct topic partitions of these writes, ascending (for the durability events). */
const partitionsOf = (writes: readonly { partition: number }[]): number[] => [...new Set(writes.map((w) => w.partition))].sort((a, b) => a - b);

/** Records written since the last confirmed flush, kept to be confirmed or written again. */
interface Retained {
  partition: number;
  /** The connection epoch before the first request of the write; null when unknown. */
  epoch: number | null;
  groups: { milvusPartition: string | undefined; records: VectorRecord[] }[];
}

export function createWriter(conn: MilvusConnection, plan: CollectionPlan, reader: SinkReader, options: SinkWriterOptions): SinkWriter {
  const interval = options.flushIntervalMs ?? 2_000;
  let retained: Retained[] = [];
  let flushedAt = performance.now();
  let turn: Promise<unknown> = Promise.resolve();
  let refusedInARow = 0;
  let loaded = false;

  const context = (records: number, partition: string | undefined): FailureContext => ({
    what: `upsert of ${records} rows into "${plan.collection}"${partition ? ` partition "${partition}"` : ''}`,
    permanent: 'RECORD_REJECTED',
    collection: plan.collection,
  });

  /** One request. Resolves with the indexes Milvus refused (err_index); throws when the request failed. */
  async function send(partition: string | undefined, records: VectorRecord[]): Promise<number[]> {
    const target = partition && partition !== DEFAULT_PARTITION ? partition : undefined;
    const ctx = context(records.length, target);
    let res: { status?: unknown; err_index?: readonly unknown[]; upsert_cnt?: unknown };
    // The SDK sends every schema field as a column, also a nullable one the records have no value
    // for, which Milvus Lite refuses ("has 0 rows, expected 2"): such requests go column-wise.
    const columnWise = conn.writerKind === 'grpc' || (plan.sparseRows === 'nullable' && !records.some(hasSparseValues));
    if (columnWise) {
      res = await checkedCall(ctx, () => conn.grpc().upsert(encodeUpsertRequest(plan, target, records), conn.timeout));
    } else {
      const rows = records.map((r) => buildRow(plan, r)) as RowData[];
      res = await conn.call(ctx, (c) =>
        c.upsert({ collection_name: plan.collection, ...(target ? { partition_name: target } : {}), data: rows, timeout: conn.timeout }),
      );
    }
    const refused = (res.err_index ?? []).map(Number);
    // A success that counts fewer rows than were sent and names none as refused is not taken on
    // trust: the offsets are committed only after this, so it is retried (upsert makes that harmless).
    const n = Number(res.upsert_cnt ?? records.length);
    if (refused.length === 0 && Number.isFinite(n) && n > 0 && n < records.length) {
      throw new EtlError('TARGET_UNAVAILABLE', `${ctx.what}: Milvus acknowledged only ${n} of ${records.length} rows; retrying the batch`, { retriable: true });
    }
    return refused;
  }

  /**
   * Sends a group; when Milvus refuses the request as a whole for its data, each record is sent on
   * its own to find the ones it refuses. A group whose every record is refused alone is not a data
   * problem but a target that cannot take this job's rows: that fails the job, with Milvus's answer.
   */
  async function sendGroup(partition: string | undefined, records: VectorRecord[]): Promise<{ index: number; reason: string }[]> {
    try {
      const refused = await send(partition, records);
      return refused.map((index) => ({ index, reason: 'Milvus refused the record (err_index)' }));
    } catch (err) {
      if (!(err instanceof EtlError) || err.code !== 'RECORD_REJECTED') throw err;
      if (records.length === 1) return [{ index: 0, reason: `Milvus refused the record: ${err.message}` }];
      const refused: { index: number; reason: string }[] = [];
      for (let i = 0; i < records.length; i++) {
        try {
          if ((await send(partition, [records[i]!])).length > 0) refused.push({ index: i, reason: 'Milvus refused the record (err_index)' });
        } catch (one) {
          if (!(one instanceof EtlError) || one.code !== 'RECORD_REJECTED') throw one;
          refused.push({ index: i, reason: `Milvus refused the record: ${one.message}` });
        }
      }
      if (refused.length === records.length) {
        throw new EtlError('TARGET_UNSUPPORTED', `Milvus refuses every record of a batch of ${records.length}, each on its own too: ${err.message}`, {
          retriable: false,
          cause: err,
          hint: "the collection cannot take this job's rows; check the target (its version and the collection's schema) against `/plan`",
        });
      }
      return refused;
    }
  }

  async function write(batch: RowBatch, partition: number): Promise<WriteResult> {
    const rejected: WriteRejection[] = [];
    // Milvus partition (partitions mode) and, for a nullable sparse field, with or without sparse values.
    const groups = new Map<string, { milvusPartition: string | undefined; indexes: number[] }>();
    batch.records.forEach((r, index) => {
      const reason = rejectionReason(plan, r);
      if (reason !== null) {
        rejected.push({ index, code: 'RECORD_INVALID', reason });
        return;
      }
      const milvusPartition = plan.namespaceMode === 'partitions' ? plan.partitions[r.namespace] : undefined;
      const key = `${milvusPartition ?? ''}\u0000${plan.sparseRows === 'nullable' && hasSparseValues(r) ? 1 : 0}`;
      const group = groups.get(key) ?? { milvusPartition, indexes: [] };
      group.indexes.push(index);
      groups.set(key, group);
    });
    // The epoch is read before the first request: on a channel still connecting it is unknown,
    // and everything written under an unknown epoch is written again after the flush.
    if (conn.writerKind === 'grpc' && conn.epoch() === null) await conn.grpc().ready(READY_WAIT_MS);
    const epoch = conn.epoch();
    const written: Retained['groups'] = [];
    for (const { milvusPartition, indexes } of groups.values()) {
      const records = indexes.map((i) => batch.records[i]!);
      if (plan.deleteBeforeUpsert) await deleteKeys(milvusPartition, records);
      const refused = await sendGroup(milvusPartition, records);
      for (const r of refused) rejected.push({ index: indexes[r.index]!, code: 'RECORD_REJECTED', reason: r.reason });
      refusedInARow = refused.length === records.length ? refusedInARow + refused.length : 0;
      if (refusedInARow >= MAX_REFUSED_IN_A_ROW) {
        throw new EtlError(
          'TARGET_UNSUPPORTED',
          `Milvus refused the last ${refusedInARow} records and accepted none (latest: ${refused[0]?.reason ?? 'no reason'})`,
          {
            retriable: false,
            hint: "the collection cannot take this job's rows; see the DLQ (`p2m jobs errors`) for the reasons",
          },
        );
      }
      if (options.flushBeforeCommit) {
        const ok = new Set(records.keys());
        for (const r of refused) ok.delete(r.index);
        written.push({ milvusPartition, records: [...ok].map((i) => records[i]!) });
      }
    }
    if (options.flushBeforeCommit && written.length > 0) retained.push({ partition, epoch, groups: written });
    return { rejected };
  }

  /**
   * Where upsert merges the dynamic field into the old row's (Milvus Lite), the old rows go first:
   * an id written again (another namespace's copy in `id` mode, a newer copy of the record) must
   * keep only the metadata of the copy written last.
   */
  async function deleteKeys(partition: string | undefined, records: VectorRecord[]): Promise<void> {
    const target = partition && partition !== DEFAULT_PARTITION ? partition : undefined;
    for (const chunk of keyChunks(plan, records)) {
      const ctx: FailureContext = {
        what: `deleting ${chunk.length} keys of "${plan.collection}" before rewriting them`,
        permanent: 'TARGET_UNSUPPORTED',
        collection: plan.collection,
      };
      const filter = fieldIn(plan.primaryKeyField, chunk);
      if (conn.writerKind === 'grpc') {
        // On the write channel, like the upsert it precedes: no SDK client (its protos cost a
        // loader ~0.4 s of CPU and ~20 MB to load) and no protobufjs encoding per batch.
        await checkedCall(ctx, () => conn.grpc().delete(encodeDeleteRequest(plan.collection, filter, target), conn.timeout));
      } else {
        await conn.call(ctx, (c) =>
          c.delete({ collection_name: plan.collection, filter, ...(target ? { partition_name: target } : {}), timeout: conn.timeout }),
        );
      }
    }
  }

  /** The primary keys of these records that the target holds (the read-back where no epoch says enough). */
  async function existing(records: VectorRecord[]): Promise<Set<string>> {
    if (!loaded && plan.target?.capabilities.queryNeedsLoad.value !== false) {
      // The index must exist for a load; its build is the load's to wait for.
      await ensureIndexes(conn, plan);
      await reader.loadCollection(plan);
    }
    loaded = true;
    const found = new Set<string>();
    for (const chunk of keyChunks(plan, records)) {
      const res = await conn.call(
        { what: `reading back ${chunk.length} keys of "${plan.collection}"`, permanent: 'TARGET_UNSUPPORTED', collection: plan.collection },
        (c) =>
          c.query({
            collection_name: plan.collection,
            filter: fieldIn(plan.primaryKeyField, chunk),
            output_fields: [plan.primaryKeyField],
            limit: chunk.length,
            consistency_level: 'Strong' as never,
            timeout: conn.timeout,
          }),
      );
      for (const row of res.data) found.add(String(row[plan.primaryKeyField]));
    }
    return found;
  }

  async function flush(): Promise<void> {
    await reader.flush(plan);
  }

  /** Flushes what `due` holds and makes sure it is stored, writing again what a restart lost. */
  async function confirm(due: Retained[]): Promise<void> {
    await flush();
    let suspect = due;
    for (let round = 0; ; round++) {
      const epoch = conn.epoch();
      suspect = suspect.filter((r) => epoch === null || r.epoch !== epoch);
      if (suspect.length === 0) return;
      let lost = suspect.flatMap((r) => r.groups.map((g) => ({ ...g, partition: r.partition })));
      if (epoch === null) {
        // No unbroken connection to point at: read the keys back.
        const held = await existing(lost.flatMap((g) => g.records));
        lost = lost
          .map((g) => ({ ...g, records: g.records.filter((r) => !held.has(primaryKeyOf(plan, r.namespace, r.id))) }))
          .filter((g) => g.records.length > 0);
        if (lost.length === 0) return;
      }
      const count = lost.reduce((n, g) => n + g.records.length, 0);
      options.onDurability?.({
        kind: 'rewrite',
        records: count,
        partitions: partitionsOf(lost),
        round,
        reason: epoch === null ? 'not-read-back' : suspect.some((r) => r.epoch !== null) ? 'epoch-changed' : 'unconfirmed',
        firstId: lost[0]!.records[0]!.id,
      });
      if (round >= MAX_REWRITES) {
        throw new EtlError(
          'TARGET_UNAVAILABLE',
          `${count} records Milvus acknowledged could not be confirmed stored after writing them again ${round} times (the server keeps restarting or losing writes; first: "${lost[0]!.records[0]!.id}")`,
          {
            retriable: false,
            hint: 'check the Milvus server (its log, memory, restarts), then resume the job: nothing was committed past these records',
          },
        );
      }
      // Written again over a fresh connection epoch, then flushed, then checked again.
      const before = conn.epoch();
      for (const g of lost) {
        // An older copy the server kept would have the rewrite's metadata merged into it (Lite).
        if (plan.deleteBeforeUpsert) await deleteKeys(g.milvusPartition, g.records);
        await sendGroup(g.milvusPartition, g.records);
      }
      await flush();
      suspect = lost.map(({ partition, milvusPartition, records }) => ({ partition, epoch: before, groups: [{ milvusPartition, records }] }));
    }
  }

  function preCommit(candidates: CommitCandidate[]): Promise<CommitCandidate[]> {
    if (!options.flushBeforeCommit || candidates.length === 0) return Promise.resolve(candidates);
    const run = turn.then(async () => {
      if (performance.now() - flushedAt < interval) return [];
      const due = retained;
      retained = [];
      try {
        await confirm(due);
      } catch (err) {
        // Kept for the next attempt, and no longer trusted to the connection epoch: a flush that
        // failed covers nothing, and may have lost what it was flushing without a restart. The
        // next confirmation writes them again. (Milvus Lite's "current_seq is monotonic" is not
        // retried at all: it means the server takes writes on several threads at once, which
        // loses other writers' rows too; errors.ts fails the job with the fix.)
        retained = [...due.map((r) => ({ ...r, epoch: null })), ...retained];
        options.onDurability?.({
          kind: 'flush-failed',
          records: due.reduce((n, r) => n + r.groups.reduce((m, g) => m + g.records.length, 0), 0),
          partitions: partitionsOf(due),
          error: err instanceof Error ? err.message : String(err),
        });
        throw err;
      }
      flushedAt = performance.now();
      return candidates;
    });
    turn = run.catch(() => undefined);
    return run;
  }

  function forget(partitions: number[]): void {
    const gone = new Set(partitions);
    retained = retained.filter((r) => !gone.has(r.partition));
  }

  return { write, preCommit, forget };
}
