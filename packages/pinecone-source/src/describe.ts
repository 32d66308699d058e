import { EtlError, type IndexDescription, type PineconeMetric } from '@p2m/core';

/**
 * describe_index → `IndexDescription`. SDK v9 (API 2026-07) reports `deployment` and `schema.fields`
 * (`_values` dense_vector, `_sparse_values` sparse_vector); older API versions report `spec`,
 * `dimension`, `metric` and `vector_type`. Both shapes are read here, from own data properties only:
 * the SDK also installs lazy legacy getters that throw on shapes they do not recognise.
 */

type Obj = Record<string, unknown>;

function own(obj: unknown, key: string): unknown {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const d = Object.getOwnPropertyDescriptor(obj, key);
  return d && 'value' in d ? d.value : undefined;
}

function ownObj(obj: unknown, key: string): Obj | undefined {
  const v = own(obj, key);
  return typeof v === 'object' && v !== null ? (v as Obj) : undefined;
}

function deploymentOf(model: unknown): IndexDescription['deployment'] {
  const deployment = ownObj(model, 'deployment');
  const type = own(deployment, 'deploymentType') ?? own(deployment, 'deployment_type');
  // BYOC runs Pinecone's serverless architecture in the customer's cloud: list works there too.
  if (type === 'managed' || type === 'serverless' || type === 'byoc') return 'serverless';
  if (type === 'pod') return 'pod';
  const spec = ownObj(model, 'spec');
  if (own(spec, 'serverless') !== undefined || own(spec, 'byoc') !== undefined) return 'serverless';
  if (own(spec, 'pod') !== undefined) return 'pod';
  return 'unknown';
}

interface VectorShape {
  vectorType: 'dense' | 'sparse';
  dimension: number | null;
  metric: string;
}

function shapeFromSchema(model: unknown): VectorShape | undefined {
  const fields = ownObj(ownObj(model, 'schema'), 'fields');
  if (!fields) return undefined;
  const typed = Object.values(fields).filter((f): f is Obj => typeof f === 'object' && f !== null);
  const dense = typed.filter((f) => f['type'] === 'dense_vector');
  const sparse = typed.filter((f) => f['type'] === 'sparse_vector');
  // 2026-07 co-reports `_sparse_values` on classic dense indexes (hybrid-capable): dense wins.
  const d = dense.find((f) => f['dimension'] !== undefined) ?? dense[0];
  if (d) return { vectorType: 'dense', dimension: typeof d['dimension'] === 'number' ? d['dimension'] : null, metric: String(d['metric'] ?? 'cosine') };
  const s = sparse[0];
  if (s) return { vectorType: 'sparse', dimension: null, metric: String(s['metric'] ?? 'dotproduct') };
  return undefined;
}

function shapeFromLegacy(model: unknown): VectorShape | undefined {
  const dimension = own(model, 'dimension');
  const metric = own(model, 'metric');
  const vectorType = own(model, 'vectorType') ?? own(model, 'vector_type');
  if (dimension === undefined && metric === undefined && vectorType === undefined) return undefined;
  const type = vectorType === 'sparse' ? 'sparse' : 'dense';
  return {
    vectorType: type,
    dimension: type === 'dense' && typeof dimension === 'number' ? dimension : null,
    metric: typeof metric === 'string' ? metric : type === 'sparse' ? 'dotproduct' : 'cosine',
  };
}

/** A host without a scheme is https, as the SDK assumes (Pinecone answers bare host names). */
export function normalizeHost(host: string): string {
  const trimmed = host.trim();
  return /^https?:\/\//i.test(trimmed) ? trimmed.replace(/\/+$/, '') : `https://${trimmed.replace(/\/+$/, '')}`;
}

export function toIndexDescription(model: unknown, indexName: string): IndexDescription {
  const name = typeof own(model, 'name') === 'string' ? (own(model, 'name') as string) : indexName;
  const deployment = deploymentOf(model);
  let shape = shapeFromSchema(model) ?? shapeFromLegacy(model);
  // A pod index must reach the planner, whose refusal says what to do about it.
  if (!shape && deployment === 'pod') shape = { vectorType: 'dense', dimension: null, metric: 'cosine' };
  if (!shape) {
    throw new EtlError('SOURCE_UNSUPPORTED', `index "${name}" reports no dense or sparse vector field; p2m migrates vector indexes`, {
      retriable: false,
      hint: 'integrated-embedding and document indexes (schema without _values/_sparse_values) are not supported',
      field: 'source.index',
    });
  }
  const host = own(model, 'host') ?? own(model, 'privateHost');
  const status = ownObj(model, 'status');
  return {
    name,
    dimension: shape.dimension,
    metric: shape.metric as PineconeMetric,
    vectorType: shape.vectorType,
    deployment,
    host: typeof host === 'string' && host ? normalizeHost(host) : '',
    ready: own(status, 'ready') === true,
  };
}
