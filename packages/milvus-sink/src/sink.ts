import { DataType, MilvusClient, type FieldType, type RowData } from '@zilliz/milvus2-sdk-node';
import { DEFAULT_PARTITION, EtlError, type CollectionPlan, type FieldPlan, type MilvusSinkPort, type RowBatch, type VectorRecord } from '@p2m/core';
import { checked, statusFailed, toEtlError, type FailureContext } from './errors.ts';
import { and, compareUtf8, fieldIn, namespaceScope, quote } from './filter.ts';
import { createGrpcWriter, type GrpcWriter } from './grpc-writer.ts';
import { buildRows, outputFields, rejectionReason, rowToRecord, type MilvusRow, type RejectedRecord } from './rows.ts';
import { encodeUpsertRequest } from './upsert-request.ts';

/**
 * The Milvus / Zilliz Cloud adapter of `MilvusSinkPort`, the only code that imports the Milvus SDK.
 * It writes against Milvus semantics and guards for Milvus Lite's deviations where they differ
 * (see README.md, "Milvus Lite"). It does not retry: the SDK retries a failed call a few times
 * within milliseconds, and the loader runtime owns the backoff policy from `EtlError.retriable`.
 */

export interface MilvusSinkOptions {
  /** `127.0.0.1:19530`, or `https://<cluster>.zillizcloud.com` (TLS). */
  address: string;
  /** Zilliz Cloud API key or `user:password`. Never logged. */
  token?: string | undefined;
  ssl?: boolean | undefined;
  /** Deadline of one call; a hung server becomes a retriable error. */
  timeoutMs?: number | undefined;
  /** Deadline of `loadCollection` and `flush`, which wait for the server to finish. */
  longTimeoutMs?: number | undefined;
  /**
   * How upserts are sent: `grpc` (default) builds the request column-wise from the records on a
   * gRPC channel of the sink's own; `sdk` sends rows through the Node SDK. Env `P2M_MILVUS_WRITER`.
   */
  writer?: MilvusWriterKind | undefined;
}

export type MilvusWriterKind = 'grpc' | 'sdk';

export function writerKind(option: MilvusWriterKind | undefined, env: NodeJS.ProcessEnv = process.env): MilvusWriterKind {
  const kind = option ?? (env.P2M_MILVUS_WRITER || 'grpc');
  if (kind !== 'grpc' && kind !== 'sdk') throw new EtlError('INTERNAL', `P2M_MILVUS_WRITER must be "grpc" or "sdk", got "${kind}"`, { retriable: false });
  return kind;
}

/** Milvus answers at most this many rows per query (limit + offset ≤ 16,384). */
export const MAX_QUERY_ROWS = 16_384;
/** Ids per `id in [...]` lookup: keeps expressions short, well under any request limit. */
const IDS_PER_LOOKUP = 256;
const STRONG = 'Strong' as const;

const DATA_TYPES: Record<FieldPlan['dataType'], DataType> = {
  VarChar: DataType.VarChar,
  FloatVector: DataType.FloatVector,
  SparseFloatVector: DataType.SparseFloatVector,
};

export function collectionFields(plan: CollectionPlan): FieldType[] {
  return plan.fields.map((f) => {
    const field: FieldType = { name: f.name, data_type: DATA_TYPES[f.dataType] };
    if (f.isPrimaryKey) Object.assign(field, { is_primary_key: true, autoID: false });
    if (f.isPartitionKey) field.is_partition_key = true;
    if (f.maxLength !== undefined) field.max_length = f.maxLength;
    if (f.dim !== undefined) field.dim = f.dim;
    return field;
  });
}

interface DescribedField {
  name: string;
  data_type: string;
  is_primary_key?: boolean;
  is_partition_key?: boolean;
  autoID?: boolean;
  type_params?: { key: string; value: unknown }[];
  [key: string]: unknown;
}

function typeParam(f: DescribedField, key: string): number | undefined {
  const direct = f[key];
  if (direct !== undefined && direct !== null && direct !== '') return Number(direct);
  const param = f.type_params?.find((p) => p.key === key);
  return param === undefined ? undefined : Number(param.value);
}

/** Why an existing collection cannot take this plan's rows, or null when its schema is the plan's. */
export function schemaMismatch(plan: CollectionPlan, fields: DescribedField[], dynamic: boolean): string | null {
  if (!dynamic) return 'its dynamic field is off, so metadata has nowhere to go';
  const existing = new Map(fields.filter((f) => !f.name.startsWith('$')).map((f) => [f.name, f]));
  for (const want of plan.fields) {
    const have = existing.get(want.name);
    if (!have) return `it has no field "${want.name}"`;
    existing.delete(want.name);
    if (have.data_type !== want.dataType) return `field "${want.name}" is ${have.data_type}, the plan needs ${want.dataType}`;
    if (Boolean(have.is_primary_key) !== Boolean(want.isPrimaryKey)) return `field "${want.name}" differs in being the primary key`;
    if (want.isPrimaryKey && have.autoID) return `its primary key "${want.name}" has auto id on`;
    if (Boolean(have.is_partition_key) !== Boolean(want.isPartitionKey)) return `field "${want.name}" differs in being the partition key`;
    if (want.maxLength !== undefined && typeParam(have, 'max_length') !== want.maxLength) {
      return `field "${want.name}" has max_length ${String(typeParam(have, 'max_length'))}, the plan needs ${want.maxLength}`;
    }
    if (want.dim !== undefined && typeParam(have, 'dim') !== want.dim) return `field "${want.name}" has dim ${String(typeParam(have, 'dim'))}, the plan needs ${want.dim}`;
  }
  if (existing.size > 0) return `it has fields the plan does not: ${[...existing.keys()].join(', ')}`;
  return null;
}

export function createMilvusSink(options: MilvusSinkOptions): MilvusSinkPort {
  const timeout = options.timeoutMs ?? 60_000;
  const longTimeout = options.longTimeoutMs ?? 600_000;
  const writer = writerKind(options.writer);
  let client: MilvusClient | null = null;
  let grpcWriter: GrpcWriter | null = null;
  let connectFailed = false;
  let closed = false;

  /**
   * The SDK connects once, in its constructor, and a failed first connect poisons that client for
   * good (every call re-throws it) — and is an unhandled rejection. So the rejection is observed
   * here and a fresh client is made on the next call: a sink created while Milvus is down recovers.
   */
  function current(): MilvusClient {
    if (closed) throw new EtlError('INTERNAL', 'the Milvus sink is closed');
    if (client && !connectFailed) return client;
    if (client) void client.closeConnection().catch(() => undefined);
    connectFailed = false;
    const made = new MilvusClient({
      address: options.address,
      token: options.token,
      ssl: options.ssl,
      timeout,
      logLevel: 'error',
      // The SDK pings every 10 s, even between calls; servers with gRPC's default policy (at most
      // one ping per 5 min without data, Milvus Lite among them) answer with GOAWAY "too many
      // pings", which fails every call that takes longer (an index build on a large collection)
      // with RESOURCE_EXHAUSTED, again and again. Every call has a deadline to notice a dead server.
      channelOptions: { 'grpc.keepalive_time_ms': 330_000, 'grpc.keepalive_permit_without_calls': 0 },
    });
    made.connectPromise.catch(() => {
      if (client === made) connectFailed = true;
    });
    client = made;
    return made;
  }

  async function call<T>(ctx: FailureContext, fn: (c: MilvusClient) => Promise<T>): Promise<T> {
    let response: T;
    try {
      response = await fn(current());
    } catch (err) {
      throw toEtlError(err, ctx);
    }
    return checked(response, ctx);
  }

  const job = (what: string, collection: string): FailureContext => ({ what, permanent: 'TARGET_UNSUPPORTED', collection });

  async function collectionNames(): Promise<string[]> {
    const res = await call({ what: 'listing collections', permanent: 'TARGET_UNAVAILABLE' }, (c) => c.listCollections({ timeout }));
    return (res.data ?? []).map((c) => c.name);
  }

  async function collectionExists(name: string): Promise<boolean> {
    // Not `hasCollection`: Milvus Lite 2.5 answers true for any name.
    return (await collectionNames()).includes(name);
  }

  async function ensurePartitions(plan: CollectionPlan): Promise<void> {
    if (plan.namespaceMode !== 'partitions') return;
    const res = await call(job(`listing partitions of "${plan.collection}"`, plan.collection), (c) => c.listPartitions({ collection_name: plan.collection, timeout }));
    const existing = new Set(res.partition_names ?? []);
    for (const partition of new Set(Object.values(plan.partitions))) {
      if (partition === DEFAULT_PARTITION || existing.has(partition)) continue;
      await call(job(`creating partition "${partition}" in "${plan.collection}"`, plan.collection), (c) =>
        c.createPartition({ collection_name: plan.collection, partition_name: partition, timeout }),
      );
    }
  }

  /** null when the existing collection has the plan's schema, else why not. */
  async function existingMismatch(plan: CollectionPlan): Promise<string | null> {
    const d = await call(job(`describing "${plan.collection}"`, plan.collection), (c) => c.describeCollection({ collection_name: plan.collection, timeout }));
    return schemaMismatch(plan, d.schema.fields as unknown as DescribedField[], d.schema.enable_dynamic_field === true);
  }

  function exists(plan: CollectionPlan, mismatch: string): EtlError {
    return new EtlError('TARGET_COLLECTION_EXISTS', `collection "${plan.collection}" already exists and does not match the plan: ${mismatch}`, {
      retriable: false,
      field: 'target.collection',
      hint: 'pick another collection name, or drop the existing collection first',
    });
  }

  /**
   * Creates the collection and, in partitions mode, its partitions. Idempotent for a collection
   * that already has exactly the plan's schema (a resumed job, or a second loader racing the first):
   * missing partitions are added. A different collection of that name is refused.
   */
  async function createCollection(plan: CollectionPlan): Promise<void> {
    if (await collectionExists(plan.collection)) {
      const mismatch = await existingMismatch(plan);
      if (mismatch) throw exists(plan, mismatch);
    } else {
      try {
        await call(job(`creating collection "${plan.collection}"`, plan.collection), (c) =>
          c.createCollection({
            collection_name: plan.collection,
            description: plan.description,
            fields: collectionFields(plan),
            enable_dynamic_field: true,
            timeout,
          }),
        );
      } catch (err) {
        // Someone else created it between our check and our call: fine if it is the same schema.
        if (!(await collectionExists(plan.collection).catch(() => false))) throw err;
        const mismatch = await existingMismatch(plan);
        if (mismatch) throw exists(plan, mismatch);
      }
    }
    await ensurePartitions(plan);
  }

  async function dropCollection(name: string): Promise<void> {
    if (!(await collectionExists(name))) return;
    await call(job(`dropping collection "${name}"`, name), (c) => c.dropCollection({ collection_name: name, timeout }));
  }

  async function upsertRows(plan: CollectionPlan, partition: string | undefined, rows: MilvusRow[], records: readonly VectorRecord[]): Promise<void> {
    const ctx: FailureContext = { what: `upsert of ${rows.length} rows into "${plan.collection}"${partition ? ` partition "${partition}"` : ''}`, permanent: 'RECORD_REJECTED', collection: plan.collection };
    const res = await call(ctx, (c) =>
      c.upsert({ collection_name: plan.collection, ...(partition && partition !== DEFAULT_PARTITION ? { partition_name: partition } : {}), data: rows as RowData[], timeout }),
    );
    rejectIndexes(plan, res.err_index, records);
    expectAllCounted(res.upsert_cnt, records.length, ctx);
  }

  /** The fast path: the request bytes straight from the records, on the sink's own channel. */
  async function upsertColumns(plan: CollectionPlan, partition: string | undefined, records: readonly VectorRecord[]): Promise<void> {
    const target = partition && partition !== DEFAULT_PARTITION ? partition : undefined;
    const ctx: FailureContext = { what: `upsert of ${records.length} rows into "${plan.collection}"${target ? ` partition "${target}"` : ''}`, permanent: 'RECORD_REJECTED', collection: plan.collection };
    if (closed) throw new EtlError('INTERNAL', 'the Milvus sink is closed');
    let res;
    try {
      const request = encodeUpsertRequest(plan, target, records);
      grpcWriter ??= createGrpcWriter({ address: options.address, token: options.token, ssl: options.ssl });
      res = await grpcWriter.upsert(request, timeout);
    } catch (err) {
      throw toEtlError(err, ctx);
    }
    checked(res, ctx);
    rejectIndexes(plan, res.err_index, records);
    expectAllCounted(res.upsert_cnt, records.length, ctx);
  }

  /**
   * A success that counts fewer rows than were sent (and names none as refused) is not taken on
   * trust: the offsets are committed only after this returns, so it is retried (upsert by primary
   * key makes that harmless) rather than risk a record silently missing.
   */
  function expectAllCounted(count: unknown, sent: number, ctx: FailureContext): void {
    // 0 = a server that does not fill the count in (verification still counts every record).
    const n = Number(count ?? sent);
    if (Number.isFinite(n) && n > 0 && n < sent) {
      throw new EtlError('TARGET_UNAVAILABLE', `${ctx.what}: Milvus acknowledged only ${n} of ${sent} rows; retrying the batch`, { retriable: true });
    }
  }

  function rejectIndexes(plan: CollectionPlan, errIndex: readonly unknown[] | undefined, records: readonly VectorRecord[]): void {
    const failed = errIndex ?? [];
    if (failed.length > 0) {
      throw new EtlError('RECORD_REJECTED', `Milvus refused ${failed.length} of ${records.length} rows of the upsert into "${plan.collection}"`, {
        retriable: false,
        details: { rejected: failed.map(Number).map((i) => ({ index: i, namespace: records[i]?.namespace, id: records[i]?.id, reason: 'refused by Milvus' })) },
      });
    }
  }

  async function upsert(plan: CollectionPlan, batch: RowBatch): Promise<void> {
    if (batch.records.length === 0) return;
    let rows: MilvusRow[] = [];
    let rejected: RejectedRecord[];
    if (writer === 'sdk') ({ rows, rejected } = buildRows(plan, batch.records));
    else {
      rejected = [];
      batch.records.forEach((r, index) => {
        const reason = rejectionReason(plan, r);
        if (reason !== null) rejected.push({ index, namespace: r.namespace, id: r.id, reason });
      });
    }
    if (rejected.length > 0) {
      const first = rejected[0]!;
      const message =
        batch.records.length === 1
          ? `record "${first.id}" cannot be stored: ${first.reason}`
          : `${rejected.length} of ${batch.records.length} records cannot be stored (first: "${first.id}": ${first.reason})`;
      throw new EtlError('RECORD_REJECTED', message, { retriable: false, details: { rejected } });
    }
    if (plan.namespaceMode === 'partitionKey') {
      return writer === 'grpc' ? upsertColumns(plan, undefined, batch.records) : upsertRows(plan, undefined, rows, batch.records);
    }

    // Partitions mode: one request per partition; a batch meant for one partition must hold only its records.
    const groups = new Map<string, { rows: MilvusRow[]; records: VectorRecord[] }>();
    batch.records.forEach((r, i) => {
      const partition = plan.partitions[r.namespace]!;
      if (batch.partition !== undefined && partition !== batch.partition) {
        throw new EtlError('INTERNAL', `record "${r.id}" of namespace "${r.namespace}" belongs to partition "${partition}", not to the batch's partition "${batch.partition}"`);
      }
      const group = groups.get(partition) ?? { rows: [], records: [] };
      if (writer === 'sdk') group.rows.push(rows[i]!);
      group.records.push(r);
      groups.set(partition, group);
    });
    for (const [partition, group] of groups) {
      if (writer === 'grpc') await upsertColumns(plan, partition, group.records);
      else await upsertRows(plan, partition, group.rows, group.records);
    }
  }

  async function flush(plan: CollectionPlan): Promise<void> {
    await call(job(`flushing "${plan.collection}"`, plan.collection), (c) => c.flushSync({ collection_names: [plan.collection], timeout: longTimeout }));
  }

  async function createIndexes(plan: CollectionPlan): Promise<void> {
    for (const index of plan.indexes) {
      const existing = await current()
        .describeIndex({ collection_name: plan.collection, field_name: index.field, timeout })
        .catch((err: unknown) => {
          const e = toEtlError(err, job('describing indexes', plan.collection));
          if (e.retriable) throw e;
          return null;
        });
      // A field without an index answers with a failed status ("index not found"): nothing to compare.
      const description = existing && !statusFailed(existing.status) ? existing.index_descriptions?.find((d) => d.field_name === index.field) : undefined;
      if (description) {
        const param = (key: string): string | undefined => description.params.find((p) => p.key === key)?.value as string | undefined;
        if (param('index_type') === index.indexType && param('metric_type') === index.metricType) continue;
        throw new EtlError(
          'TARGET_UNSUPPORTED',
          `field "${index.field}" of "${plan.collection}" already has a ${String(param('index_type'))}/${String(param('metric_type'))} index; the plan needs ${index.indexType}/${index.metricType}`,
          { retriable: false, hint: 'drop that index, or migrate into a new collection' },
        );
      }
      await call(job(`creating the ${index.indexType} index on "${index.field}"`, plan.collection), (c) =>
        c.createIndex({ collection_name: plan.collection, field_name: index.field, index_name: index.field, index_type: index.indexType, metric_type: index.metricType, timeout }),
      );
    }
  }

  async function loadCollection(plan: CollectionPlan): Promise<void> {
    await call(job(`loading "${plan.collection}"`, plan.collection), (c) => c.loadCollectionSync({ collection_name: plan.collection, timeout: longTimeout }));
  }

  async function query(plan: CollectionPlan, what: string, req: { filter: string; partitionNames?: string[] | undefined; outputFields: string[]; limit?: number; params?: Record<string, string> }): Promise<MilvusRow[]> {
    const res = await call(job(what, plan.collection), (c) =>
      c.query({
        collection_name: plan.collection,
        filter: req.filter,
        output_fields: req.outputFields,
        ...(req.partitionNames ? { partition_names: req.partitionNames } : {}),
        ...(req.limit !== undefined ? { limit: req.limit } : {}),
        ...(req.params ? { params: req.params } : {}),
        consistency_level: STRONG as never,
        timeout,
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
      const rows = await query(plan, `counting namespace ${quote(ns)} in "${plan.collection}"`, { filter: scope.filter, partitionNames: scope.partitionNames, outputFields: ['count(*)'] });
      counts.set(ns, Number(rows[0]?.['count(*)'] ?? 0));
    }
    return counts;
  }

  /**
   * Up to `limit` ids after `afterId`, in primary-key order; fewer only at the end of the namespace.
   * `iterator: True` is what pymilvus's query iterator sends: it makes the server return the
   * smallest matching keys (Milvus does so anyway; Milvus Lite 3 only with it). Pages are sorted
   * here too, by UTF-8 bytes as Milvus compares VARCHAR, and topped up if a server answers short.
   */
  async function listIds(plan: CollectionPlan, namespace: string, afterId: string | null, limit: number): Promise<string[]> {
    if (plan.namespaceMode === 'partitions' && plan.partitions[namespace] === undefined) return [];
    const n = Math.max(1, Math.min(Math.floor(limit), MAX_QUERY_ROWS));
    const scope = namespaceScope(plan, namespace);
    const idField = plan.names.id;
    const ids: string[] = [];
    let after = afterId;
    while (ids.length < n) {
      const want = n - ids.length;
      const rows = await query(plan, `listing ids of namespace ${quote(namespace)} in "${plan.collection}"`, {
        filter: and(scope.filter, after === null ? null : `${idField} > ${quote(after)}`),
        partitionNames: scope.partitionNames,
        outputFields: [idField],
        limit: want,
        params: { iterator: 'True' },
      });
      const page = rows.map((r) => String(r[idField])).sort(compareUtf8);
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
    for (let i = 0; i < unique.length; i += IDS_PER_LOOKUP) {
      const chunk = unique.slice(i, i + IDS_PER_LOOKUP);
      const rows = await query(plan, `reading ${chunk.length} records of namespace ${quote(namespace)} from "${plan.collection}"`, {
        filter: and(scope.filter, fieldIn(plan.names.id, chunk)),
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

  /** Which namespace holds each of these ids now (primary keys are unique per collection). */
  async function namespacesOf(plan: CollectionPlan, ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const unique = [...new Set(ids)];
    if (unique.length === 0) return out;
    const scopes: { namespace: string | null; partitionNames?: string[] | undefined }[] =
      plan.namespaceMode === 'partitionKey'
        ? [{ namespace: null }]
        : Object.entries(plan.partitions).map(([namespace, partition]) => ({ namespace, partitionNames: [partition] }));
    const nsField = plan.names.namespace;
    for (const scope of scopes) {
      for (let i = 0; i < unique.length; i += IDS_PER_LOOKUP) {
        const chunk = unique.slice(i, i + IDS_PER_LOOKUP);
        const rows = await query(plan, `looking up ${chunk.length} ids in "${plan.collection}"`, {
          filter: fieldIn(plan.names.id, chunk),
          partitionNames: scope.partitionNames,
          outputFields: scope.namespace === null ? [plan.names.id, nsField] : [plan.names.id],
          limit: chunk.length,
        });
        for (const row of rows) out.set(String(row[plan.names.id]), scope.namespace ?? String(row[nsField] ?? ''));
      }
    }
    return out;
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    const c = client;
    client = null;
    grpcWriter?.close();
    grpcWriter = null;
    await c?.closeConnection().catch(() => undefined);
  }

  let persists: Promise<boolean> | null = null;
  function persistsAcknowledgedWrites(): Promise<boolean> {
    persists ??= call({ what: 'asking the Milvus version', permanent: 'TARGET_UNAVAILABLE' }, (c) => c.getVersion()).then(
      (res) => !/lite/i.test(String((res as { version?: string }).version ?? '')),
      (err: unknown) => {
        persists = null;
        throw err;
      },
    );
    return persists;
  }

  /** Only the gRPC write path has a channel of its own to watch; the SDK's pool of channels is not watched. */
  function connectionEpoch(): number | null {
    return writer === 'grpc' && grpcWriter && !closed ? grpcWriter.connectionEpoch() : null;
  }

  return { collectionExists, createCollection, dropCollection, upsert, flush, createIndexes, loadCollection, countByNamespace, listIds, getRecords, namespacesOf, persistsAcknowledgedWrites, connectionEpoch, close };
}
