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
import { loadAndWait } from './load.ts';
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
  if (shape.sparse !== 'none')
    fields.push({ role: 'sparseVector', name: 's', dataType: 'SparseFloatVector', ...(shape.sparse === 'nullable' ? { nullable: true } : {}) });
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
  const base = `p2m_probe_${randomBytes(4).toString('hex')}`;
  const made: string[] = [];

  /** A permanent refusal is an answer; a transient one means the target cannot be asked now. */
  const attempt = async <T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; reason: string }> => {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      if (isRetriable(err)) throw err;
      return { ok: false, reason: errorMessage(err) };
    }
  };
  const create = (plan: CollectionPlan) =>
    attempt(async () => {
      await conn.call(ctx(`creating the probe collection "${plan.collection}"`), (c) =>
        c.createCollection({ collection_name: plan.collection, fields: collectionFields(plan), enable_dynamic_field: true, timeout: conn.timeout }),
      );
      made.push(plan.collection);
    });
  const write = async (plan: CollectionPlan, records: VectorRecord[]): Promise<void> => {
    const res = await conn
      .grpc()
      .upsert(encodeUpsertRequest(plan, undefined, records), conn.timeout)
      .catch((err: unknown) => {
        throw new EtlError('TARGET_UNAVAILABLE', `probe write failed: ${errorMessage(err)}`, { retriable: true, cause: err });
      });
    checked(res, ctx(`writing to the probe collection "${plan.collection}"`));
  };
  const key = (i: number): string => `k${i}`;

  try {
    // 1. Partition key, dynamic field, routing of upserts, queries before load: dense rows only.
    let keyed = scratchPlan(`${base}_k`, { sparse: 'none', partitionKey: true });
    let made1 = await create(keyed);
    let partitionKey = probed(true, 'a partition-key field was created');
    if (!made1.ok) {
      partitionKey = probed(false, `a partition-key field was refused: ${made1.reason}`);
      keyed = scratchPlan(`${base}_k`, { sparse: 'none', partitionKey: false });
      made1 = await create(keyed);
      if (!made1.ok)
        throw new EtlError('TARGET_UNSUPPORTED', `the target refuses to create even a plain collection with a dynamic field: ${made1.reason}`, {
          retriable: false,
          field: 'target.address',
        });
    }
    const dynamicField = probed(true, 'a collection with the dynamic field was created');
    const rows = Array.from({ length: KEYS }, (_, i) => record(`row-${i}`, key(i), null));
    const written = await attempt(() => write(keyed, rows));
    if (!written.ok)
      throw new EtlError('TARGET_UNSUPPORTED', `the target refuses a plain dense write: ${written.reason}`, { retriable: false, field: 'target.address' });
    const queryUnloaded = await attempt(() =>
      conn.call(ctx('querying the probe collection before it is loaded'), (c) =>
        c.query({ collection_name: keyed.collection, filter: 'id == "row-0"', output_fields: ['id'], timeout: conn.timeout }),
      ),
    );
    const queryNeedsLoad = queryUnloaded.ok
      ? probed(false, 'a query on a collection that is not loaded was answered')
      : probed(true, `a query on a collection that is not loaded was refused: ${queryUnloaded.reason}`);
    let upsertHonoursPartitionKey: Capability<boolean> =
      release && !releaseAtLeast(release, 2, 4)
        ? documented(
            false,
            `Milvus ${milvusVersion}: upsert ignores the partition key (seen on 2.3.5: a key-filtered count found 17 of 1,000 upserted rows; insert placed them right)`,
          )
        : documented(true, 'no known defect for this version');
    if (partitionKey.value) {
      const found = await attempt(async () => {
        await conn.call(ctx('indexing the probe collection'), (c) =>
          c.createIndex({ collection_name: keyed.collection, field_name: 'v', index_name: 'v', index_type: 'FLAT', metric_type: 'L2', timeout: conn.timeout }),
        );
        await loadAndWait(conn, keyed.collection, () => ctx('loading the probe collection'));
        let hits = 0;
        for (let i = 0; i < KEYS; i++) {
          const res = await conn.call(ctx('counting in the probe collection'), (c) =>
            c.query({
              collection_name: keyed.collection,
              filter: `ns == "${key(i)}" && id == "row-${i}"`,
              output_fields: ['count(*)'],
              consistency_level: 'Strong' as never,
              timeout: conn.timeout,
            }),
          );
          hits += Number(res.data[0]?.['count(*)'] ?? 0);
        }
        return hits;
      });
      if (found.ok) {
        upsertHonoursPartitionKey =
          found.value === KEYS
            ? probed(true, `${KEYS} rows upserted under ${KEYS} partition-key values were each found by a key filter`)
            : probed(
                false,
                `only ${found.value} of ${KEYS} rows upserted under ${KEYS} partition-key values were found by a key filter: upsert does not route rows by the partition key`,
              );
      }
    }

    const upsertReplacesDynamicField = await probeMetadataReplace(conn, keyed, write, attempt, ctx);

    // 2. Sparse vectors: a field the server creates is not yet one it can store (Milvus 2.3.5 creates
    // a type-104 field, then refuses every write to it), so each feature is written, not just declared.
    const sparseOf = (i: number): VectorRecord['sparse'] => ({ indices: [i], values: Float32Array.from([1]) });
    let sparsePlan = scratchPlan(`${base}_s`, { sparse: 'nullable', partitionKey: false });
    let made2 = await create(sparsePlan);
    let nullableVectors = probed(true, 'a nullable SPARSE_FLOAT_VECTOR field was created');
    if (made2.ok && !(await declaredNullable(conn, sparsePlan.collection))) {
      nullableVectors = probed(
        false,
        'a SPARSE_FLOAT_VECTOR field declared nullable was created without being nullable (the server does not know nullable fields)',
      );
    } else if (!made2.ok) {
      nullableVectors = probed(false, `a nullable SPARSE_FLOAT_VECTOR field was refused: ${made2.reason}`);
      sparsePlan = scratchPlan(`${base}_s2`, { sparse: 'plain', partitionKey: false });
      made2 = await create(sparsePlan);
    }
    let sparseVectors: Capability<boolean> = made2.ok
      ? probed(true, 'a SPARSE_FLOAT_VECTOR field was created and written to')
      : probed(false, `a SPARSE_FLOAT_VECTOR field was refused: ${made2.reason}`);
    let emptySparseRows: Capability<boolean> = probed(false, 'no sparse vectors');
    if (made2.ok) {
      const plain = { ...sparsePlan, sparseRows: 'emptyRow' as const };
      const stored = await attempt(() => write(plain, [record('sparse-row', '', sparseOf(1))]));
      if (!stored.ok) {
        sparseVectors = probed(false, `a SPARSE_FLOAT_VECTOR field was created, but a write to it was refused: ${stored.reason}`);
        nullableVectors = probed(false, 'no usable sparse vectors');
      } else {
        if (nullableVectors.value) {
          const omitted = await attempt(() => write(sparsePlan, [record('null-row', '', null)]));
          if (!omitted.ok) nullableVectors = probed(false, `the nullable field was created, but a write without it was refused: ${omitted.reason}`);
        }
        const empty = await attempt(() => write(plain, [record('empty-row', '', { indices: [], values: new Float32Array(0) })]));
        emptySparseRows = empty.ok
          ? probed(true, 'a row with an empty sparse vector was written')
          : probed(false, `a row with an empty sparse vector was refused: ${empty.reason}`);
      }
    }

    const self = await describeSelf(conn);
    const persistsAcknowledgedWrites = durability(conn, self, queryNeedsLoad.value);
    return {
      serverVersion,
      milvusVersion,
      sparseVectors,
      nullableVectors,
      emptySparseRows,
      partitionKey,
      upsertHonoursPartitionKey,
      upsertReplacesDynamicField,
      maxPartitions: documented(MILVUS_MAX_PARTITIONS, 'Milvus and Zilliz Cloud hold at most 1,024 partitions per collection by default'),
      dynamicField,
      persistsAcknowledgedWrites,
      queryNeedsLoad,
      indexNodesApart: indexNodesApartOf(self),
    };
  } finally {
    for (const name of made)
      await conn
        .call(ctx(`dropping the probe collection "${name}"`), (c) => c.dropCollection({ collection_name: name, timeout: conn.timeout }))
        .catch(() => undefined);
  }
}

type Attempt = <T>(fn: () => Promise<T>) => Promise<{ ok: true; value: T } | { ok: false; reason: string }>;

/**
 * Whether an upsert replaces the row's metadata or merges it into the old row's (Milvus Lite
 * 3.2.2 merges: a key the new record lacks stays, so an id rewritten with other metadata would hold
 * a mix of both). Writes one key twice, the second time without a metadata key the first had.
 */
async function probeMetadataReplace(
  conn: MilvusConnection,
  plan: CollectionPlan,
  write: (plan: CollectionPlan, records: VectorRecord[]) => Promise<void>,
  attempt: Attempt,
  ctx: (what: string) => FailureContext,
): Promise<Capability<boolean>> {
  const row = (metadata: VectorRecord['metadata']): VectorRecord => ({ ...record('meta-row', 'k0', null), metadata });
  const seen = await attempt(async () => {
    await write(plan, [row({ probe: true, first: 1 })]);
    await write(plan, [row({ probe: true })]);
    // Indexed and loaded already when the partition-key routing was measured; if not, now.
    await attempt(() =>
      conn.call(ctx('indexing the probe collection'), (c) =>
        c.createIndex({ collection_name: plan.collection, field_name: 'v', index_name: 'v', index_type: 'FLAT', metric_type: 'L2', timeout: conn.timeout }),
      ),
    );
    await loadAndWait(conn, plan.collection, () => ctx('loading the probe collection'));
    const res = await conn.call(ctx('reading the probe row back'), (c) =>
      c.query({
        collection_name: plan.collection,
        filter: 'id == "meta-row"',
        output_fields: ['*'],
        consistency_level: 'Strong' as never,
        timeout: conn.timeout,
      }),
    );
    return res.data.map((r) => (r['$meta'] ?? {}) as Record<string, unknown>);
  });
  if (!seen.ok || seen.value.length !== 1) {
    return documented(true, `could not be measured (${seen.ok ? `${seen.value.length} rows read back` : seen.reason}); a Milvus server replaces the row`);
  }
  return 'first' in seen.value[0]!
    ? probed(false, 'a row upserted again without a metadata key it had kept that key: upserts merge the dynamic field into the old row')
    : probed(true, 'a row upserted again without a metadata key it had lost that key: upserts replace the dynamic field');
}

/** Whether the server kept the nullable flag it was given (a server that does not know the field ignores it). */
async function declaredNullable(conn: MilvusConnection, collection: string): Promise<boolean> {
  const d = await conn.call({ what: `describing the probe collection "${collection}"`, permanent: 'TARGET_UNSUPPORTED' }, (c) =>
    c.describeCollection({ collection_name: collection, timeout: conn.timeout }),
  );
  return d.schema.fields.some((f) => f.name === 's' && (f as { nullable?: boolean }).nullable === true);
}

/** A node of the deployment as GetMetrics `system_info` lists it: its role and the host it runs on. */
interface DescribedNode {
  type: string;
  host: string | null;
  cores: number | null;
}

/** What the server says of itself: its nodes (empty: it answers with nothing; null: it refuses), and that answer in words. */
interface SelfDescription {
  nodes: DescribedNode[] | null;
  answer: string;
}

async function describeSelf(conn: MilvusConnection): Promise<SelfDescription> {
  try {
    const res = await conn.call({ what: 'asking the server to describe itself', permanent: 'TARGET_UNSUPPORTED' }, (c) =>
      c.getMetric({ request: { metric_type: 'system_info' }, timeout: conn.timeout }),
    );
    type Info = { name?: string; type?: string; hardware_infos?: { ip?: string; cpu_core_count?: number } };
    const info = (res as { response?: { nodes_info?: { infos?: Info }[] } }).response;
    const nodes = (info?.nodes_info ?? []).map((n): DescribedNode => {
      const ip = n.infos?.hardware_infos?.ip;
      const cores = Number(n.infos?.hardware_infos?.cpu_core_count);
      return {
        type: String(n.infos?.type ?? n.infos?.name ?? 'node'),
        host: typeof ip === 'string' && ip !== '' ? ip.replace(/:\d+$/, '') : null,
        cores: Number.isFinite(cores) && cores > 0 ? cores : null,
      };
    });
    const answer =
      nodes.length > 0
        ? `the server describes a Milvus deployment of ${nodes.length} nodes (${[...new Set(nodes.map((n) => n.type))].join(', ')})`
        : 'the server describes no nodes';
    return { nodes, answer };
  } catch (err) {
    if (err instanceof EtlError && isRetriable(err)) throw err;
    // The SDK parses the answer as JSON: an empty answer fails there.
    const empty = err instanceof SyntaxError || /JSON/.test(errorMessage(err));
    return {
      nodes: empty ? [] : null,
      answer: empty ? 'the server answers the system description with nothing' : `the server refuses to describe itself: ${errorMessage(err)}`,
    };
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
function durability(conn: MilvusConnection, self: SelfDescription, queryNeedsLoad: boolean): Capability<boolean | null> {
  const { nodes, answer } = self;
  if (nodes && nodes.length > 0) return probed(true, `${answer}; its write-ahead log keeps acknowledged writes`);
  if (nodes && !queryNeedsLoad)
    return probed(false, `${answer} and answers queries on unloaded collections, as Milvus Lite does, which keeps acknowledged writes in memory until a flush`);
  if (/\.zillizcloud\.com(:\d+)?\/?$/i.test(conn.address) || /\.zillizcloud\.com[:/]/i.test(conn.address)) {
    return documented(true, `${answer}; Zilliz Cloud persists acknowledged writes (its documentation)`);
  }
  return { value: null, how: 'unknown', detail: answer };
}

/**
 * Whether the nodes that build indexes run on hosts of their own, apart from the nodes that take
 * the load's writes. The builders are the index nodes (Milvus 2.6 has none: its data nodes build);
 * the writers are the proxies and the data or streaming nodes. In a standalone server every role is
 * one process on one host, so a build during the load takes the load's CPU.
 */
export function indexNodesApartOf(self: SelfDescription): Capability<boolean | null> {
  const nodes = self.nodes ?? [];
  const hasIndexNodes = nodes.some((n) => n.type === 'indexnode');
  const builders = nodes.filter((n) => n.type === (hasIndexNodes ? 'indexnode' : 'datanode'));
  const writers = nodes.filter((n) => n.type === 'proxy' || n.type === 'streamingnode' || (hasIndexNodes && n.type === 'datanode'));
  const hosts = (list: DescribedNode[]): string[] => [...new Set(list.map((n) => n.host).filter((h): h is string => h !== null))];
  const builderHosts = hosts(builders);
  const writerHosts = hosts(writers);
  if (builderHosts.length === 0 || writerHosts.length === 0)
    return { value: null, how: 'unknown', detail: `${self.answer}; it does not say where indexes are built` };
  const shared = builderHosts.filter((h) => writerHosts.includes(h));
  const cores = builders.find((n) => n.cores !== null)?.cores;
  const where = `indexes are built by ${builders.length} ${builders[0]!.type}(s) on ${builderHosts.join(', ')}; writes are taken on ${writerHosts.join(', ')}`;
  return shared.length > 0 ? probed(false, `${where}: the same host${cores ? ` (${cores} cores)` : ''}`) : probed(true, `${where}: hosts of their own`);
}
