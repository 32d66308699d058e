import { createHash } from 'node:crypto';
import { EtlError } from './errors.ts';
import type { IndexDescription, NamespaceInfo, PineconeMetric } from './ports.ts';
import { MILVUS_NAME, MILVUS_NAME_MAX, type FieldNames, type JobSpec } from './spec.ts';

/**
 * The plan: what the target collection will look like, derived purely from the job spec and what the
 * source says about itself. It is what the schema preview shows and what the sink creates, so the
 * mapping rules of DESIGN.md live here and nowhere else.
 */

export type MilvusMetric = 'COSINE' | 'L2' | 'IP';

export interface FieldPlan {
  role: 'id' | 'vector' | 'sparseVector' | 'namespace';
  name: string;
  dataType: 'VarChar' | 'FloatVector' | 'SparseFloatVector';
  isPrimaryKey?: boolean;
  isPartitionKey?: boolean;
  maxLength?: number;
  dim?: number;
}

export interface IndexPlan {
  field: string;
  indexType: 'AUTOINDEX' | 'SPARSE_INVERTED_INDEX';
  metricType: MilvusMetric;
}

export interface CollectionPlan {
  collection: string;
  description: string;
  fields: FieldPlan[];
  /** Always on: Pinecone metadata goes to the dynamic JSON field (`$meta`), values kept as-is. */
  enableDynamicField: true;
  names: FieldNames;
  dimension: number | null;
  hasDense: boolean;
  hasSparse: boolean;
  maxIdLength: number;
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
  /** Whether the source carries sparse values next to dense ones (a hybrid dotproduct index). */
  sparseDetected: boolean;
}

/** Milvus partition name for a namespace: readable where possible, unique always. */
export function partitionName(namespace: string): string {
  if (namespace === '') return DEFAULT_PARTITION;
  if (MILVUS_NAME.test(namespace) && namespace.length <= 200 && namespace !== DEFAULT_PARTITION) return namespace;
  const readable = namespace.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 180);
  const hash = createHash('sha256').update(namespace).digest('hex').slice(0, 12);
  return `ns_${readable}_${hash}`;
}

export function planCollection({ spec, index, namespaces, sparseDetected }: PlanInput): CollectionPlan {
  if (index.deployment === 'pod') {
    throw new EtlError('SOURCE_POD_INDEX', `index "${index.name}" is a pod-based index; p2m migrates serverless indexes only`, {
      hint: 'migrate a serverless index (pod indexes have no list operation); move the pod index to serverless in Pinecone first',
      field: 'source.index',
    });
  }
  const names = spec.target.fields;
  const hasDense = index.vectorType === 'dense';
  const hasSparse = index.vectorType === 'sparse' || (sparseDetected && index.metric === 'dotproduct');

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

  const fields: FieldPlan[] = [];
  const namespaceMode = spec.target.partitionKey ? 'partitionKey' : 'partitions';
  // Milvus Lite 2.5 wants the partition-key field before the primary key; Milvus accepts either order.
  if (namespaceMode === 'partitionKey') {
    fields.push({ role: 'namespace', name: names.namespace, dataType: 'VarChar', maxLength: NAMESPACE_MAX_LENGTH, isPartitionKey: true });
  }
  fields.push({ role: 'id', name: names.id, dataType: 'VarChar', maxLength: spec.target.maxIdLength, isPrimaryKey: true });
  if (hasDense) fields.push({ role: 'vector', name: names.vector, dataType: 'FloatVector', dim: index.dimension! });
  if (hasSparse) fields.push({ role: 'sparseVector', name: names.sparseVector, dataType: 'SparseFloatVector' });

  const partitions: Record<string, string> = {};
  if (namespaceMode === 'partitions') {
    if (selected.length > MILVUS_MAX_PARTITIONS) {
      throw new EtlError('TARGET_UNSUPPORTED', `the index has ${selected.length} namespaces but a Milvus collection holds at most ${MILVUS_MAX_PARTITIONS} partitions`, {
        hint: 'use the partition-key mode (target.partitionKey: true), which has no such limit',
        field: 'target.partitionKey',
      });
    }
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
    dimension: hasDense ? index.dimension : null,
    hasDense,
    hasSparse,
    maxIdLength: spec.target.maxIdLength,
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
  };
}

/** Field names of the plan a metadata key must not take (it would shadow a schema field). */
export function schemaFieldNames(plan: CollectionPlan): Set<string> {
  return new Set(plan.fields.map((f) => f.name));
}
