import { EtlError, primaryKeyOf, sleep, type CollectionPlan, type RecordKey, type SinkReader, type VectorRecord } from '@p2m/core';
import type { MilvusConnection } from './connection.ts';
import { checkedCall, onCollection, type FailureContext } from './errors.ts';
import { encodeFlushRequest, encodeFlushStateRequest } from './grpc-writer.ts';
import { ensureIndexes, waitForIndexes } from './indexes.ts';
import { loadAndWait } from './load.ts';
import { and, compareUtf8, fieldIn, namespaceScope, quote } from './filter.ts';
import { answerToRecords, decodeQueryResults, encodeQueryRequest, type QueryAnswer } from './query-request.ts';
import { outputFields, rowToRecord, type MilvusRow } from './rows.ts';

/** Verification's view of the target: flush, index, load, then read back. */

/** Milvus answers at most this many rows per query (limit + offset ≤ 16,384). */
export const MAX_QUERY_ROWS = 16_384;
/** Keys per `in [...]` lookup: keeps expressions short, well under any request limit. */
const KEYS_PER_LOOKUP = 256;
/**
 * Keys per `readByKeys` query, and the filter's size in characters: Milvus Lite answers a `pk in [...]`
 * from its primary-key index (measured: 30 µs a key at 1,000,000 rows) while any other query scans
 * every row, so verification looks keys up in large batches.
 */
const KEYS_PER_READ = 2_048;
const FILTER_CHARS_PER_READ = 256 * 1024;
/** Queries of one `readByKeys` call in flight at once. */
const READS_IN_PARALLEL = 8;
const STRONG = 'Strong' as const;

/** How often a flush asks whether its segments are flushed (as the SDK's flushSync does). */
const FLUSH_POLL_MS = 100;

/**
 * Flush on the write channel, as the SDK's flushSync does it (Flush, then GetFlushState on the
 * sealed segments until they are flushed), without an SDK client: the loader flushes before it
 * commits on Milvus Lite, and loading the SDK's protos cost each loader ~0.4 s of CPU and ~20 MB.
 * Unlike flushSync, the wait has an end (the long timeout) and a refusal is an error.
 */
async function flushOnChannel(conn: MilvusConnection, collection: string, ctx: FailureContext): Promise<bigint | null> {
  const deadline = Date.now() + conn.longTimeout;
  const channel = conn.grpc();
  const { segmentIds, flushTs } = await checkedCall(ctx, () => channel.flush(encodeFlushRequest(collection), conn.longTimeout));
  if (segmentIds.length === 0) return flushTs;
  const request = encodeFlushStateRequest(segmentIds);
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new EtlError(
        'TARGET_UNAVAILABLE',
        `${ctx.what}: its ${segmentIds.length} segments were not flushed within ${Math.round(conn.longTimeout / 1000)} s`,
        {
          retriable: true,
        },
      );
    }
    if ((await checkedCall(ctx, () => channel.flushState(request, Math.min(conn.timeout, left)))).flushed) return flushTs;
    await sleep(FLUSH_POLL_MS);
  }
}

/**
 * `task` over every item, `READS_IN_PARALLEL` at a time, the results in the items' order. The first
 * failure fails the call as a whole, and no item is started after it.
 */
async function inParallel<T, R>(items: readonly T[], task: (item: T) => Promise<R>, width = READS_IN_PARALLEL): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  const guarded = (): Promise<void> =>
    worker().catch((err: unknown) => {
      failed = true; // the others stop taking items: the call fails as a whole
      throw err;
    });
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, guarded));
  return results;
}

export function createReader(conn: MilvusConnection): SinkReader {
  /**
   * Per collection, the timestamp of its last flush through this reader, when the server gave one:
   * verification's reads (`readByKeys`, `holdersOf`, `scanKeys`) ask for every write before it
   * instead of being strongly consistent, which costs every query a wait for the server's next time
   * tick (about 200 ms on Milvus 2.3; see encodeQueryRequest). Verification writes nothing after its
   * flush.
   */
  const flushedAt = new Map<string, bigint>();

  async function flush(plan: CollectionPlan): Promise<void> {
    const ctx = onCollection(plan.collection, `flushing "${plan.collection}"`);
    flushedAt.delete(plan.collection);
    if (conn.writerKind !== 'grpc') {
      await conn.call(ctx, (c) => c.flushSync({ collection_names: [plan.collection], timeout: conn.longTimeout }));
      return;
    }
    const ts = await flushOnChannel(conn, plan.collection, ctx);
    if (ts !== null) flushedAt.set(plan.collection, ts);
  }

  /** The plan's indexes exist and are built (verification loads the collection next). */
  async function createIndexes(plan: CollectionPlan, onProgress?: (indexedRows: number, totalRows: number) => void): Promise<void> {
    await ensureIndexes(conn, plan);
    await waitForIndexes(conn, plan, 1_000, onProgress);
  }

  function loadCollection(plan: CollectionPlan): Promise<void> {
    return loadAndWait(conn, plan.collection, (what) => onCollection(plan.collection, what));
  }

  async function query(
    plan: CollectionPlan,
    what: string,
    req: { filter: string; partitionNames?: string[] | undefined; outputFields: string[]; limit?: number; params?: Record<string, string> },
  ): Promise<MilvusRow[]> {
    const res = await conn.call(onCollection(plan.collection, what), (c) =>
      c.query({
        collection_name: plan.collection,
        filter: req.filter,
        output_fields: req.outputFields,
        ...(req.partitionNames ? { partition_names: req.partitionNames } : {}),
        ...(req.limit !== undefined ? { limit: req.limit } : {}),
        ...(req.params ? { params: req.params } : {}),
        consistency_level: STRONG as never,
        timeout: conn.timeout,
      }),
    );
    return res.data;
  }

  async function countByNamespace(plan: CollectionPlan, namespaces: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const ns of namespaces) {
      if (plan.namespaceMode === 'partitions' && plan.partitions[ns] === undefined) {
        counts.set(ns, 0);
        continue;
      }
      const scope = namespaceScope(plan, ns);
      const rows = await query(plan, `counting namespace ${quote(ns)} in "${plan.collection}"`, {
        filter: scope.filter,
        partitionNames: scope.partitionNames,
        outputFields: ['count(*)'],
      });
      counts.set(ns, Number(rows[0]?.['count(*)'] ?? 0));
    }
    return counts;
  }

  /**
   * Up to `limit` ids after `afterId`, in primary-key order; fewer only at the end of the namespace.
   * `iterator: True` is what pymilvus's query iterator sends: it makes the server return the
   * smallest matching keys (Milvus does so anyway; Milvus Lite 3 only with it). Pages are sorted
   * here too, by UTF-8 bytes as Milvus compares VARCHAR, and topped up if a server answers short.
   * In `namespaceAndId` mode the keys of one namespace share their prefix, so key order is id order.
   */
  async function listIds(plan: CollectionPlan, namespace: string, afterId: string | null, limit: number): Promise<string[]> {
    if (plan.namespaceMode === 'partitions' && plan.partitions[namespace] === undefined) return [];
    const n = Math.max(1, Math.min(Math.floor(limit), MAX_QUERY_ROWS));
    const scope = namespaceScope(plan, namespace);
    const pk = plan.primaryKeyField;
    const ids: string[] = [];
    let after = afterId;
    while (ids.length < n) {
      const want = n - ids.length;
      const rows = await query(plan, `listing ids of namespace ${quote(namespace)} in "${plan.collection}"`, {
        filter: and(scope.filter, after === null ? null : `${pk} > ${quote(primaryKeyOf(plan, namespace, after))}`),
        partitionNames: scope.partitionNames,
        outputFields: [plan.names.id],
        limit: want,
        params: { iterator: 'True' },
      });
      const page = rows.map((r) => String(r[plan.names.id])).sort(compareUtf8);
      ids.push(...page);
      if (page.length === 0 || page.length === want) break;
      after = page[page.length - 1]!;
    }
    return ids;
  }

  async function getRecords(plan: CollectionPlan, namespace: string, ids: string[]): Promise<VectorRecord[]> {
    if (ids.length === 0) return [];
    if (plan.namespaceMode === 'partitions' && plan.partitions[namespace] === undefined) return [];
    const scope = namespaceScope(plan, namespace);
    const found = new Map<string, VectorRecord>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += KEYS_PER_LOOKUP) {
      const chunk = unique.slice(i, i + KEYS_PER_LOOKUP);
      const rows = await query(plan, `reading ${chunk.length} records of namespace ${quote(namespace)} from "${plan.collection}"`, {
        filter: and(
          scope.filter,
          fieldIn(
            plan.primaryKeyField,
            chunk.map((id) => primaryKeyOf(plan, namespace, id)),
          ),
        ),
        partitionNames: scope.partitionNames,
        outputFields: outputFields(plan),
        limit: chunk.length,
      });
      for (const row of rows) {
        const record = rowToRecord(plan, namespace, row);
        found.set(record.id, record);
      }
    }
    return unique.flatMap((id) => {
      const r = found.get(id);
      return r ? [r] : [];
    });
  }

  /**
   * Which namespaces hold each of these ids now (in `id` mode the primary key makes it at most one per
   * id). Asked in partitions mode of every partition for every id a batch did not find where its key
   * said: the queries go out several at a time at the flush's timestamp, as lookups do; one strong
   * query after the other waited a time tick each (about 200 ms on Milvus 2.3), partitions times the
   * chunks of ids, for every batch with ids reused across namespaces.
   */
  async function holdersOf(plan: CollectionPlan, ids: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const unique = [...new Set(ids)];
    if (unique.length === 0) return out;
    const scopes: { namespace: string | null; partitionNames?: string[] | undefined }[] =
      plan.namespaceMode === 'partitionKey'
        ? [{ namespace: null }]
        : Object.entries(plan.partitions).map(([namespace, partition]) => ({ namespace, partitionNames: [partition] }));
    const idField = plan.names.id;
    const nsField = plan.names.namespace;
    const queries: { scope: (typeof scopes)[number]; chunk: string[] }[] = [];
    for (const scope of scopes) for (let i = 0; i < unique.length; i += KEYS_PER_LOOKUP) queries.push({ scope, chunk: unique.slice(i, i + KEYS_PER_LOOKUP) });
    const answers = await inParallel(queries, ({ scope, chunk }) =>
      columnQuery(plan, `looking up ${chunk.length} ids in "${plan.collection}"`, {
        filter: fieldIn(idField, chunk),
        partitionNames: scope.partitionNames,
        outputFields: scope.namespace === null ? [idField, nsField] : [idField],
        params: { limit: String(MAX_QUERY_ROWS) },
      }),
    );
    // In the order asked: a namespace's place in each id's list does not depend on which answered first.
    answers.forEach((answer, q) => {
      const { namespace } = queries[q]!.scope;
      const found = answer.columns.get(idField)?.strings ?? [];
      const namespaces = namespace === null ? (answer.columns.get(nsField)?.strings ?? []) : null;
      found.forEach((id, i) => {
        const holders = out.get(id) ?? [];
        holders.push(namespace ?? namespaces?.[i] ?? '');
        out.set(id, holders);
      });
    });
    return out;
  }

  async function countRows(plan: CollectionPlan): Promise<number> {
    const rows = await query(plan, `counting the rows of "${plan.collection}"`, { filter: '', outputFields: ['count(*)'] });
    return Number(rows[0]?.['count(*)'] ?? 0);
  }

  /** One query on verification's own channel, its answer decoded column-wise (see query-request.ts). */
  async function columnQuery(
    plan: CollectionPlan,
    what: string,
    req: { filter: string; partitionNames?: string[] | undefined; outputFields: string[]; params: Record<string, string> },
  ): Promise<QueryAnswer> {
    const ctx = onCollection(plan.collection, what);
    const request = encodeQueryRequest({
      collection: plan.collection,
      expr: req.filter,
      outputFields: req.outputFields,
      partitionNames: req.partitionNames,
      params: req.params,
      guaranteeTs: flushedAt.get(plan.collection),
    });
    return checkedCall(ctx, async () => decodeQueryResults(await conn.queries().query(request, conn.timeout)));
  }

  async function readByKeys(plan: CollectionPlan, keys: readonly RecordKey[]): Promise<VectorRecord[]> {
    // Partitions mode: each key in its namespace's partition (a namespace the plan does not know has none).
    const groups = new Map<string | null, string[]>();
    const nsOfGroup = new Map<string | null, string>();
    for (const k of keys) {
      const partition = plan.namespaceMode === 'partitions' ? plan.partitions[k.namespace] : null;
      if (partition === undefined) continue;
      let pks = groups.get(partition);
      if (!pks) groups.set(partition, (pks = []));
      nsOfGroup.set(partition, k.namespace);
      pks.push(primaryKeyOf(plan, k.namespace, k.id));
    }
    // One query per chunk of one partition. They run side by side, a few at a time: a strongly
    // consistent query (no flush timestamp to read at) waits for the server's next time tick
    // (Milvus 2.3: about 200 ms, measured), and in partitions mode, where a batch splits into a
    // query per namespace, one after the other would leave the server idle most of the time.
    const queries: { partition: string | null; chunk: string[] }[] = [];
    for (const [partition, pks] of groups) {
      const unique = [...new Set(pks)];
      for (let i = 0; i < unique.length;) {
        let j = i;
        let chars = 0;
        while (j < unique.length && j - i < KEYS_PER_READ && (j === i || chars + unique[j]!.length + 4 <= FILTER_CHARS_PER_READ))
          chars += unique[j++]!.length + 4;
        queries.push({ partition, chunk: unique.slice(i, j) });
        i = j;
      }
    }
    const answers = await inParallel(queries, async ({ partition, chunk }) =>
      answerToRecords(
        plan,
        await columnQuery(plan, `reading ${chunk.length} records by primary key from "${plan.collection}"`, {
          filter: fieldIn(plan.primaryKeyField, chunk),
          partitionNames: partition === null ? undefined : [partition],
          outputFields: outputFields(plan),
          params: { limit: String(chunk.length) },
        }),
        partition === null ? '' : nsOfGroup.get(partition)!,
      ),
    );
    const out: VectorRecord[] = [];
    for (const a of answers) out.push(...a);
    return out;
  }

  /**
   * Pages of keys after the last one, `iterator: True` so the server answers the smallest matching
   * primary keys (see listIds). Partitions mode walks one partition after the other. On Milvus Lite
   * every page is a scan of the whole collection (about 2 s at 1,000,000 rows, measured), so a walk
   * costs rows²/pageSize: verification walks only when the row counts say it must.
   */
  async function* scanKeys(plan: CollectionPlan, pageSize = MAX_QUERY_ROWS): AsyncIterable<RecordKey[]> {
    const n = Math.max(1, Math.min(Math.floor(pageSize), MAX_QUERY_ROWS));
    const pk = plan.primaryKeyField;
    const scopes: { namespace: string; partitionNames?: string[] }[] =
      plan.namespaceMode === 'partitionKey'
        ? [{ namespace: '' }]
        : Object.entries(plan.partitions).map(([namespace, partition]) => ({ namespace, partitionNames: [partition] }));
    const fields = [...new Set([pk, plan.names.id, ...(plan.namespaceMode === 'partitionKey' ? [plan.names.namespace] : [])])];
    for (const scope of scopes) {
      let after: string | null = null;
      for (;;) {
        const answer = await columnQuery(plan, `listing the keys of "${plan.collection}"`, {
          filter: after === null ? `${pk} >= ""` : `${pk} > ${quote(after)}`,
          partitionNames: scope.partitionNames,
          outputFields: fields,
          params: { limit: String(n), iterator: 'True' },
        });
        const pks = answer.columns.get(pk)?.strings ?? [];
        const ids = answer.columns.get(plan.names.id)?.strings ?? [];
        const namespaces = plan.namespaceMode === 'partitionKey' ? (answer.columns.get(plan.names.namespace)?.strings ?? []) : null;
        if (pks.length === 0) break;
        let last = pks[0]!;
        for (const key of pks) if (compareUtf8(key, last) > 0) last = key;
        yield ids.map((id, i) => ({ namespace: namespaces ? (namespaces[i] ?? '') : scope.namespace, id }));
        // A short page is not taken for the end (some servers answer short): the empty page is.
        after = last;
      }
    }
  }

  return { flush, createIndexes, loadCollection, countByNamespace, listIds, getRecords, holdersOf, countRows, readByKeys, scanKeys };
}
