import { randomBytes } from 'node:crypto';
import {
  EtlError,
  errorMessage,
  isRetriable,
  milvusRelease,
  MILVUS_MAX_PARTITIONS,
  releaseAtLeast,
  type Capability,
  type CollectionPlan,
  type FieldPlan,
  type TargetCapabilities,
  type VectorRecord,
} from '@p2m/core';
import { collectionFields } from './admin.ts';
import type { MilvusConnection } from './connection.ts';
import type { FailureContext } from './errors.ts';
import { encodeUpsertRequest } from './upsert-request.ts';
import { checked } from './errors.ts';

/**
 * Asks the target what it can do, by doing it: a scratch collection (`p2m_probe_<random>`, dropped
 * at the end) is created with the features a migration may need — a nullable sparse field, a
 * partition key, the dynamic field — and written to through p2m's own write path. What the target
 * refuses is recorded with its answer. Only what cannot be tried is taken from documentation, and
 * says so.
 */

const KEYS = 16;
const probed = <T>(value: T, detail: string): Capability<T> => ({ value, how: 'probed', detail });
const documented = <T>(value: T, detail: string): Capability<T> => ({ value, how: 'documented', detail });

interface ScratchShape {
  sparse: 'nullable' | 'plain' | 'none';
  partitionKey: boolean;
}

function scratchPlan(name: string, shape: ScratchShape): CollectionPlan {
  const names = { id: 'id', primaryKey: 'pk', vector: 'v', sparseVector: 's', namespace: 'ns' };
  const fields: FieldPlan[] = [];
  if (shape.partitionKey) fields.push({ role: 'namespace', name: 'ns', dataType: 'VarChar', maxLength: 64, isPartitionKey: true });
  fields.push({ role: 'id', name: 'id', dataType: 'VarChar', maxLength: 64, isPrimaryKey: true });
  fields.push({ role: 'vector', name: 'v', dataType: 'FloatVector', dim: 2 });
  if (shape.sparse !== 'none') fields.push({ role: 'sparseVector', name: 's', dataType: 'SparseFloatVector', ...(shape.sparse === 'nullable' ? { nullable: true } : {}) });
  return {
    collection: name,
    description: 'p2m capability probe (safe to drop)',
    fields,
    enableDynamicField: true,
    names,
    primaryKey: 'id',
    primaryKeyField: 'id',
    dimension: 2,
    hasDense: true,
    hasSparse: shape.sparse !== 'none',
    sparseRows: shape.sparse === 'nullable' ? 'nullable' : shape.sparse === 'plain' ? 'emptyRow' : 'none',
    maxIdLength: 64,
    primaryKeyMaxLength: 64,
    namespaceMode: shape.partitionKey ? 'partitionKey' : 'partitions',
    partitions: shape.partitionKey ? {} : { '': '_default' },
    indexes: [],
    source: { index: 'probe', metric: 'dotproduct', vectorType: 'dense', namespaces: [], totalRecords: 0 },
    flushBeforeCommit: false,
  };
}

const record = (id: string, namespace: string, sparse: VectorRecord['sparse']): VectorRecord => ({
  kind: 'vector',
  namespace,
  id,
  values: Float32Array.from([1, 0]),
  sparse,
  metadata: { probe: true },
});

export async function probeCapabilities(conn: MilvusConnection): Promise<TargetCapabilities> {
  const ctx = (what: string): FailureContext => ({ what, permanent: 'TARGET_UNSUPPORTED' });
  const versionAnswer = await conn.call(ctx('asking the Milvus version'), (c) => c.getVersion());
  const serverVersion = String((versionAnswer as { version?: string }).version ?? '');
  const release = milvusRelease(serverVersion);
  const milvusVersion = release ? release.join('.') : null;
  const name = `p2m_probe_${randomBytes(4).toString('hex')}`;

  /** A permanent refusal is an answer; a transient one means the target cannot be asked now. */
  const attempt = async <T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; reason: string }> => {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      if (isRetriable(err)) throw err;
      return { ok: false, reason: errorMessage(err) };
    }
  };
  const create = (shape: ScratchShape) =>
    attempt(() =>
      conn.call(ctx(`creating the probe collection "${name}"`), (c) =>
        c.createCollection({ collection_name: name, fields: collectionFields(scratchPlan(name, shape)), enable_dynamic_field: true, timeout: conn.timeout }),
      ),
    );
  const drop = () => conn.call(ctx(`dropping the probe collection "${name}"`), (c) => c.dropCollection({ collection_name: name, timeout: conn.timeout })).catch(() => undefined);
  const write = async (plan: CollectionPlan, records: VectorRecord[]): Promise<void> => {
    const res = await conn.grpc().upsert(encodeUpsertRequest(plan, undefined, records), conn.timeout).catch((err: unknown) => {
      throw new EtlError('TARGET_UNAVAILABLE', `probe write failed: ${errorMessage(err)}`, { retriable: true, cause: err });
    });
    checked(res, ctx(`writing to the probe collection "${name}"`));
  };

  try {
    // 1. The collection a hybrid index needs, then simpler ones until the target takes one.
    let shape: ScratchShape = { sparse: 'nullable', partitionKey: true };
    let made = await create(shape);
    const refusals: string[] = [];
    for (const fallback of [{ sparse: 'plain', partitionKey: true }, { sparse: 'none', partitionKey: true }, { sparse: 'none', partitionKey: false }] as ScratchShape[]) {
      if (made.ok) break;
      refusals.push(made.reason);
      shape = fallback;
      made = await create(shape);
    }
    if (!made.ok) throw new EtlError('TARGET_UNSUPPORTED', `the target refuses to create even a plain collection with a dynamic field: ${made.reason}`, { retriable: false, field: 'target.address' });
    const [nullableRefusal, sparseRefusal, keyRefusal] = refusals;
    const plan = scratchPlan(name, shape);
    const sparseVectors =
      shape.sparse !== 'none'
        ? probed(true, 'a SPARSE_FLOAT_VECTOR field was created')
        : probed(false, `a SPARSE_FLOAT_VECTOR field was refused: ${sparseRefusal ?? nullableRefusal ?? 'no answer'}`);
    let nullableVectors =
      shape.sparse === 'nullable'
        ? probed(true, 'a nullable SPARSE_FLOAT_VECTOR field was created')
        : probed(false, shape.sparse === 'plain' ? `a nullable SPARSE_FLOAT_VECTOR field was refused: ${nullableRefusal ?? 'no answer'}` : 'no sparse vectors');
    const partitionKey = shape.partitionKey ? probed(true, 'a partition-key field was created') : probed(false, `a partition-key field was refused: ${keyRefusal ?? 'no answer'}`);
    const dynamicField = probed(true, 'a collection with the dynamic field was created');

    // 2. Writes the way p2m writes: a nullable field left out for records without sparse values, an empty sparse row.
    const key = (i: number): string => `k${i}`;
    const sparseOf = (i: number): VectorRecord['sparse'] => ({ indices: [i], values: Float32Array.from([1]) });
    if (shape.sparse === 'nullable') {
      const omitted = await attempt(() => write(plan, [record('null-row', key(0), null)]));
      if (!omitted.ok) nullableVectors = probed(false, `the nullable field was created, but a write without it was refused: ${omitted.reason}`);
    }
    let emptySparseRows: Capability<boolean> = probed(false, 'no sparse vectors');
    if (shape.sparse !== 'none') {
      const empty = await attempt(() => write({ ...plan, sparseRows: 'emptyRow' }, [record('empty-row', key(0), { indices: [], values: new Float32Array(0) })]));
      emptySparseRows = empty.ok ? probed(true, 'a row with an empty sparse vector was written') : probed(false, `a row with an empty sparse vector was refused: ${empty.reason}`);
    }

    // 3. Upsert routed by the partition key: rows under KEYS keys must each be found by a key filter.
    const rows = Array.from({ length: KEYS }, (_, i) => record(`row-${i}`, key(i), shape.sparse === 'none' ? null : sparseOf(i)));
    const written = await attempt(() => write(plan, rows));
    const queryUnloaded = await attempt(() =>
      conn.call(ctx('querying the probe collection before it is loaded'), (c) => c.query({ collection_name: name, filter: 'id == "row-0"', output_fields: ['id'], timeout: conn.timeout })),
    );
    const queryNeedsLoad = queryUnloaded.ok
      ? probed(false, 'a query on a collection that is not loaded was answered')
      : probed(true, `a query on a collection that is not loaded was refused: ${queryUnloaded.reason}`);
    let upsertHonoursPartitionKey: Capability<boolean> = release && !releaseAtLeast(release, 2, 4)
      ? documented(false, `Milvus ${milvusVersion}: upsert ignores the partition key (seen on 2.3.5: a key-filtered count found 17 of 1,000 upserted rows; insert placed them right)`)
      : documented(true, 'no known defect for this version');
    if (shape.partitionKey && written.ok) {
      const found = await attempt(async () => {
        for (const index of plan.fields.filter((f) => f.dataType !== 'VarChar')) {
          const sparse = index.dataType === 'SparseFloatVector';
          await conn.call(ctx(`indexing the probe collection`), (c) =>
            c.createIndex({ collection_name: name, field_name: index.name, index_name: index.name, index_type: sparse ? 'SPARSE_INVERTED_INDEX' : 'FLAT', metric_type: sparse ? 'IP' : 'L2', timeout: conn.timeout }),
          );
        }
        await conn.call(ctx('loading the probe collection'), (c) => c.loadCollectionSync({ collection_name: name, timeout: conn.longTimeout }));
        let hits = 0;
        for (let i = 0; i < KEYS; i++) {
          const res = await conn.call(ctx('counting in the probe collection'), (c) =>
            c.query({ collection_name: name, filter: `ns == "${key(i)}" && id == "row-${i}"`, output_fields: ['count(*)'], consistency_level: 'Strong' as never, timeout: conn.timeout }),
          );
          hits += Number(res.data[0]?.['count(*)'] ?? 0);
        }
        return hits;
      });
      if (found.ok) {
        upsertHonoursPartitionKey =
          found.value === KEYS
            ? probed(true, `${KEYS} rows upserted under ${KEYS} partition-key values were each found by a key filter`)
            : probed(false, `only ${found.value} of ${KEYS} rows upserted under ${KEYS} partition-key values were found by a key filter: upsert does not route by the partition key`);
      }
    }

    const persistsAcknowledgedWrites = await probeDurability(conn, queryNeedsLoad.value);
    return {
      serverVersion,
      milvusVersion,
      sparseVectors,
      nullableVectors,
      emptySparseRows,
      partitionKey,
      upsertHonoursPartitionKey,
      maxPartitions: documented(MILVUS_MAX_PARTITIONS, 'Milvus and Zilliz Cloud hold at most 1,024 partitions per collection by default'),
      dynamicField,
      persistsAcknowledgedWrites,
      queryNeedsLoad,
    };
  } finally {
    await drop();
  }
}

/**
 * Whether an acknowledged write survives a crash without a flush. A Milvus deployment keeps
 * writes in its write-ahead log and describes itself (GetMetrics `system_info` lists its nodes);
 * Milvus Lite answers that call with nothing, answers queries on unloaded collections, and keeps
 * acknowledged writes in memory until a flush (measured: 323,600 acknowledged rows, 600 left after
 * a SIGKILL). A target that refuses to describe itself is unknown, unless it is Zilliz Cloud,
 * whose documentation promises durability of acknowledged writes.
 */
async function probeDurability(conn: MilvusConnection, queryNeedsLoad: boolean): Promise<Capability<boolean | null>> {
  let nodes: string[] | null = null;
  let answer: string;
  try {
    const res = await conn.call({ what: 'asking the server to describe itself', permanent: 'TARGET_UNSUPPORTED' }, (c) =>
      c.getMetric({ request: { metric_type: 'system_info' }, timeout: conn.timeout }),
    );
    const info = (res as { response?: { nodes_info?: { infos?: { name?: string; type?: string } }[] } }).response;
    nodes = (info?.nodes_info ?? []).map((n) => String(n.infos?.type ?? n.infos?.name ?? 'node'));
    answer = nodes.length > 0 ? `the server describes a Milvus deployment of ${nodes.length} nodes (${[...new Set(nodes)].join(', ')})` : 'the server describes no nodes';
  } catch (err) {
    if (err instanceof EtlError && isRetriable(err)) throw err;
    // The SDK parses the answer as JSON: an empty answer fails there.
    answer = err instanceof SyntaxError || /JSON/.test(errorMessage(err)) ? 'the server answers the system description with nothing' : `the server refuses to describe itself: ${errorMessage(err)}`;
    if (err instanceof SyntaxError || /JSON/.test(errorMessage(err))) nodes = [];
  }
  if (nodes && nodes.length > 0) return probed(true, `${answer}; its write-ahead log keeps acknowledged writes`);
  if (nodes && !queryNeedsLoad) return probed(false, `${answer} and answers queries on unloaded collections, as Milvus Lite does, which keeps acknowledged writes in memory until a flush`);
  if (/\.zillizcloud\.com(:\d+)?\/?$/i.test(conn.address) || /\.zillizcloud\.com[:/]/i.test(conn.address)) {
    return documented(true, `${answer}; Zilliz Cloud persists acknowledged writes (its documentation)`);
  }
  return { value: null, how: 'unknown', detail: answer };
}
