import { EtlError, type CollectionPlan } from '@p2m/core';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { MilvusConnection } from './connection.ts';
import { onCollection, statusFailed, toEtlError, type FailureContext } from './errors.ts';
import { whileMoving } from './load.ts';

/**
 * The plan's vector indexes exist on the collection afterwards: created where missing, accepted where
 * the same index is there, refused where another one is.
 *
 * Called by verification and by a loader's read-back before it loads the collection. The create
 * call may take long: on a collection that already holds rows Milvus Lite builds the whole index
 * inside the call (HNSW, measured here at 1,000,000 × 768-d: over 1,200 s) and answers nothing else
 * meanwhile, so its deadline grows with rows × dimension (`indexBuildDeadline`).
 */
export async function ensureIndexes(conn: MilvusConnection, plan: CollectionPlan): Promise<void> {
  const job = indexCall(plan);
  const describe = async (index: IndexPlan): Promise<IndexDescription | undefined> => {
    const existing = await conn
      .call(job('describing indexes'), (c) => c.describeIndex({ collection_name: plan.collection, field_name: index.field, timeout: conn.longTimeout }))
      .catch((err: unknown) => {
        const e = toEtlError(err, job('describing indexes'));
        // A field without an index answers with a failed status ("index not found"): nothing to compare.
        if (e.retriable) throw e;
        return null;
      });
    return existing && !statusFailed(existing.status) ? existing.index_descriptions?.find((d) => d.field_name === index.field) : undefined;
  };
  /** True when the field has the plan's index; an error when it has another one. */
  const present = (index: IndexPlan, description: IndexDescription | undefined): boolean => {
    if (!description) return false;
    const param = (key: string): string | undefined => description.params.find((p) => p.key === key)?.value as string | undefined;
    if (param('index_type') === index.indexType && param('metric_type') === index.metricType) return true;
    throw new EtlError(
      'TARGET_UNSUPPORTED',
      `field "${index.field}" of "${plan.collection}" already has a ${String(param('index_type'))}/${String(param('metric_type'))} index; the plan needs ${index.indexType}/${index.metricType}`,
      { retriable: false, hint: 'drop that index, or migrate into a new collection' },
    );
  };
  let deadline: number | null = null;
  for (const index of plan.indexes) {
    if (present(index, await describe(index))) continue;
    deadline ??= indexBuildDeadline(conn.longTimeout, await rowCount(conn, plan.collection), plan.dimension ?? 0);
    const timeout = deadline;
    try {
      await conn.call(job(`creating the ${index.indexType} index on "${index.field}" (allowed ${Math.round(timeout / 1000)} s)`), (c) =>
        c.createIndex({
          collection_name: plan.collection,
          field_name: index.field,
          index_name: index.field,
          index_type: index.indexType,
          metric_type: index.metricType,
          timeout,
        }),
      );
    } catch (err) {
      // Callers can race (two loaders' read-backs, two controllers): another one may have created
      // the index between our look and our call ("index already exists"). Fine if it is the plan's.
      if (!present(index, await describe(index).catch(() => undefined))) throw err;
    }
  }
}

/**
 * How long one `createIndex` call may take: `longTimeout`, or more on a large collection. Milvus
 * answers at once and builds in the background, but Milvus Lite builds the whole index inside the
 * call (HNSW through faiss): measured here about 70 µs a row at dim 8 (1,000,000 rows: 71 s) and
 * over 1,200 µs a row at 768-d. Three times a cost of 100 µs + 2 µs × dim a row leaves room for a
 * busy machine and still ends: 1,000,000 × 768-d may take 82 min, 10,000,000 × 8 58 min.
 */
export function indexBuildDeadline(longTimeoutMs: number, rows: number, dimension: number): number {
  return Math.max(longTimeoutMs, Math.ceil((3 * rows * (100 + 2 * dimension)) / 1000));
}

/** The collection's row count as Milvus reports it; 0 when it cannot tell (the deadline is then `longTimeout`). */
async function rowCount(conn: MilvusConnection, collection: string): Promise<number> {
  try {
    const res = await conn.call(onCollection(collection, `counting the rows of "${collection}"`), (c) =>
      c.getCollectionStatistics({ collection_name: collection, timeout: conn.timeout }),
    );
    const rows = Number((res.data as Record<string, unknown> | undefined)?.['row_count'] ?? 0);
    return Number.isFinite(rows) && rows > 0 ? rows : 0;
  } catch {
    return 0;
  }
}

/** What a failed call on the collection's indexes reports: refused calls are the target's limits. */
const indexCall =
  (plan: CollectionPlan) =>
  (what: string): FailureContext =>
    onCollection(plan.collection, what);

type IndexPlan = CollectionPlan['indexes'][number];
type IndexDescription = NonNullable<Awaited<ReturnType<MilvusClient['describeIndex']>>['index_descriptions']>[number];

/**
 * Waits until every index of the plan is built over the collection's rows (the server says
 * `Finished` and counts every row indexed), for as long as the build moves: Milvus builds indexes in
 * the background (`createIndex` returns at once), and loading a collection whose index is still
 * building sits at 0 % until it is done. A build that indexes no new row for `conn.longTimeout`
 * fails (retriable); a build the server reports failed fails for good with its reason. Milvus Lite
 * builds inside `createIndex` and reports the index finished.
 */
export async function waitForIndexes(
  conn: MilvusConnection,
  plan: CollectionPlan,
  pollMs = 1_000,
  onProgress?: (indexedRows: number, totalRows: number) => void,
): Promise<void> {
  const job = indexCall(plan);
  for (const index of plan.indexes) {
    let seen: IndexDescription | undefined;
    await whileMoving({
      poll: async () => {
        const res = await conn.call(job(`asking how far the index on "${index.field}" is built`), (c) =>
          c.describeIndex({ collection_name: plan.collection, field_name: index.field, timeout: conn.timeout }),
        );
        const d = (seen = res.index_descriptions?.find((x) => x.field_name === index.field));
        const state = String(d?.state ?? '');
        if (state === 'Failed') {
          throw new EtlError(
            'TARGET_UNSUPPORTED',
            `Milvus failed to build the ${index.indexType} index on "${index.field}" of "${plan.collection}": ${d?.index_state_fail_reason || 'no reason given'}`,
            {
              retriable: false,
              hint: "see the Milvus server's log; drop the index and verify again (`p2m jobs verify`)",
            },
          );
        }
        const indexed = Number(d?.indexed_rows ?? 0);
        const total = Number(d?.total_rows ?? 0);
        const counted = Number.isFinite(indexed) && Number.isFinite(total) && total > 0;
        // "Finished" alone is not built: an index created on the empty collection stays "Finished"
        // while the load's segments wait for their builds (Milvus 2.3.5: Finished, 0 of 100,200 rows).
        if (state === 'Finished' && (!counted || indexed >= total)) return { done: true, progress: 0 };
        if (counted) onProgress?.(indexed, total);
        return { done: false, progress: indexed };
      },
      stalledAfterMs: conn.longTimeout,
      pollMs,
      stalled: (indexed) =>
        new EtlError(
          'TARGET_UNAVAILABLE',
          `the index on "${index.field}" of "${plan.collection}" indexed no row for ${Math.round(conn.longTimeout / 1000)} s (${indexed} of ${String(seen?.total_rows ?? '?')} rows, state ${String(seen?.state ?? '') || 'unknown'})`,
          { retriable: true, hint: "check the Milvus server's index nodes and its log; verification asks again on its next attempt" },
        ),
    });
  }
}
