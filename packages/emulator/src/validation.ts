// Request validation with Pinecone's limits. Everything a client can send wrong is refused here
// with a 400 whose message names the offending value, before anything is stored or logged.

import { badRequest } from './errors.ts';
import type { SparseVector, StoredRecord } from './store/namespace-store.ts';

export type Metric = 'cosine' | 'euclidean' | 'dotproduct';
export type VectorType = 'dense' | 'sparse';

export interface IndexShape {
  name: string;
  dimension: number; // 0 for a sparse index
  metric: Metric;
  vectorType: VectorType;
}

export const LIMITS = {
  idLength: 512,
  maxDimension: 20_000,
  sparseNonZeros: 2048,
  metadataBytes: 40 * 1024,
  vectorsPerUpsert: 1000,
  idsPerFetch: 1000,
  idsPerDelete: 1000,
  upsertRequestBytes: 2 * 1024 * 1024,
  listLimit: 100,
  topK: 10_000,
} as const;

const MAX_UINT32 = 4294967295;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Ids (and namespace names) are 1-512 ASCII characters without NUL. */
export function validateId(id: unknown, what = 'Vector ID'): string {
  if (typeof id !== 'string') throw badRequest(`${what} must be a string, got ${describe(id)}`);
  if (id.length === 0) throw badRequest(`${what} must not be empty: an ID is 1 to ${LIMITS.idLength} characters long`);
  if (id.length > LIMITS.idLength) {
    throw badRequest(`${what} is ${id.length} characters long, which exceeds the limit of ${LIMITS.idLength} characters`);
  }
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c === 0 || c > 0x7f) throw badRequest(`${what} must contain only ASCII characters (no NUL), got ${JSON.stringify(id)}`);
  }
  return id;
}

function isNumberList(raw: unknown): raw is ArrayLike<unknown> {
  return Array.isArray(raw) || (ArrayBuffer.isView(raw) && !(raw instanceof DataView));
}

/**
 * Hands out the dense values of one request's records from a single allocation: thousands of
 * small Float32Arrays would each be a malloc'd backing store, and freed ones stay resident.
 */
export class ValuesArena {
  private readonly floats: Float32Array;
  private used = 0;

  constructor(dim: number, records: number) {
    this.floats = new Float32Array(dim * records);
  }

  take(n: number): Float32Array {
    if (this.used + n > this.floats.length) return new Float32Array(n);
    const out = this.floats.subarray(this.used, this.used + n);
    this.used += n;
    return out;
  }

  reset(): void {
    this.used = 0;
  }
}

/**
 * Dense values checked against the index. A record's values must not be all zeros (Pinecone
 * refuses them on every metric); a query vector may be (`zeros: 'allow'`), see `query`.
 */
export function parseDense(raw: unknown, index: IndexShape, id: string, arena?: ValuesArena, zeros: 'refuse' | 'allow' = 'refuse'): Float32Array {
  if (!isNumberList(raw)) throw badRequest(`Vector values of '${id}' must be an array of numbers`);
  if (raw.length !== index.dimension) {
    throw badRequest(`Vector dimension ${raw.length} does not match the dimension of the index ${index.dimension}`);
  }
  const out = arena ? arena.take(raw.length) : new Float32Array(raw.length);
  let nonZero = false;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    if (typeof v !== 'number') throw badRequest(`Vector values of '${id}' must be numbers, got ${describe(v)} at position ${i}`);
    out[i] = v;
    if (!Number.isFinite(out[i]!)) throw badRequest(`Vector value ${v} of '${id}' at position ${i} is not a finite float32`);
    if (Math.abs(v) >= 1e-8) nonZero = true;
  }
  if (!nonZero && zeros === 'refuse') {
    throw badRequest(`Dense vectors must contain at least one non-zero value. Vector ID '${id}' contains only zeros (every value below 1e-8 in magnitude)`);
  }
  return out;
}

export function parseSparse(raw: unknown, id: string): SparseVector {
  if (!isObject(raw)) throw badRequest(`Sparse values of '${id}' must be an object with indices and values`);
  const { indices, values } = raw;
  if (!isNumberList(indices) || !isNumberList(values)) {
    throw badRequest(`Sparse values of '${id}' must have an indices array and a values array`);
  }
  if (indices.length !== values.length) {
    throw badRequest(`Sparse vector indices and values must have the same length: '${id}' has ${indices.length} indices and ${values.length} values`);
  }
  if (indices.length === 0) throw badRequest(`Sparse vector of '${id}' must contain at least one non-zero value`);
  if (indices.length > LIMITS.sparseNonZeros) {
    throw badRequest(`Sparse vector of '${id}' has ${indices.length} non-zero values, which exceeds the limit of ${LIMITS.sparseNonZeros}`);
  }
  const out: SparseVector = { indices: new Uint32Array(indices.length), values: new Float32Array(values.length) };
  const seen = new Set<number>();
  for (let i = 0; i < indices.length; i++) {
    const ix = indices[i];
    if (typeof ix !== 'number' || !Number.isInteger(ix) || ix < 0 || ix > MAX_UINT32) {
      throw badRequest(`Sparse vector index ${describe(ix)} of '${id}' is not an integer in [0, ${MAX_UINT32}]`);
    }
    if (seen.has(ix)) throw badRequest(`Sparse vector indices of '${id}' must be unique, found ${ix} twice`);
    seen.add(ix);
    const v = values[i];
    if (typeof v !== 'number') throw badRequest(`Sparse vector values of '${id}' must be numbers, got ${describe(v)}`);
    out.indices[i] = ix;
    out.values[i] = v;
    if (!Number.isFinite(out.values[i]!)) throw badRequest(`Sparse vector value ${v} of '${id}' is not a finite float32`);
  }
  return out;
}

/** Validates metadata and returns its JSON text (what fetch sends back), or null when absent. */
export function parseMetadata(raw: unknown, id: string): string | null {
  if (raw === undefined || raw === null) return null;
  if (!isObject(raw)) throw badRequest(`Metadata of '${id}' must be an object, got ${describe(raw)}`);
  for (const [key, value] of Object.entries(raw)) checkMetadataValue(key, value);
  const json = JSON.stringify(raw);
  const size = Buffer.byteLength(json);
  if (size > LIMITS.metadataBytes) {
    throw badRequest(`metadata size is ${size} bytes, which exceeds the limit of ${LIMITS.metadataBytes} bytes per vector`);
  }
  return json;
}

export function checkMetadataValue(key: string, value: unknown): void {
  if (key.startsWith('$')) throw badRequest(`Metadata field names must not start with '$' (reserved for filter operators), got '${key}'`);
  if (typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return;
  throw badRequest(`Metadata value must be a string, number, boolean or list of strings, got '${JSON.stringify(value)}' for field '${key}'`);
}

/** One upsert `Vector` → a stored record, checked against the index. */
export function parseVector(raw: unknown, index: IndexShape, arena?: ValuesArena): StoredRecord {
  if (!isObject(raw)) throw badRequest(`Each vector must be an object, got ${describe(raw)}`);
  const id = validateId(raw.id);
  const hasValues = isNumberList(raw.values) ? raw.values.length > 0 : raw.values !== undefined && raw.values !== null;
  const hasSparse = raw.sparseValues !== undefined && raw.sparseValues !== null;
  let values: Float32Array | null = null;
  let sparse: SparseVector | null = null;
  if (index.vectorType === 'sparse') {
    if (hasValues) throw badRequest(`Vector '${id}' has dense values, but index '${index.name}' is a sparse index`);
    if (!hasSparse) throw badRequest(`Vector '${id}' has no sparse values, which a sparse index requires`);
    sparse = parseSparse(raw.sparseValues, id);
  } else {
    if (!hasValues) {
      throw badRequest(`Vector '${id}' has no dense values; index '${index.name}' requires values of dimension ${index.dimension}`);
    }
    values = parseDense(raw.values, index, id, arena);
    if (hasSparse) {
      if (index.metric !== 'dotproduct') {
        throw badRequest(`Sparse values are supported only for indexes with the dotproduct metric; index '${index.name}' uses ${index.metric}`);
      }
      sparse = parseSparse(raw.sparseValues, id);
    }
  }
  return { id, values, sparse, metadataJson: parseMetadata(raw.metadata, id) };
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}
