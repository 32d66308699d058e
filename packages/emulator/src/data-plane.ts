// The data plane of one index (what the index `host` serves): vectors, namespaces and stats,
// with the request and response shapes of each API version.

import type { IncomingMessage } from 'node:http';
import { atLeast } from './api-version.ts';
import type { ApiVersion } from './api-version.ts';
import { ApiError, badRequest, notFound } from './errors.ts';
import { matches, parseFilter } from './filter.ts';
import type { Filter } from './filter.ts';
import { chunkBound, slabId, writeChunk } from './fetch-json.ts';
import { float32Number } from './float-json.ts';
import type { ChunkPlan } from './fetch-json.ts';
import type { FormatPool } from './format-pool.ts';
import { parseJsonBody } from './http-request.ts';
import { decodeToken, encodeToken } from './pagination-token.ts';
import { DEFAULT_NAMESPACE_NAME, namespaceKey } from './store/index-store.ts';
import type { IndexStore } from './store/index-store.ts';
import type { NamespaceStore, StoredRecord } from './store/namespace-store.ts';
import { LIMITS, ValuesArena, checkMetadataValue, describe, isObject, parseDense, parseMetadata, parseSparse, parseVector, validateId } from './validation.ts';

export type DataOperation =
  | 'upsert'
  | 'fetch'
  | 'fetch_by_metadata'
  | 'list'
  | 'query'
  | 'update'
  | 'delete'
  | 'describe_index_stats'
  | 'list_namespaces'
  | 'create_namespace'
  | 'describe_namespace'
  | 'delete_namespace';

export interface DataRoute {
  op: DataOperation;
  /** Namespace named in the path, for the /namespaces/{namespace} routes. */
  pathNamespace?: string;
}

export function routeData(method: string, pathname: string): DataRoute | undefined {
  switch (pathname) {
    case '/vectors/upsert':
      return method === 'POST' ? { op: 'upsert' } : undefined;
    case '/vectors/fetch':
      return method === 'GET' ? { op: 'fetch' } : undefined;
    case '/vectors/fetch_by_metadata':
      return method === 'POST' ? { op: 'fetch_by_metadata' } : undefined;
    case '/vectors/list':
      return method === 'GET' ? { op: 'list' } : undefined;
    case '/vectors/update':
      return method === 'POST' ? { op: 'update' } : undefined;
    case '/vectors/delete':
      return method === 'POST' || method === 'DELETE' ? { op: 'delete' } : undefined;
    case '/query':
      return method === 'POST' ? { op: 'query' } : undefined;
    case '/describe_index_stats':
      return method === 'POST' || method === 'GET' ? { op: 'describe_index_stats' } : undefined;
    case '/namespaces':
      if (method === 'GET') return { op: 'list_namespaces' };
      if (method === 'POST') return { op: 'create_namespace' };
      return undefined;
  }
  if (pathname.startsWith('/namespaces/')) {
    let ns: string;
    try {
      ns = decodeURIComponent(pathname.slice('/namespaces/'.length));
    } catch {
      return undefined;
    }
    if (method === 'GET') return { op: 'describe_namespace', pathNamespace: ns };
    if (method === 'DELETE') return { op: 'delete_namespace', pathNamespace: ns };
  }
  return undefined;
}

export interface DataRequest {
  route: DataRoute;
  version: ApiVersion;
  url: URL;
  body: Buffer;
  req: IncomingMessage;
  /** Worker threads for fetch formatting, when enabled. */
  formatPool?: FormatPool;
}

/** A piece of a streamed response; `release` hands its buffer back once the socket took it. */
export interface Chunk {
  bytes: Buffer;
  release?: () => void;
}

/** What a handler answers: a JSON value, or JSON text in chunks (fetch). */
export type DataResponse = { json: unknown } | { chunks: AsyncIterable<Chunk> };

/**
 * Reused chunk buffers: a 1,000-record fetch at 768-d is ~16 MB of JSON, and allocating it fresh
 * every call keeps the garbage collector busy for no reason.
 */
const CHUNK_BYTES = 2 * 1024 * 1024;
const CHUNK_POOL_SIZE = 8;
const chunkPool: Buffer[] = [];

function takeChunk(size: number): { buf: Buffer; release?: () => void } {
  if (size > CHUNK_BYTES) return { buf: Buffer.allocUnsafe(size) };
  const buf = chunkPool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
  return {
    buf,
    release: () => {
      if (chunkPool.length < CHUNK_POOL_SIZE) chunkPool.push(buf);
    },
  };
}

export function handleData(index: IndexStore, r: DataRequest): DataResponse {
  switch (r.route.op) {
    case 'upsert':
      return upsert(index, r);
    case 'fetch':
      return fetchVectors(index, r);
    case 'fetch_by_metadata':
      return fetchByMetadata(index, r);
    case 'list':
      return listVectors(index, r);
    case 'query':
      return query(index, r);
    case 'update':
      return update(index, r);
    case 'delete':
      return deleteVectors(index, r);
    case 'describe_index_stats':
      return describeIndexStats(index, r);
    case 'list_namespaces':
      return listNamespaces(index, r);
    case 'create_namespace':
      return createNamespace(index, r);
    case 'describe_namespace':
      return describeNamespace(index, r);
    case 'delete_namespace':
      return deleteNamespace(index, r);
  }
}

function jsonObject(body: Buffer): Record<string, unknown> {
  const value = parseJsonBody(body);
  if (!isObject(value)) throw badRequest(`The request body must be a JSON object, got ${describe(value)}`);
  return value;
}

function namespaceParam(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw badRequest(`namespace must be a string, got ${describe(value)}`);
  return value;
}

function isServerless(index: IndexStore): boolean {
  return index.config.deployment.type === 'serverless';
}

function requireServerless(index: IndexStore, what: string): void {
  if (!isServerless(index)) throw badRequest(`${what} is supported only for serverless indexes; '${index.name}' is a pod-based index`);
}

/** Serverless answers 404 for writes to a namespace that does not exist (the default one always does). */
function existingNamespace(index: IndexStore, ns: string): NamespaceStore | undefined {
  const store = index.namespace(ns);
  if (!store && namespaceKey(ns) !== '' && isServerless(index)) throw notFound('Namespace not found');
  return store;
}

// ---- upsert -------------------------------------------------------------------------------

function upsert(index: IndexStore, r: DataRequest): DataResponse {
  if (r.body.length > LIMITS.upsertRequestBytes) {
    throw badRequest(`Request size ${(r.body.length / 1024 / 1024).toFixed(2)}MB exceeds the maximum supported size of 2MB for an upsert request`);
  }
  const body = jsonObject(r.body);
  const ns = namespaceParam(body.namespace);
  if (ns !== '') validateId(ns, 'Namespace name');
  const vectors = body.vectors;
  if (!Array.isArray(vectors)) throw badRequest('The upsert request must contain a vectors array');
  if (vectors.length === 0) throw badRequest('The upsert request must contain at least one vector');
  if (vectors.length > LIMITS.vectorsPerUpsert) {
    throw badRequest(`The upsert request contains ${vectors.length} vectors, which exceeds the limit of ${LIMITS.vectorsPerUpsert} vectors per request`);
  }
  const arena = new ValuesArena(index.config.dimension, vectors.length);
  const records = vectors.map((v) => parseVector(v, index.config, arena));
  index.upsert(ns, records);
  return { json: { upsertedCount: records.length } };
}

// ---- fetch --------------------------------------------------------------------------------

function fetchIds(url: URL): string[] {
  const ids = url.searchParams.getAll('ids');
  if (ids.length === 0) throw badRequest('The fetch request must name at least one id (ids=...)');
  if (ids.length > LIMITS.idsPerFetch) {
    throw badRequest(`The fetch request names ${ids.length} ids, which exceeds the limit of ${LIMITS.idsPerFetch}`);
  }
  for (const id of ids) validateId(id);
  return [...new Set(ids)];
}

/**
 * fetch writes its JSON by hand, in chunks: it is the hot path of every migration (1,000
 * records a call, ~16 MB at 768-d). Streaming lets small requests such as list be served between
 * chunks, and with a format pool the float formatting runs on another core.
 */
function fetchVectors(index: IndexStore, r: DataRequest): DataResponse {
  const ids = fetchIds(r.url);
  const nsName = r.url.searchParams.get('namespace') ?? '';
  return { chunks: recordsJson(index, index.namespace(nsName), ids, nsName, undefined, r.formatPool) };
}

/** Records per chunk of a streamed fetch response (~1 MB at 768-d). */
const RECORDS_PER_CHUNK = 64;

/**
 * Plans one chunk: looks each record up now, so one deleted meanwhile is left out (as if the
 * read had happened after the delete). Values are referenced in the slabs, not copied.
 */
function planChunk(index: IndexStore, ns: NamespaceStore | undefined, nsName: string, ids: string[], head: string, continues: boolean): ChunkPlan {
  const plan: ChunkPlan = {
    head,
    continues,
    dim: index.config.dimension,
    ids: [],
    bits: [],
    slabIds: [],
    offsets: [],
    sparseIndices: [],
    sparseValues: [],
    metadata: [],
  };
  if (!ns || index.namespace(nsName) !== ns) return plan;
  for (const id of ids) {
    const slot = ns.slotOf(id);
    if (slot === undefined) continue;
    plan.ids.push(JSON.stringify(id));
    if (plan.dim > 0) {
      const { bits, offset } = ns.valuesAt(slot);
      plan.bits.push(bits);
      plan.slabIds.push(slabId(bits));
      plan.offsets.push(offset);
    } else {
      plan.bits.push(null);
      plan.slabIds.push(-1);
      plan.offsets.push(0);
    }
    const sparse = ns.sparseAt(slot);
    plan.sparseIndices.push(sparse?.indices ?? null);
    plan.sparseValues.push(sparse?.values ?? null);
    plan.metadata.push(ns.metadataAt(slot) ?? null);
  }
  return plan;
}

function writeInline(plan: ChunkPlan): Chunk {
  const { buf, release } = takeChunk(chunkBound(plan));
  const length = writeChunk(plan, buf);
  return release ? { bytes: buf.subarray(0, length), release } : { bytes: buf.subarray(0, length) };
}

/** Worth a round trip to a worker only when there is real formatting to do. */
const MIN_VALUES_FOR_POOL = 4096;

async function* recordsJson(
  index: IndexStore,
  ns: NamespaceStore | undefined,
  ids: string[],
  nsName: string,
  next: string | undefined,
  pool: FormatPool | undefined,
): AsyncGenerator<Chunk> {
  const head = '{"vectors":{';
  const pieces: string[][] = [];
  for (let start = 0; start < ids.length; start += RECORDS_PER_CHUNK) pieces.push(ids.slice(start, start + RECORDS_PER_CHUNK));
  let written = 0;
  if (pool?.enabled && ns && index.config.dimension * ids.length >= MIN_VALUES_FOR_POOL) {
    // Queue every chunk for the workers now; on reaching a chunk no worker has started, write it
    // here instead, so both threads share the work.
    const generation = ns.generation;
    const plans = pieces.map((piece, i) => planChunk(index, ns, nsName, piece, i === 0 ? head : '', false));
    let continues = false;
    for (const plan of plans) {
      plan.continues = continues;
      continues ||= plan.ids.length > 0;
    }
    const jobs = plans.map((plan) => pool.submit(plan));
    for (let i = 0; i < plans.length; i++) {
      const job = jobs[i];
      const done = job && !job.reclaim() ? await job.result : undefined;
      if (!done || ns.generation !== generation || index.namespace(nsName) !== ns) {
        // Ours to write, or a write ran while the workers read the slabs: write this chunk
        // here, from fresh lookups.
        done?.release();
        const fresh = planChunk(index, ns, nsName, pieces[i]!, i === 0 ? head : '', written > 0);
        written += fresh.ids.length;
        yield writeInline(fresh);
        continue;
      }
      written += plans[i]!.ids.length;
      yield done;
    }
  } else {
    for (let i = 0; i < pieces.length || i === 0; i++) {
      const plan = planChunk(index, ns, nsName, pieces[i] ?? [], i === 0 ? head : '', written > 0);
      written += plan.ids.length;
      if (plan.ids.length > 0 || plan.head) yield writeInline(plan);
    }
  }
  let tail = `},"namespace":${JSON.stringify(nsName)}`;
  if (next !== undefined) tail += `,"pagination":{"next":${JSON.stringify(next)}}`;
  tail += `,"usage":{"readUnits":${Math.max(1, Math.ceil(written / 10))}}}`;
  yield { bytes: Buffer.from(tail, 'utf8') };
}

function fetchByMetadata(index: IndexStore, r: DataRequest): DataResponse {
  if (!atLeast(r.version, '2025-10')) throw notFound('Not Found');
  const body = jsonObject(r.body);
  const nsName = namespaceParam(body.namespace);
  const filter = parseFilter(body.filter);
  if (!filter || Object.keys(filter).length === 0) throw badRequest('fetch_by_metadata needs a non-empty filter');
  const limit = body.limit === undefined ? 100 : Number(body.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw badRequest('limit must be an integer between 1 and 10000');
  const after = typeof body.paginationToken === 'string' ? String(decodeToken(body.paginationToken).skip_past ?? '') : undefined;
  const ns = index.namespace(nsName);
  const ids: string[] = [];
  let next: string | undefined;
  if (ns) {
    let cursor = after;
    scan: for (;;) {
      const page = ns.list('', cursor, 1000);
      for (const id of page.ids) {
        const slot = ns.slotOf(id)!;
        if (!matches(filter, JSON.parse(ns.metadataAt(slot) ?? '{}') as Record<string, unknown>)) continue;
        if (ids.length === limit) {
          next = encodeToken({ skip_past: ids[ids.length - 1] });
          break scan;
        }
        ids.push(id);
      }
      if (!page.more) break;
      cursor = page.ids[page.ids.length - 1];
    }
  }
  return { chunks: recordsJson(index, ns, ids, nsName, next, r.formatPool) };
}

// ---- list ---------------------------------------------------------------------------------

function listVectors(index: IndexStore, r: DataRequest): DataResponse {
  requireServerless(index, 'list');
  const params = r.url.searchParams;
  const nsName = params.get('namespace') ?? '';
  const prefix = params.get('prefix') ?? '';
  if (prefix.length > LIMITS.idLength) throw badRequest(`prefix must be at most ${LIMITS.idLength} characters long`);
  const limitParam = params.get('limit');
  const limit = limitParam === null || limitParam === '' ? LIMITS.listLimit : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMITS.listLimit) {
    throw badRequest(`limit must be an integer between 1 and ${LIMITS.listLimit}, got ${JSON.stringify(limitParam)}`);
  }
  const token = params.get('paginationToken');
  let after: string | undefined;
  if (token) {
    const state = decodeToken(token);
    if (typeof state.skip_past !== 'string') throw badRequest(`Invalid pagination token: ${JSON.stringify(token)}`);
    after = state.skip_past;
  }
  const ns = index.namespace(nsName);
  const page = ns ? ns.list(prefix, after, limit) : { ids: [], more: false };
  const out: Record<string, unknown> = { vectors: page.ids.map((id) => ({ id })) };
  if (page.more) out.pagination = { next: encodeToken({ skip_past: page.ids[page.ids.length - 1], prefix }) };
  out.namespace = nsName;
  out.usage = { readUnits: 1 };
  return { json: out };
}

// ---- query --------------------------------------------------------------------------------

interface Scored {
  slot: number;
  score: number;
}

function query(index: IndexStore, r: DataRequest): DataResponse {
  const body = jsonObject(r.body);
  const nsName = namespaceParam(body.namespace);
  const topK = body.topK;
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > LIMITS.topK) {
    throw badRequest(`topK must be an integer between 1 and ${LIMITS.topK}, got ${describe(topK)}`);
  }
  if (body.queries !== undefined) throw badRequest('The deprecated queries parameter is not supported; send one vector');
  const cfg = index.config;
  const ns = index.namespace(nsName);
  let dense: Float32Array | null = null;
  let sparse: { indices: Uint32Array; values: Float32Array } | null = null;
  const hasVector = Array.isArray(body.vector) && body.vector.length > 0;
  if (body.id !== undefined) {
    if (hasVector || body.sparseVector !== undefined) throw badRequest('A query by id cannot also carry vector or sparseVector');
    const id = validateId(body.id);
    const slot = ns?.slotOf(id);
    if (slot === undefined) return { json: { matches: [], namespace: nsName, usage: { readUnits: 1 } } };
    const rec = ns!.recordAt(slot);
    dense = rec.values;
    sparse = rec.sparse;
  } else {
    if (hasVector) {
      if (cfg.vectorType === 'sparse') throw badRequest('A sparse index is queried with sparseVector, not vector');
      // Pinecone answers an all-zero query on euclidean and dotproduct (every dot product is 0,
      // distances are the records' norms); a cosine similarity with it is undefined.
      dense = parseDense(body.vector, cfg, 'query', undefined, 'allow');
      if (cfg.metric === 'cosine' && dense.every((v) => v === 0)) {
        throw badRequest(
          'The query vector contains only zeros: the cosine similarity with an all-zero vector is undefined; send a vector with at least one non-zero value',
        );
      }
    }
    if (body.sparseVector !== undefined) {
      if (cfg.vectorType === 'dense' && cfg.metric !== 'dotproduct') {
        throw badRequest('Sparse query vectors are supported only for indexes with the dotproduct metric');
      }
      sparse = parseSparse(body.sparseVector, 'query');
    }
    if (!dense && !sparse) throw badRequest('The query must contain one of vector, sparseVector or id');
    if (cfg.vectorType === 'dense' && !dense) throw badRequest('A dense index must be queried with a dense vector');
  }
  const filter = parseFilter(body.filter);
  const results: Scored[] = [];
  if (ns) {
    const lowerIsBetter = cfg.metric === 'euclidean' && cfg.vectorType === 'dense';
    const qNorm = dense ? norm(dense, 0, dense.length) : 0;
    const sparseQuery = sparse ? new Map(Array.from(sparse.indices, (ix, j) => [ix, sparse!.values[j]!])) : undefined;
    for (const slot of ns.slots()) {
      if (filter && !matches(filter, JSON.parse(ns.metadataAt(slot) ?? '{}') as Record<string, unknown>)) continue;
      let score = 0;
      if (dense) {
        const { floats, offset } = ns.valuesAt(slot);
        score = denseScore(cfg.metric, dense, qNorm, floats, offset);
      }
      const s = ns.sparseAt(slot);
      if (sparseQuery && s) {
        for (let j = 0; j < s.indices.length; j++) score += (sparseQuery.get(s.indices[j]!) ?? 0) * s.values[j]!;
      }
      pushTopK(results, { slot, score: lowerIsBetter ? -score : score }, topK);
    }
    results.sort((a, b) => b.score - a.score);
    if (lowerIsBetter) for (const m of results) m.score = -m.score;
  }
  const includeValues = body.includeValues === true;
  const includeMetadata = body.includeMetadata === true;
  const matchesOut = results.map(({ slot, score }) => {
    // Scores and values are float32, written as Pinecone writes them (see float-json.ts).
    const m: Record<string, unknown> = { id: ns!.idAt(slot), score: float32Number(score) };
    if (includeValues) {
      if (cfg.dimension > 0) {
        const { floats, offset } = ns!.valuesAt(slot);
        m.values = Array.from(floats.subarray(offset, offset + cfg.dimension), float32Number);
      } else m.values = [];
      const s = ns!.sparseAt(slot);
      if (s) m.sparseValues = { indices: Array.from(s.indices), values: Array.from(s.values, float32Number) };
    }
    const meta = ns!.metadataAt(slot);
    if (includeMetadata && meta !== undefined) m.metadata = JSON.parse(meta) as unknown;
    return m;
  });
  return { json: { matches: matchesOut, namespace: nsName, usage: { readUnits: Math.max(1, Math.ceil((ns?.count ?? 0) / 100_000)) } } };
}

function norm(v: Float32Array, offset: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += v[offset + i]! * v[offset + i]!;
  return Math.sqrt(s);
}

function denseScore(metric: string, q: Float32Array, qNorm: number, floats: Float32Array, offset: number): number {
  const n = q.length;
  if (metric === 'euclidean') {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const d = q[i]! - floats[offset + i]!;
      s += d * d;
    }
    return s;
  }
  let dot = 0;
  for (let i = 0; i < n; i++) dot += q[i]! * floats[offset + i]!;
  if (metric === 'dotproduct') return dot;
  const denom = qNorm * norm(floats, offset, n);
  return denom === 0 ? 0 : dot / denom;
}

/** Keeps the topK best (highest score) in a min-heap. */
function pushTopK(heap: Scored[], item: Scored, k: number): void {
  if (heap.length < k) {
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.score <= heap[i]!.score) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
    return;
  }
  if (item.score <= heap[0]!.score) return;
  heap[0] = item;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const rr = l + 1;
    let m = i;
    if (l < heap.length && heap[l]!.score < heap[m]!.score) m = l;
    if (rr < heap.length && heap[rr]!.score < heap[m]!.score) m = rr;
    if (m === i) break;
    [heap[m], heap[i]] = [heap[i]!, heap[m]!];
    i = m;
  }
}

// ---- update -------------------------------------------------------------------------------

function update(index: IndexStore, r: DataRequest): DataResponse {
  const body = jsonObject(r.body);
  const nsName = namespaceParam(body.namespace);
  const cfg = index.config;
  const setMetadata = body.setMetadata;
  if (setMetadata !== undefined && setMetadata !== null) {
    if (!isObject(setMetadata)) throw badRequest(`setMetadata must be an object, got ${describe(setMetadata)}`);
    for (const [k, v] of Object.entries(setMetadata)) checkMetadataValue(k, v);
  }
  if (body.filter !== undefined && body.id === undefined) {
    if (!atLeast(r.version, '2025-10')) throw badRequest('The update request must contain an id');
    if (body.values !== undefined || body.sparseValues !== undefined) {
      throw badRequest('An update by filter can only set metadata, not values or sparseValues');
    }
    const filter = parseFilter(body.filter);
    if (!filter || Object.keys(filter).length === 0) throw badRequest('The update filter must not be empty');
    const ns = existingNamespace(index, nsName);
    const changed: StoredRecord[] = [];
    if (ns) {
      for (const slot of ns.slots()) {
        const meta = JSON.parse(ns.metadataAt(slot) ?? '{}') as Record<string, unknown>;
        if (!matches(filter, meta)) continue;
        const rec = ns.recordAt(slot);
        rec.metadataJson = parseMetadata({ ...meta, ...(setMetadata as Record<string, unknown> | undefined) }, rec.id);
        changed.push(rec);
      }
    }
    if (body.dryRun !== true && setMetadata && changed.length > 0) index.upsert(nsName, changed);
    return { json: { matchedRecords: changed.length } };
  }
  const id = validateId(body.id);
  const ns = existingNamespace(index, nsName);
  const slot = ns?.slotOf(id);
  if (ns === undefined || slot === undefined) return { json: {} };
  const rec = ns.recordAt(slot);
  const hasValues = Array.isArray(body.values) && body.values.length > 0;
  if (hasValues) {
    if (cfg.vectorType === 'sparse') throw badRequest(`Vector '${id}' cannot get dense values: '${cfg.name}' is a sparse index`);
    rec.values = parseDense(body.values, cfg, id);
  }
  if (body.sparseValues !== undefined && body.sparseValues !== null) {
    if (cfg.vectorType === 'dense' && cfg.metric !== 'dotproduct') {
      throw badRequest(`Sparse values are supported only for indexes with the dotproduct metric; index '${cfg.name}' uses ${cfg.metric}`);
    }
    rec.sparse = parseSparse(body.sparseValues, id);
  }
  if (isObject(setMetadata)) {
    const current = rec.metadataJson === null ? {} : (JSON.parse(rec.metadataJson) as Record<string, unknown>);
    rec.metadataJson = parseMetadata({ ...current, ...setMetadata }, id);
  }
  index.upsert(nsName, [rec]);
  return { json: {} };
}

// ---- delete -------------------------------------------------------------------------------

function deleteVectors(index: IndexStore, r: DataRequest): DataResponse {
  const body = jsonObject(r.body);
  const nsName = namespaceParam(body.namespace);
  const ids = body.ids;
  const deleteAll = body.deleteAll === true;
  const filter = body.filter === undefined ? undefined : parseFilter(body.filter);
  const forms = (ids !== undefined ? 1 : 0) + (deleteAll ? 1 : 0) + (filter !== undefined ? 1 : 0);
  if (forms === 0) throw badRequest('The delete request must contain ids, deleteAll or filter');
  if (forms > 1) throw badRequest('ids, deleteAll and filter cannot be combined in one delete request');
  const ns = existingNamespace(index, nsName);
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.length === 0) throw badRequest('ids must be a non-empty array of strings');
    if (ids.length > LIMITS.idsPerDelete) {
      throw badRequest(`The delete request names ${ids.length} ids, which exceeds the limit of ${LIMITS.idsPerDelete}`);
    }
    const valid = ids.map((id) => validateId(id));
    if (ns) index.apply({ op: 'delete', ns: namespaceKey(nsName), ids: valid });
  } else if (deleteAll) {
    if (ns) index.apply({ op: 'deleteAll', ns: namespaceKey(nsName) });
  } else {
    if (!filter || Object.keys(filter).length === 0) throw badRequest('The delete filter must not be empty');
    if (ns) {
      const doomed: string[] = [];
      for (const slot of ns.slots()) {
        if (matches(filter as Filter, JSON.parse(ns.metadataAt(slot) ?? '{}') as Record<string, unknown>)) doomed.push(ns.idAt(slot));
      }
      for (let i = 0; i < doomed.length; i += 1000) {
        index.apply({ op: 'delete', ns: namespaceKey(nsName), ids: doomed.slice(i, i + 1000) });
      }
    }
  }
  return { json: {} };
}

// ---- stats and namespaces -----------------------------------------------------------------

function describeIndexStats(index: IndexStore, r: DataRequest): DataResponse {
  const body = r.req.method === 'GET' ? {} : jsonObject(r.body);
  const filter = parseFilter(body.filter);
  const hasFilter = filter !== undefined && Object.keys(filter).length > 0;
  if (hasFilter && isServerless(index)) {
    throw badRequest('Serverless and starter indexes do not support describing index stats with metadata filtering');
  }
  const namespaces: Record<string, { vectorCount: number }> = {};
  let total = 0;
  for (const [key, ns] of [...index.namespaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let count = ns.count;
    if (hasFilter) {
      count = 0;
      for (const slot of ns.slots()) if (matches(filter!, JSON.parse(ns.metadataAt(slot) ?? '{}') as Record<string, unknown>)) count++;
    }
    total += ns.count;
    // A serverless namespace is listed while it exists, emptied or not (see IndexStore).
    if (count > 0 || !hasFilter) namespaces[key] = { vectorCount: count };
  }
  const cfg = index.config;
  const out: Record<string, unknown> = { namespaces };
  if (cfg.vectorType === 'dense') out.dimension = cfg.dimension;
  out.indexFullness = 0;
  out.totalVectorCount = total;
  out.metric = cfg.metric;
  out.vectorType = cfg.vectorType;
  return { json: out };
}

function publicName(key: string): string {
  return key === '' ? DEFAULT_NAMESPACE_NAME : key;
}

function namespaceDescription(key: string, ns: NamespaceStore | undefined, version: ApiVersion): Record<string, unknown> {
  const count = ns?.count ?? 0;
  const out: Record<string, unknown> = { name: publicName(key) };
  if (version >= '2026-07') {
    out.record_count = String(count);
  } else {
    out.record_count = count;
  }
  if (ns?.schema && atLeast(version, '2025-10')) {
    const schema = JSON.parse(ns.schema) as { fields: Record<string, unknown> };
    out.schema = schema;
    // With a schema only its fields are indexed; without one every field is, and Pinecone's
    // list of them is not modelled.
    out.indexed_fields = { fields: Object.keys(schema.fields) };
  }
  if (version >= '2026-07') out.size_bytes = String(ns?.liveBytes ?? 0);
  return out;
}

const MAX_SCHEMA_FIELDS = 50;

/** A namespace's metadata schema (create_namespace), checked as the spec says; its JSON text. */
function parseMetadataSchema(raw: unknown): string {
  if (!isObject(raw)) throw badRequest(`schema must be an object with a fields object, got ${describe(raw)}`);
  const fields = raw.fields;
  if (!isObject(fields)) throw badRequest(`schema.fields must be an object of field names, got ${describe(fields)}`);
  const names = Object.keys(fields);
  if (names.length > MAX_SCHEMA_FIELDS) {
    throw badRequest(`schema.fields declares ${names.length} fields, which exceeds the limit of ${MAX_SCHEMA_FIELDS}`);
  }
  const out: Record<string, { filterable: true }> = {};
  for (const name of names) {
    if (name === '' || name.startsWith('$')) {
      throw badRequest(`Invalid schema field name ${JSON.stringify(name)}: field names must not be empty or begin with '$' (reserved for filter operators)`);
    }
    const field = fields[name];
    if (!isObject(field) || field.filterable !== true) {
      throw badRequest(`Field '${name}' is set to filterable: false. Only filterable: true is supported.`);
    }
    out[name] = { filterable: true };
  }
  return JSON.stringify({ fields: out });
}

function listNamespaces(index: IndexStore, r: DataRequest): DataResponse {
  requireServerless(index, 'list_namespaces');
  const params = r.url.searchParams;
  const limitParam = params.get('limit');
  const limit = limitParam === null || limitParam === '' ? 100 : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest(`limit must be an integer between 1 and 100, got ${JSON.stringify(limitParam)}`);
  const prefix = params.get('prefix') ?? '';
  const token = params.get('paginationToken');
  const after = token ? String(decodeToken(token).skip_past ?? '') : undefined;
  const names = [...index.namespaces.keys()]
    .map((key) => publicName(key))
    .filter((name) => name.startsWith(prefix))
    .sort();
  const start = after === undefined ? 0 : names.findIndex((n) => n > after);
  const page = start < 0 ? [] : names.slice(start, start + limit);
  const out: Record<string, unknown> = {
    namespaces: page.map((name) => namespaceDescription(namespaceKey(name), index.namespace(name), r.version)),
  };
  if (start >= 0 && start + limit < names.length) out.pagination = { next: encodeToken({ skip_past: page[page.length - 1] }) };
  if (atLeast(r.version, '2025-10')) out.total_count = names.length;
  return { json: out };
}

function createNamespace(index: IndexStore, r: DataRequest): DataResponse {
  if (!atLeast(r.version, '2025-10')) throw new ApiError(405, 'Method Not Allowed');
  requireServerless(index, 'create_namespace');
  const body = jsonObject(r.body);
  const name = validateId(body.name, 'Namespace name');
  if (name === DEFAULT_NAMESPACE_NAME) throw badRequest(`'${DEFAULT_NAMESPACE_NAME}' is reserved for the default namespace and always exists`);
  const schema = body.schema === undefined || body.schema === null ? undefined : parseMetadataSchema(body.schema);
  if (index.namespace(name)) throw new ApiError(409, `Namespace '${name}' already exists`);
  index.apply(schema === undefined ? { op: 'createNamespace', ns: name } : { op: 'createNamespace', ns: name, schema });
  return { json: namespaceDescription(name, index.namespace(name), r.version) };
}

function describeNamespace(index: IndexStore, r: DataRequest): DataResponse {
  requireServerless(index, 'describe_namespace');
  const name = r.route.pathNamespace!;
  const key = namespaceKey(name);
  const ns = index.namespace(name);
  if (key !== '' && !ns) throw notFound(`Namespace '${name}' not found`);
  return { json: namespaceDescription(key, ns, r.version) };
}

function deleteNamespace(index: IndexStore, r: DataRequest): DataResponse {
  requireServerless(index, 'delete_namespace');
  const name = r.route.pathNamespace!;
  if (!index.namespace(name)) throw notFound(`Namespace '${name}' not found`);
  index.apply({ op: 'deleteNamespace', ns: namespaceKey(name) });
  return { json: {} };
}
