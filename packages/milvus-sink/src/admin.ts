import { createHash } from 'node:crypto';
import type { DataType, FieldType } from '@zilliz/milvus2-sdk-node';
import { DEFAULT_PARTITION, EtlError, retry, sleep, type CollectionPlan, type FieldPlan, type SinkAdmin, type TargetCapabilities } from '@p2m/core';
import { ensureIndexes } from './indexes.ts';
import type { MilvusConnection } from './connection.ts';
import { onCollection } from './errors.ts';
import { probeCapabilities } from './probe.ts';

/** The controller's view of the target: what it can do, and the collection a job creates. */

/**
 * schema.DataType wire values (the SDK's `DataType` enum, checked in admin.test.ts), as numbers so
 * that loading this module does not load the SDK: processes that never make a collection (loaders,
 * the extractor) are spared its ~45 MB.
 */
export const DATA_TYPES = { VarChar: 21, FloatVector: 101, SparseFloatVector: 104 } as const satisfies Record<
  FieldPlan['dataType'],
  number
> as unknown as Record<FieldPlan['dataType'], DataType>;

export function collectionFields(plan: Pick<CollectionPlan, 'fields'>): FieldType[] {
  return plan.fields.map((f) => {
    const field: FieldType = { name: f.name, data_type: DATA_TYPES[f.dataType] };
    if (f.isPrimaryKey) Object.assign(field, { is_primary_key: true, autoID: false });
    if (f.isPartitionKey) field.is_partition_key = true;
    if (f.nullable) field.nullable = true;
    if (f.maxLength !== undefined) field.max_length = f.maxLength;
    if (f.dim !== undefined) field.dim = f.dim;
    return field;
  });
}

export interface DescribedField {
  name: string;
  data_type: string;
  is_primary_key?: boolean;
  is_partition_key?: boolean;
  nullable?: boolean;
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
    if (Boolean(have.nullable) !== Boolean(want.nullable))
      return `field "${want.name}" ${want.nullable ? 'is not nullable, the plan needs it nullable' : 'is nullable, the plan does not'}`;
    if (want.maxLength !== undefined && typeParam(have, 'max_length') !== want.maxLength) {
      return `field "${want.name}" has max_length ${String(typeParam(have, 'max_length'))}, the plan needs ${want.maxLength}`;
    }
    if (want.dim !== undefined && typeParam(have, 'dim') !== want.dim)
      return `field "${want.name}" has dim ${String(typeParam(have, 'dim'))}, the plan needs ${want.dim}`;
  }
  if (existing.size > 0) return `it has fields the plan does not: ${[...existing.keys()].join(', ')}`;
  return null;
}

/**
 * Set-up DDL answers "UnexpectedError" for conditions that pass (a partition created while the
 * collection is still being set up came back once with code 1, and the same call succeeded a moment
 * later). So a DDL step that fails is tried again a few times — bounded, about 10 s — before its
 * error stands; errors that say they are transient keep the caller's own, longer policy.
 */
const DDL_AGAIN = { retries: 4, initialDelayMs: 500, maxDelayMs: 4_000, shouldRetry: () => true };

/**
 * The probe takes a few seconds on a real server (a scratch collection is indexed and loaded), and
 * a plan preview followed by the job's creation asks twice: answers are kept per target for a while.
 */
const CAPABILITIES_TTL_MS = 5 * 60_000;
const probed = new Map<string, { at: number; answer: Promise<TargetCapabilities> }>();

export function forgetCapabilities(): void {
  probed.clear();
}

export function createAdmin(conn: MilvusConnection, token?: string): SinkAdmin {
  // Per address and credentials: another token may see another server's permissions.
  const key = `${conn.address}\u0000${createHash('sha256')
    .update(token ?? '')
    .digest('hex')}`;

  async function collectionExists(name: string): Promise<boolean> {
    // Not `hasCollection`: Milvus Lite 2.5 answers true for any name.
    return (await conn.collectionNames()).includes(name);
  }

  async function ensurePartitions(plan: CollectionPlan): Promise<void> {
    if (plan.namespaceMode !== 'partitions') return;
    const listed = async (): Promise<Set<string>> => {
      const res = await conn.call(onCollection(plan.collection, `listing partitions of "${plan.collection}"`), (c) =>
        c.listPartitions({ collection_name: plan.collection, timeout: conn.timeout }),
      );
      return new Set(res.partition_names ?? []);
    };
    let existing = await listed();
    for (const partition of new Set(Object.values(plan.partitions))) {
      if (partition === DEFAULT_PARTITION || existing.has(partition)) continue;
      await retry(async () => {
        try {
          await conn.call(onCollection(plan.collection, `creating partition "${partition}" in "${plan.collection}"`), (c) =>
            c.createPartition({ collection_name: plan.collection, partition_name: partition, timeout: conn.timeout }),
          );
        } catch (err) {
          // An earlier attempt may have created it before its answer was lost.
          existing = await listed();
          if (!existing.has(partition)) throw err;
        }
      }, DDL_AGAIN);
    }
  }

  async function existingMismatch(plan: CollectionPlan): Promise<string | null> {
    const d = await conn.call(onCollection(plan.collection, `describing "${plan.collection}"`), (c) =>
      c.describeCollection({ collection_name: plan.collection, timeout: conn.timeout }),
    );
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
   * that already has exactly the plan's schema (a resumed job, or a second controller racing the
   * first): missing partitions are added. A different collection of that name is refused.
   *
   * The vector indexes are created here too where the plan says so (`indexesWithCollection`: a
   * server that builds them apart from the load, or does not say), so it builds each sealed
   * segment's index while the load goes on. Never on Milvus Lite (a plan asking for it is refused):
   * a Lite collection with an index comes back from a restart "released" and refuses every query
   * until a load, which builds the index of every segment inside the call, so a loader's read-back
   * after a Lite restart failed (fresh-clone CI, chaos) or would wait for a whole index build.
   * Verification creates them otherwise, after the load.
   */
  async function createCollection(plan: CollectionPlan): Promise<void> {
    if (await collectionExists(plan.collection)) {
      const mismatch = await existingMismatch(plan);
      if (mismatch) throw exists(plan, mismatch);
    } else {
      try {
        await conn.call(onCollection(plan.collection, `creating collection "${plan.collection}"`), (c) =>
          c.createCollection({
            collection_name: plan.collection,
            description: plan.description,
            fields: collectionFields(plan),
            enable_dynamic_field: true,
            timeout: conn.timeout,
          }),
        );
      } catch (err) {
        // Someone else created it between our check and our call: fine if it is the same schema.
        // Their creation may still be under way (Milvus Lite: "[Errno 17] File exists" while the
        // other call has made the directory but not yet listed the collection): look for a while.
        if (!(await appears(plan.collection))) throw err;
        const mismatch = await existingMismatch(plan);
        if (mismatch) throw exists(plan, mismatch);
      }
    }
    await ensurePartitions(plan);
    if (plan.indexesWithCollection) await ensureIndexes(conn, plan);
  }

  /** Whether the collection exists now or within ~3 s (another caller's creation finishing). */
  async function appears(name: string): Promise<boolean> {
    for (let i = 0; i < 12; i++) {
      if (await collectionExists(name).catch(() => false)) return true;
      await sleep(250);
    }
    return false;
  }

  async function dropCollection(name: string): Promise<void> {
    if (!(await collectionExists(name))) return;
    await conn.call(onCollection(name, `dropping collection "${name}"`), (c) => c.dropCollection({ collection_name: name, timeout: conn.timeout }));
  }

  return {
    capabilities() {
      const known = probed.get(key);
      if (known && Date.now() - known.at < CAPABILITIES_TTL_MS) return known.answer;
      // A failed probe is asked again next time.
      const answer = probeCapabilities(conn).catch((err: unknown) => {
        if (probed.get(key)?.answer === answer) probed.delete(key);
        throw err;
      });
      probed.set(key, { at: Date.now(), answer });
      return answer;
    },
    collectionExists,
    createCollection,
    dropCollection,
  };
}
