// The control plane (`controllerHostUrl`): create, describe, list, configure and delete indexes,
// with the index model of each API version (legacy `spec` before 2026-07, `schema` +
// `deployment` from 2026-07 on).

import { randomBytes } from 'node:crypto';
import { usesSchemaModel } from './api-version.ts';
import type { ApiVersion } from './api-version.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { parseJsonBody } from './http-request.ts';
import type { Deployment, IndexConfig, IndexStore, ReadCapacity } from './store/index-store.ts';
import { LIMITS, describe, isObject } from './validation.ts';
import type { Metric } from './validation.ts';

export type ControlOperation = 'list_indexes' | 'create_index' | 'describe_index' | 'delete_index' | 'configure_index' | 'list_collections';

export interface ControlRoute {
  op: ControlOperation;
  indexName?: string;
}

export function routeControl(method: string, pathname: string): ControlRoute | undefined {
  if (pathname === '/indexes' || pathname === '/indexes/') {
    if (method === 'GET') return { op: 'list_indexes' };
    if (method === 'POST') return { op: 'create_index' };
    return undefined;
  }
  if (pathname === '/collections' && method === 'GET') return { op: 'list_collections' };
  const m = /^\/indexes\/([^/]+)\/?$/.exec(pathname);
  if (!m) return undefined;
  let indexName: string;
  try {
    indexName = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  if (method === 'GET') return { op: 'describe_index', indexName };
  if (method === 'DELETE') return { op: 'delete_index', indexName };
  if (method === 'PATCH') return { op: 'configure_index', indexName };
  return undefined;
}

/** What the control plane needs from the emulator: the indexes and their data-plane servers. */
export interface IndexRegistry {
  get(name: string): IndexStore | undefined;
  list(): IndexStore[];
  create(config: Omit<IndexConfig, 'createdAt' | 'port'>): Promise<IndexStore>;
  delete(name: string): Promise<void>;
  hostOf(store: IndexStore): string;
}

export interface ControlResult {
  status: number;
  json?: unknown;
}

export async function handleControl(registry: IndexRegistry, route: ControlRoute, version: ApiVersion, body: Buffer): Promise<ControlResult> {
  switch (route.op) {
    case 'list_indexes':
      return { status: 200, json: { indexes: registry.list().map((s) => indexModel(s, registry.hostOf(s), version)) } };
    case 'list_collections':
      return { status: 200, json: { collections: [] } };
    case 'create_index': {
      const config = parseCreateIndex(parseJsonBody(body), version);
      if (registry.get(config.name)) throw new ApiError(409, 'Resource already exists.');
      const store = await registry.create(config);
      return { status: 201, json: indexModel(store, registry.hostOf(store), version) };
    }
    case 'describe_index': {
      const store = requireIndex(registry, route.indexName!);
      return { status: 200, json: indexModel(store, registry.hostOf(store), version) };
    }
    case 'delete_index': {
      const store = requireIndex(registry, route.indexName!);
      if (store.config.deletionProtection === 'enabled') {
        throw new ApiError(403, 'Deletion protection is enabled for this index. Disable deletion protection before retrying.');
      }
      await registry.delete(store.name);
      return { status: 202 };
    }
    case 'configure_index': {
      const store = requireIndex(registry, route.indexName!);
      configureIndex(store, parseJsonBody(body), version);
      return { status: usesSchemaModel(version) ? 200 : 202, json: indexModel(store, registry.hostOf(store), version) };
    }
  }
}

function requireIndex(registry: IndexRegistry, name: string): IndexStore {
  const store = registry.get(name);
  if (!store) throw notFound(`Index ${name} not found.`);
  return store;
}

// ---- index model --------------------------------------------------------------------------

const READY = { ready: true, state: 'Ready' };

export function indexModel(store: IndexStore, host: string, version: ApiVersion): Record<string, unknown> {
  const c = store.config;
  const hasTags = Object.keys(c.tags).length > 0;
  if (usesSchemaModel(version)) {
    const fields: Record<string, unknown> = {};
    if (c.vectorType === 'dense') fields._values = { type: 'dense_vector', dimension: c.dimension, metric: c.metric, description: null };
    // Dense vectors-API indexes report _sparse_values too, however they were created.
    fields._sparse_values = { type: 'sparse_vector', description: null };
    const d = c.deployment;
    const model: Record<string, unknown> = {
      name: c.name,
      host,
      status: READY,
      deployment:
        d.type === 'serverless'
          ? { deployment_type: 'managed', cloud: d.cloud, region: d.region }
          : { deployment_type: 'pod', environment: d.environment, pod_type: d.podType, replicas: d.replicas, shards: d.shards },
    };
    if (d.type === 'serverless') model.read_capacity = readCapacityModel(c.readCapacity);
    model.schema = { fields };
    model.tags = hasTags ? c.tags : null;
    model.deletion_protection = c.deletionProtection;
    return model;
  }
  const model: Record<string, unknown> = { name: c.name };
  if (c.vectorType === 'dense') model.dimension = c.dimension;
  model.metric = c.metric;
  model.host = host;
  model.deletion_protection = c.deletionProtection;
  if (hasTags) model.tags = c.tags;
  const d = c.deployment;
  if (d.type === 'serverless') {
    const serverless: Record<string, unknown> = { cloud: d.cloud, region: d.region };
    if (version >= '2025-10') serverless.read_capacity = readCapacityModel(c.readCapacity);
    model.spec = { serverless };
  } else {
    model.spec = { pod: { environment: d.environment, replicas: d.replicas, shards: d.shards, pod_type: d.podType, pods: d.pods } };
  }
  model.status = READY;
  model.vector_type = c.vectorType;
  return model;
}

/** The read capacity as describe_index shows it (the emulator scales instantly: always Ready). */
function readCapacityModel(rc: ReadCapacity | undefined): Record<string, unknown> {
  if (!rc || rc.mode === 'OnDemand') return { mode: 'OnDemand', status: { state: 'Ready' } };
  return {
    mode: 'Dedicated',
    dedicated: { node_type: rc.nodeType, scaling: rc.scaling, manual: { replicas: rc.replicas, shards: rc.shards } },
    status: { state: 'Ready', current_replicas: rc.replicas, current_shards: rc.shards },
  };
}

// ---- create -------------------------------------------------------------------------------

const NAME_RE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const METRICS: readonly Metric[] = ['cosine', 'euclidean', 'dotproduct'];
const CLOUDS = ['aws', 'gcp', 'azure'];

function unprocessable(message: string): ApiError {
  return new ApiError(422, `Failed to deserialize the JSON body into the target type: ${message}`);
}

function checkName(name: unknown): string {
  if (typeof name !== 'string') throw unprocessable(`name: expected a string, got ${describe(name)}`);
  if (name.length < 1 || name.length > 45 || !NAME_RE.test(name)) {
    throw badRequest(
      `Name must be 1-45 characters long, consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric character, got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function checkMetric(metric: unknown): Metric {
  if (typeof metric !== 'string' || !(METRICS as readonly string[]).includes(metric)) {
    throw badRequest(`Invalid metric ${JSON.stringify(metric)}: must be one of cosine, euclidean, dotproduct`);
  }
  return metric as Metric;
}

function checkDimension(dimension: unknown): number {
  if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > LIMITS.maxDimension) {
    throw badRequest(`Dimension must be an integer between 1 and ${LIMITS.maxDimension}, got ${describe(dimension)}`);
  }
  return dimension;
}

function checkTags(tags: unknown): Record<string, string> {
  if (tags === undefined || tags === null) return {};
  if (!isObject(tags)) throw badRequest('tags must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(k)) throw badRequest(`Invalid tag key ${JSON.stringify(k)}`);
    if (typeof v !== 'string' || v.length > 120) throw badRequest(`Invalid value for tag ${JSON.stringify(k)}`);
    if (v !== '') out[k] = v;
  }
  return out;
}

function checkDeletionProtection(value: unknown): 'enabled' | 'disabled' {
  if (value === undefined || value === null) return 'disabled';
  if (value !== 'enabled' && value !== 'disabled') throw badRequest(`deletion_protection must be "enabled" or "disabled", got ${describe(value)}`);
  return value;
}

function serverless(cloud: unknown, region: unknown): Deployment {
  if (typeof cloud !== 'string' || !CLOUDS.includes(cloud)) throw badRequest(`Invalid cloud ${describe(cloud)}: must be aws, gcp or azure`);
  if (typeof region !== 'string' || region === '') throw unprocessable('missing field `region`');
  return { type: 'serverless', cloud, region };
}

type NewIndex = Omit<IndexConfig, 'createdAt' | 'port'>;

export function parseCreateIndex(raw: unknown, version: ApiVersion): NewIndex {
  if (!isObject(raw)) throw badRequest(`The request body must be a JSON object, got ${describe(raw)}`);
  return usesSchemaModel(version) ? parseSchemaCreate(raw) : parseLegacyCreate(raw);
}

/** The 2025-04 .. 2026-04 body: `{ name, dimension, metric, spec: { serverless | pod }, vector_type }`. */
function parseLegacyCreate(body: Record<string, unknown>): NewIndex {
  if (body.name === undefined) throw unprocessable('missing field `name`');
  const name = checkName(body.name);
  if (!isObject(body.spec)) throw unprocessable('missing field `spec`');
  const vectorType = body.vector_type ?? 'dense';
  if (vectorType !== 'dense' && vectorType !== 'sparse') throw badRequest(`vector_type must be "dense" or "sparse", got ${describe(vectorType)}`);
  let dimension = 0;
  let metric: Metric;
  if (vectorType === 'sparse') {
    if (body.dimension !== undefined && body.dimension !== null) throw badRequest('Sparse indexes cannot have a dimension');
    metric = body.metric === undefined || body.metric === null ? 'dotproduct' : checkMetric(body.metric);
    if (metric !== 'dotproduct') throw badRequest('Sparse indexes must use the dotproduct metric');
  } else {
    if (body.dimension === undefined || body.dimension === null) throw badRequest('Dimension is required for dense indexes');
    dimension = checkDimension(body.dimension);
    metric = body.metric === undefined || body.metric === null ? 'cosine' : checkMetric(body.metric);
  }
  const spec = body.spec;
  const kinds = Object.keys(spec).filter((k) => spec[k] !== undefined && spec[k] !== null);
  if (kinds.length !== 1) throw badRequest('spec must contain exactly one of serverless, pod or byoc');
  let deployment: Deployment;
  let readCapacity: ReadCapacity | undefined;
  if (isObject(spec.serverless)) {
    deployment = serverless(spec.serverless.cloud, spec.serverless.region);
    readCapacity = readCapacityOf(spec.serverless.read_capacity, 'spec.serverless.read_capacity');
  } else if (isObject(spec.pod)) {
    if (vectorType === 'sparse') throw badRequest('Sparse indexes must be serverless');
    const pod = spec.pod;
    if (typeof pod.environment !== 'string' || pod.environment === '') throw unprocessable('missing field `environment`');
    const int = (v: unknown, field: string, dflt: number): number => {
      if (v === undefined || v === null) return dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw badRequest(`${field} must be a positive integer`);
      return v;
    };
    const podType = pod.pod_type ?? 'p1.x1';
    if (typeof podType !== 'string' || !/^(s1|p1|p2)\.x(1|2|4|8)$/.test(podType)) throw badRequest(`Invalid pod_type ${describe(podType)}`);
    const replicas = int(pod.replicas, 'replicas', 1);
    const shards = int(pod.shards, 'shards', 1);
    deployment = { type: 'pod', environment: pod.environment, podType, replicas, shards, pods: int(pod.pods, 'pods', replicas * shards) };
  } else if (spec.byoc !== undefined) {
    throw badRequest('BYOC indexes are not supported by the emulator');
  } else {
    throw badRequest('spec must contain exactly one of serverless, pod or byoc');
  }
  return {
    name,
    dimension,
    metric,
    vectorType,
    deployment,
    deletionProtection: checkDeletionProtection(body.deletion_protection),
    tags: checkTags(body.tags),
    ...(readCapacity ? { readCapacity } : {}),
  };
}

const SCHEMA_CREATE_KEYS = ['name', 'deployment', 'schema', 'cmek_id', 'read_capacity', 'tags', 'deletion_protection'];

/** The 2026-07 body: `{ name?, schema: { fields: { _values?, _sparse_values? } }, deployment? }`. */
function parseSchemaCreate(body: Record<string, unknown>): NewIndex {
  for (const key of Object.keys(body)) {
    if (!SCHEMA_CREATE_KEYS.includes(key)) throw unprocessable(`unknown field \`${key}\`, expected one of ${SCHEMA_CREATE_KEYS.join(', ')}`);
  }
  const name = body.name === undefined ? `index-${randomBytes(4).toString('hex')}` : checkName(body.name);
  if (!isObject(body.schema)) throw unprocessable('missing field `schema`');
  const fields = body.schema.fields;
  if (!isObject(fields) || Object.keys(fields).length === 0) throw badRequest('schema.fields must declare at least one field');
  for (const key of Object.keys(fields)) {
    if (key !== '_values' && key !== '_sparse_values') {
      throw badRequest(
        `The emulator serves vectors-API indexes only: declare _values (dense_vector) and/or _sparse_values (sparse_vector); field ${JSON.stringify(key)} would make a documents index`,
      );
    }
  }
  let dimension = 0;
  let metric: Metric = 'dotproduct';
  let vectorType: 'dense' | 'sparse' = 'sparse';
  if (fields._values !== undefined) {
    const f = fields._values;
    if (!isObject(f) || f.type !== 'dense_vector') throw badRequest('_values must be a field of type dense_vector');
    if (f.dimension === undefined) throw unprocessable('missing field `dimension`');
    if (f.metric === undefined) throw unprocessable('missing field `metric`');
    dimension = checkDimension(f.dimension);
    metric = checkMetric(f.metric);
    vectorType = 'dense';
  }
  if (fields._sparse_values !== undefined) {
    const f = fields._sparse_values;
    if (!isObject(f) || f.type !== 'sparse_vector') throw badRequest('_sparse_values must be a field of type sparse_vector');
  }
  let deployment: Deployment = { type: 'serverless', cloud: 'aws', region: 'us-east-1' };
  if (body.deployment !== undefined && body.deployment !== null) {
    const d = body.deployment;
    if (!isObject(d)) throw badRequest('deployment must be an object');
    if (d.deployment_type === 'managed') deployment = serverless(d.cloud, d.region);
    else if (d.deployment_type === 'pod') throw badRequest('Pod-based indexes cannot be created with API version 2026-07');
    else if (d.deployment_type === 'byoc') throw badRequest('BYOC indexes are not supported by the emulator');
    else throw unprocessable(`unknown deployment_type ${describe(d.deployment_type)}`);
  }
  const readCapacity = readCapacityOf(body.read_capacity, 'read_capacity');
  return {
    name,
    dimension,
    metric,
    vectorType,
    deployment,
    deletionProtection: checkDeletionProtection(body.deletion_protection),
    tags: checkTags(body.tags),
    ...(readCapacity ? { readCapacity } : {}),
  };
}

const NODE_TYPES = ['b1', 't1'];

/** A create body's read capacity (`ReadCapacity` in the specs); undefined when absent. */
function readCapacityOf(raw: unknown, field: string): ReadCapacity | undefined {
  if (raw === undefined || raw === null) return undefined;
  return readCapacityPatch(raw, undefined, field);
}

/**
 * A read capacity, or a change to one (2026-07 `ReadCapacityPatch`: a dedicated index may send
 * only what changes). Moving to Dedicated needs node_type, scaling and manual replicas/shards.
 */
function readCapacityPatch(raw: unknown, current: ReadCapacity | undefined, field: string): ReadCapacity {
  if (!isObject(raw)) throw badRequest(`${field} must be an object with a mode, got ${describe(raw)}`);
  if (raw.mode === 'OnDemand') return { mode: 'OnDemand' };
  if (raw.mode !== 'Dedicated') throw badRequest(`${field}.mode must be "OnDemand" or "Dedicated", got ${describe(raw.mode)}`);
  const dedicated = raw.dedicated;
  if (!isObject(dedicated))
    throw badRequest(`${field}.dedicated is required with mode Dedicated: { node_type, scaling: "Manual", manual: { replicas, shards } }`);
  const was = current?.mode === 'Dedicated' ? current : undefined;
  const nodeType = dedicated.node_type ?? was?.nodeType;
  if (typeof nodeType !== 'string' || !NODE_TYPES.includes(nodeType)) {
    throw badRequest(`${field}.dedicated.node_type must be one of ${NODE_TYPES.join(', ')}, got ${describe(dedicated.node_type)}`);
  }
  const scaling = dedicated.scaling ?? was?.scaling;
  if (scaling !== 'Manual') throw badRequest(`${field}.dedicated.scaling must be "Manual" (the only scaling strategy), got ${describe(dedicated.scaling)}`);
  // The spec pairs them: a change of replicas or shards names the scaling it applies to.
  if ((dedicated.manual === undefined) !== (dedicated.scaling === undefined)) {
    throw badRequest(`${field}.dedicated.scaling and ${field}.dedicated.manual go together: send scaling "Manual" with manual { replicas, shards }`);
  }
  const manual = dedicated.manual ?? {};
  if (!isObject(manual)) throw badRequest(`${field}.dedicated.manual must be an object { replicas, shards }, got ${describe(manual)}`);
  const replicas = manual.replicas ?? was?.replicas;
  const shards = manual.shards ?? was?.shards;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw badRequest(`${field}.dedicated.manual.replicas must be an integer of 0 or more, got ${describe(manual.replicas)}`);
  }
  if (typeof shards !== 'number' || !Number.isInteger(shards) || shards < 1) {
    throw badRequest(`${field}.dedicated.manual.shards must be a positive integer, got ${describe(manual.shards)}`);
  }
  return { mode: 'Dedicated', nodeType, scaling, replicas, shards };
}

// ---- configure ----------------------------------------------------------------------------

function configureIndex(store: IndexStore, raw: unknown, version: ApiVersion): void {
  if (!isObject(raw)) throw badRequest('The request body must be a JSON object');
  const patch: Partial<IndexConfig> = {};
  if (raw.deletion_protection !== undefined) patch.deletionProtection = checkDeletionProtection(raw.deletion_protection);
  if (raw.tags !== undefined && raw.tags !== null) {
    if (!isObject(raw.tags)) throw badRequest('tags must be an object of strings');
    const tags = { ...store.config.tags };
    for (const [k, v] of Object.entries(raw.tags)) {
      if (v === '') delete tags[k];
    }
    patch.tags = { ...tags, ...checkTags(raw.tags) };
  }
  const capacity = usesSchemaModel(version)
    ? raw.read_capacity
    : isObject(raw.spec) && isObject(raw.spec.serverless)
      ? raw.spec.serverless.read_capacity
      : undefined;
  if (capacity !== undefined && capacity !== null) {
    if (store.config.deployment.type !== 'serverless') throw badRequest('read_capacity applies to serverless indexes only, not to pod-based ones');
    const field = usesSchemaModel(version) ? 'read_capacity' : 'spec.serverless.read_capacity';
    // Before 2026-07 a configure carries a whole read capacity; 2026-07 may send only the change.
    patch.readCapacity = readCapacityPatch(capacity, usesSchemaModel(version) ? store.config.readCapacity : undefined, field);
  }
  const scaling = usesSchemaModel(version) ? raw.deployment : isObject(raw.spec) ? raw.spec.pod : undefined;
  if (scaling !== undefined && scaling !== null) {
    const d = store.config.deployment;
    if (d.type !== 'pod') throw badRequest('Only pod-based indexes can be scaled with replicas or pod_type');
    if (!isObject(scaling)) throw badRequest('The scaling change must be an object');
    const next = { ...d };
    if (scaling.replicas !== undefined) {
      if (typeof scaling.replicas !== 'number' || !Number.isInteger(scaling.replicas) || scaling.replicas < 1)
        throw badRequest('replicas must be a positive integer');
      next.replicas = scaling.replicas;
      next.pods = next.replicas * next.shards;
    }
    if (scaling.pod_type !== undefined) {
      if (typeof scaling.pod_type !== 'string' || !/^(s1|p1|p2)\.x(1|2|4|8)$/.test(scaling.pod_type)) throw badRequest('Invalid pod_type');
      next.podType = scaling.pod_type;
    }
    patch.deployment = next;
  }
  store.updateConfig(patch);
}
