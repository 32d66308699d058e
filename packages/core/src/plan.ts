import { createHash } from 'node:crypto';
import { EtlError } from './errors.ts';
import type { CapabilityDecision, TargetCapabilities } from './capabilities.ts';
import type { IndexDescription, NamespaceInfo, PineconeMetric } from './source-model.ts';
import { MAX_VARCHAR_LENGTH, MILVUS_NAME, MILVUS_NAME_MAX, type FieldNames, type JobSpec } from './spec.ts';

/**
 * The plan: what the target collection will look like, derived purely from the job spec and what the
 * source says about itself. It is what the schema preview shows and what the sink creates, so the
 * mapping rules of DESIGN.md live here and nowhere else.
 */

export type MilvusMetric = 'COSINE' | 'L2' | 'IP';

export interface FieldPlan {
  role: 'primaryKey' | 'id' | 'vector' | 'sparseVector' | 'namespace';
  name: string;
  dataType: 'VarChar' | 'FloatVector' | 'SparseFloatVector';
  isPrimaryKey?: boolean;
  isPartitionKey?: boolean;
  /** A row may hold no value (a record without sparse values in a hybrid index). */
  nullable?: boolean;
  maxLength?: number;
  dim?: number;
}

export interface IndexPlan {
  field: string;
  indexType: 'AUTOINDEX' | 'SPARSE_INVERTED_INDEX';
  metricType: MilvusMetric;
}

/**
 * How a record without sparse values is stored:
 * - `none`: the collection has no sparse field (a cosine/euclidean dense index);
 * - `required`: a sparse index, every record has sparse values;
 * - `nullable`: a dense dotproduct index, the sparse field is nullable and such a record stores NULL;
 * - `emptyRow`: a dense dotproduct index, such a record stores an empty sparse row (targets without
 *   nullable vector fields that accept one).
 */
export type SparseRows = 'none' | 'required' | 'nullable' | 'emptyRow';

export interface CollectionPlan {
  collection: string;
  description: string;
  fields: FieldPlan[];
  /** Always on: Pinecone metadata goes to the dynamic JSON field (`$meta`), values kept as-is. */
  enableDynamicField: true;
  names: FieldNames;
  /** What the primary key holds: the Pinecone id, or `namespaceAndIdKey(namespace, id)` (then `names.id` is a plain field). */
  primaryKey: 'id' | 'namespaceAndId';
  /** The primary key field's name: `names.id` in `id` mode, `names.primaryKey` in `namespaceAndId` mode. */
  primaryKeyField: string;
  dimension: number | null;
  hasDense: boolean;
  hasSparse: boolean;
  sparseRows: SparseRows;
  maxIdLength: number;
  /** max_length of the primary key field (`maxIdLength` in `id` mode). */
  primaryKeyMaxLength: number;
  namespaceMode: 'partitionKey' | 'partitions';
  /** Partitions mode: source namespace ('' = default) → partition name. Empty in partition-key mode. */
  partitions: Record<string, string>;
  indexes: IndexPlan[];
  source: {
    index: string;
    metric: PineconeMetric;
    vectorType: 'dense' | 'sparse';
    namespaces: NamespaceInfo[];
    totalRecords: number;
  };
  /** The target as it answered when the job was planned. Absent only in plans made before capabilities existed. */
  target?: { capabilities: TargetCapabilities; decisions: CapabilityDecision[] };
  /**
   * Loaders commit offsets only after a flush: for a target that keeps acknowledged writes in memory
   * (Milvus Lite), or one that cannot tell, or when `options.flushBeforeCommit` says `always`.
   */
  flushBeforeCommit: boolean;
  /**
   * Loaders delete a batch's primary keys before upserting it: the target's upsert merges the
   * dynamic field into the old row's (Milvus Lite), so a rewritten id would keep metadata keys its
   * latest copy does not have. Absent in plans made before this existed (= false).
   */
  deleteBeforeUpsert?: boolean;
  /**
   * The vector indexes are created with the collection, so the server indexes each segment as the
   * load seals it and verification waits only for what is left: where it builds on hosts of its own
   * or does not say (`indexNodesApart`), or `options.indexBuild` is `duringLoad`. False where every
   * node shares one host (a build would take the load's CPU), and on Milvus Lite, which builds an
   * index inside the create call and needs a rebuilding load after a restart once a collection has
   * one: verification creates them there, after the load. Absent in plans made before this (= false).
   */
  indexesWithCollection?: boolean;
}

export const METRIC_MAP: Record<PineconeMetric, MilvusMetric> = { cosine: 'COSINE', euclidean: 'L2', dotproduct: 'IP' };
export const MILVUS_MAX_DIM = 32_768;
export const MILVUS_MAX_PARTITIONS = 1024;
/** Pinecone does not document a namespace length limit; this is generous and still bounded. */
export const NAMESPACE_MAX_LENGTH = 4096;
export const DEFAULT_PARTITION = '_default';

export interface PlanInput {
  spec: JobSpec;
  index: IndexDescription;
  namespaces: NamespaceInfo[];
  /** The target's answers (the Milvus sink's admin probes them). */
  capabilities: TargetCapabilities;
}

/** Milvus partition name for a namespace: readable where possible, unique always. */
export function partitionName(namespace: string): string {
  if (namespace === '') return DEFAULT_PARTITION;
  if (MILVUS_NAME.test(namespace) && namespace.length <= 200 && namespace !== DEFAULT_PARTITION) return namespace;
  const readable = namespace.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 180);
  const hash = createHash('sha256').update(namespace).digest('hex').slice(0, 12);
  return `ns_${readable}_${hash}`;
}

/**
 * The primary key of a (namespace, id) pair in `namespaceAndId` mode: the namespace's length in UTF-8
 * bytes, `:`, the namespace, `:`, the id — `8:tenant-a:doc-1`, `0::doc-1` for the default namespace.
 * Deterministic and unambiguous (the length says where the namespace ends, whatever it contains),
 * readable, and a plain string any client can rebuild to look a record up.
 */
export function namespaceAndIdKey(namespace: string, id: string): string {
  return `${Buffer.byteLength(namespace, 'utf8')}:${namespace}:${id}`;
}

/** The inverse of `namespaceAndIdKey`; null for a string it did not make. */
export function parseNamespaceAndIdKey(key: string): { namespace: string; id: string } | null {
  const m = /^(\d+):/.exec(key);
  if (!m) return null;
  const bytes = Buffer.from(key.slice(m[0].length), 'utf8');
  const length = Number(m[1]);
  if (bytes.length < length + 1 || bytes[length] !== 0x3a) return null;
  const namespace = bytes.subarray(0, length).toString('utf8');
  if (Buffer.byteLength(namespace, 'utf8') !== length) return null;
  return { namespace, id: bytes.subarray(length + 1).toString('utf8') };
}

/** The primary key value of a record under a plan. */
export function primaryKeyOf(plan: Pick<CollectionPlan, 'primaryKey'>, namespace: string, id: string): string {
  return plan.primaryKey === 'namespaceAndId' ? namespaceAndIdKey(namespace, id) : id;
}

const refuse = (message: string, hint: string, field: string): EtlError => new EtlError('TARGET_UNSUPPORTED', message, { hint, field, retriable: false });

export function planCollection({ spec, index, namespaces, capabilities: caps }: PlanInput): CollectionPlan {
  if (index.deployment === 'pod') {
    throw new EtlError('SOURCE_POD_INDEX', `index "${index.name}" is a pod-based index; p2m migrates serverless indexes only`, {
      hint: 'migrate a serverless index (pod indexes have no list operation); move the pod index to serverless in Pinecone first',
      field: 'source.index',
    });
  }
  const names = spec.target.fields;
  const hasDense = index.vectorType === 'dense';
  // Pinecone lets any record of a dense dotproduct index carry sparse values, and the first records
  // need not show any: such an index always gets the sparse field (DESIGN.md, "Real indexes are not
  // uniform"), decided from the description, never from a sample of records.
  const hasSparse = index.vectorType === 'sparse' || index.metric === 'dotproduct';

  if (hasDense) {
    const dim = index.dimension;
    if (dim === null || !Number.isInteger(dim) || dim < 1 || dim > MILVUS_MAX_DIM) {
      throw new EtlError('TARGET_UNSUPPORTED', `index "${index.name}" has dimension ${String(dim)}, which Milvus cannot store (1–${MILVUS_MAX_DIM})`, {
        hint: 'only indexes with a dimension Milvus supports can be migrated',
        field: 'source.index',
      });
    }
  }
  if (!(index.metric in METRIC_MAP)) {
    throw new EtlError('TARGET_UNSUPPORTED', `index "${index.name}" uses metric "${String(index.metric)}", which has no Milvus equivalent`, {
      hint: 'supported metrics are cosine, euclidean and dotproduct',
      field: 'source.index',
    });
  }
  if (index.vectorType === 'sparse' && index.metric !== 'dotproduct') {
    throw new EtlError('TARGET_UNSUPPORTED', `sparse index "${index.name}" uses metric "${index.metric}"; Milvus sparse vectors support inner product only`, {
      field: 'source.index',
    });
  }

  const wanted = spec.source.namespaces?.map((n) => (n === '__default__' ? '' : n));
  const selected = wanted ? wanted.map((name) => namespaces.find((n) => n.name === name) ?? { name, recordCount: 0 }) : namespaces;
  const namespaceMode = spec.target.partitionKey ? 'partitionKey' : 'partitions';
  const decisions: CapabilityDecision[] = [];
  /** One line of the table; `c` is given for a capability a plan may lack (an older probe's). */
  const decide = <K extends CapabilityDecision['capability']>(capability: K, decision: string, c = caps[capability]!): void => {
    decisions.push({ capability, value: String(c.value), how: c.how, detail: c.detail, decision });
  };
  const target = caps.milvusVersion ? `Milvus ${caps.milvusVersion}` : `the target (${caps.serverVersion || 'version unknown'})`;

  // What the target cannot hold is refused here, before anything is created.
  let sparseRows: SparseRows = 'none';
  if (hasSparse) {
    const why =
      index.vectorType === 'sparse'
        ? `"${index.name}" is a sparse index`
        : `"${index.name}" is a dense dotproduct index, whose records may carry sparse values (hybrid)`;
    if (!caps.sparseVectors.value) {
      throw refuse(
        `${why}, but ${target} has no sparse vectors (${caps.sparseVectors.detail})`,
        'migrate into Milvus 2.4 or later, or Zilliz Cloud, which store SPARSE_FLOAT_VECTOR fields',
        'target.address',
      );
    }
    if (index.vectorType === 'sparse') sparseRows = 'required';
    else if (caps.nullableVectors.value) sparseRows = 'nullable';
    else if (caps.emptySparseRows.value) sparseRows = 'emptyRow';
    else {
      throw refuse(
        `${why}; a record without sparse values needs a nullable sparse field or an empty sparse row, and ${target} accepts neither (${caps.nullableVectors.detail}; ${caps.emptySparseRows.detail})`,
        'migrate into Milvus 2.6 or later, or Zilliz Cloud (nullable vector fields), or Milvus 2.4/2.5 (empty sparse rows)',
        'target.address',
      );
    }
    decide('sparseVectors', `the collection gets the SPARSE_FLOAT_VECTOR field "${names.sparseVector}"`);
    if (sparseRows === 'nullable') decide('nullableVectors', `"${names.sparseVector}" is nullable: a record without sparse values stores NULL`);
    if (sparseRows === 'emptyRow') decide('emptySparseRows', `a record without sparse values stores an empty sparse row in "${names.sparseVector}"`);
  } else {
    decide('sparseVectors', `not needed: a ${index.metric} dense index holds no sparse values`);
  }
  if (!caps.dynamicField.value) {
    throw refuse(
      `${target} has no dynamic field, where Pinecone metadata goes (${caps.dynamicField.detail})`,
      'migrate into Milvus 2.2.9 or later, or Zilliz Cloud',
      'target.address',
    );
  }
  decide('dynamicField', 'metadata goes to the dynamic field ($meta), values as they are');

  if (namespaceMode === 'partitionKey') {
    if (!caps.partitionKey.value) {
      throw refuse(
        `${target} has no partition key (${caps.partitionKey.detail})`,
        'use one partition per namespace instead (target.partitionKey: false)',
        'target.partitionKey',
      );
    }
    if (!caps.upsertHonoursPartitionKey.value) {
      throw refuse(
        `${target} does not route upserts by the partition key (${caps.upsertHonoursPartitionKey.detail}), so records would be stored where a namespace filter cannot find them`,
        'use one partition per namespace (target.partitionKey: false), or migrate into Milvus 2.4 or later',
        'target.partitionKey',
      );
    }
    decide('partitionKey', `namespaces go to the partition-key field "${names.namespace}"`);
    decide('upsertHonoursPartitionKey', 'rows are written with upsert, routed by the partition key');
  } else {
    if (selected.length > caps.maxPartitions.value) {
      throw refuse(
        `the index has ${selected.length} namespaces but a collection of ${target} holds at most ${caps.maxPartitions.value} partitions`,
        'use the partition-key mode (target.partitionKey: true), which has no such limit',
        'target.partitionKey',
      );
    }
    decide('maxPartitions', `${selected.length} partition${selected.length === 1 ? '' : 's'}, one per namespace`);
  }

  const mode = spec.options.flushBeforeCommit;
  const persists = caps.persistsAcknowledgedWrites.value;
  const flushBeforeCommit = mode === 'always' || (mode === 'auto' && persists !== true);
  decide(
    'persistsAcknowledgedWrites',
    mode !== 'auto'
      ? `options.flushBeforeCommit is "${mode}": loaders ${flushBeforeCommit ? 'flush before they commit offsets' : 'commit offsets once Milvus acknowledged a write'}`
      : persists === true
        ? 'loaders commit offsets once Milvus acknowledged a write (its write-ahead log keeps it)'
        : persists === false
          ? 'loaders commit offsets only after a flush (at most one per 2 s), so a crash of the target loses nothing'
          : 'unknown, so loaders commit offsets only after a flush (safe); set options.flushBeforeCommit to "never" for a target with a write-ahead log',
  );
  decide(
    'queryNeedsLoad',
    caps.queryNeedsLoad.value
      ? 'verification waits for the indexes and loads the collection before any query'
      : 'verification creates the indexes after the load: this target builds an index inside the create call and needs a rebuilding load after a restart once a collection has one',
  );
  const build = spec.options.indexBuild;
  if (build === 'duringLoad' && !caps.queryNeedsLoad.value) {
    throw new EtlError(
      'TARGET_UNSUPPORTED',
      `${target} builds an index inside the create call and needs a rebuilding load after a restart once a collection has one, so it cannot take its index before the load`,
      { hint: 'set options.indexBuild to "auto" or "afterLoad" for this target', field: 'options.indexBuild' },
    );
  }
  const apart = caps.indexNodesApart ?? { value: null, how: 'unknown' as const, detail: 'not asked' };
  const indexesWithCollection = build === 'duringLoad' || (build === 'auto' && caps.queryNeedsLoad.value && apart.value !== false);
  decide(
    'indexNodesApart',
    build !== 'auto'
      ? `options.indexBuild is "${build}": the vector indexes are created ${indexesWithCollection ? 'with the collection' : 'by verification, after the load'}`
      : indexesWithCollection
        ? "the vector indexes are created with the collection, so the server builds each segment's index while the load goes on; verification waits for the rest"
        : !caps.queryNeedsLoad.value
          ? 'the vector indexes are created by verification, after the load (see queryNeedsLoad)'
          : 'the vector indexes are created by verification, after the load: a build during it would take the load\'s CPU on the same host (measured at 1,000,000 × 768-d on a 2-core standalone server: the load took 624 s against 344–428 s, with 3 % of the rows indexed meanwhile); set options.indexBuild to "duringLoad" to build while loading',
    apart,
  );
  const deleteBeforeUpsert = caps.upsertReplacesDynamicField.value === false;
  decide(
    'upsertReplacesDynamicField',
    deleteBeforeUpsert
      ? "loaders delete a batch's keys before upserting it, so a rewritten id keeps only its latest metadata"
      : 'upsert replaces a row whole, metadata included',
  );

  const namespaceAndId = spec.target.primaryKey === 'namespaceAndId';
  const primaryKeyMaxLength = namespaceAndId
    ? Math.min(MAX_VARCHAR_LENGTH, String(NAMESPACE_MAX_LENGTH).length + 2 + NAMESPACE_MAX_LENGTH + spec.target.maxIdLength)
    : spec.target.maxIdLength;
  const fields: FieldPlan[] = [];
  // Milvus Lite 2.5 wants the partition-key field before the primary key; Milvus accepts either order.
  if (namespaceMode === 'partitionKey') {
    fields.push({ role: 'namespace', name: names.namespace, dataType: 'VarChar', maxLength: NAMESPACE_MAX_LENGTH, isPartitionKey: true });
  }
  if (namespaceAndId) {
    fields.push({ role: 'primaryKey', name: names.primaryKey, dataType: 'VarChar', maxLength: primaryKeyMaxLength, isPrimaryKey: true });
    fields.push({ role: 'id', name: names.id, dataType: 'VarChar', maxLength: spec.target.maxIdLength });
  } else {
    fields.push({ role: 'id', name: names.id, dataType: 'VarChar', maxLength: spec.target.maxIdLength, isPrimaryKey: true });
  }
  if (hasDense) fields.push({ role: 'vector', name: names.vector, dataType: 'FloatVector', dim: index.dimension! });
  if (hasSparse)
    fields.push({ role: 'sparseVector', name: names.sparseVector, dataType: 'SparseFloatVector', ...(sparseRows === 'nullable' ? { nullable: true } : {}) });

  const partitions: Record<string, string> = {};
  if (namespaceMode === 'partitions') {
    const used = new Set<string>();
    for (const ns of selected) {
      const p = partitionName(ns.name);
      if (p.length > MILVUS_NAME_MAX || used.has(p)) throw new EtlError('INTERNAL', `partition name clash for namespace "${ns.name}"`);
      used.add(p);
      partitions[ns.name] = p;
    }
  }

  const indexes: IndexPlan[] = [];
  if (hasDense) indexes.push({ field: names.vector, indexType: 'AUTOINDEX', metricType: METRIC_MAP[index.metric] });
  if (hasSparse) indexes.push({ field: names.sparseVector, indexType: 'SPARSE_INVERTED_INDEX', metricType: 'IP' });

  return {
    collection: spec.target.collection,
    description: spec.target.description ?? `Migrated by p2m from Pinecone index ${index.name}`,
    fields,
    enableDynamicField: true,
    names,
    primaryKey: spec.target.primaryKey,
    primaryKeyField: namespaceAndId ? names.primaryKey : names.id,
    dimension: hasDense ? index.dimension : null,
    hasDense,
    hasSparse,
    sparseRows,
    maxIdLength: spec.target.maxIdLength,
    primaryKeyMaxLength,
    namespaceMode,
    partitions,
    indexes,
    source: {
      index: index.name,
      metric: index.metric,
      vectorType: index.vectorType,
      namespaces: selected,
      totalRecords: selected.reduce((sum, n) => sum + n.recordCount, 0),
    },
    target: { capabilities: caps, decisions },
    flushBeforeCommit,
    deleteBeforeUpsert,
    indexesWithCollection,
  };
}

/** Field names of the plan a metadata key must not take (it would shadow a schema field). */
export function schemaFieldNames(plan: CollectionPlan): Set<string> {
  return new Set(plan.fields.map((f) => f.name));
}
