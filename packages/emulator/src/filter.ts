// Metadata filter evaluation (the subset of Pinecone's filter language used by query, delete and
// update by filter): implicit equality, $eq $ne $gt $gte $lt $lte $in $nin $exists $and $or.

import { badRequest } from './errors.ts';
import { isObject } from './validation.ts';

export type Filter = Record<string, unknown>;
type Metadata = Record<string, unknown>;

export function parseFilter(raw: unknown): Filter | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw badRequest('The filter must be an object');
  return raw;
}

export function matches(filter: Filter, metadata: Metadata): boolean {
  for (const [key, cond] of Object.entries(filter)) {
    if (key === '$and') {
      if (!Array.isArray(cond)) throw badRequest('$and needs an array of filters');
      if (!cond.every((f) => matches(asFilter(f), metadata))) return false;
    } else if (key === '$or') {
      if (!Array.isArray(cond)) throw badRequest('$or needs an array of filters');
      if (!cond.some((f) => matches(asFilter(f), metadata))) return false;
    } else if (key.startsWith('$')) {
      throw badRequest(`Unknown top-level filter operator ${key}`);
    } else if (!fieldMatches(metadata[key], key in metadata, cond)) {
      return false;
    }
  }
  return true;
}

function asFilter(f: unknown): Filter {
  if (!isObject(f)) throw badRequest('Filter clauses must be objects');
  return f;
}

function fieldMatches(value: unknown, present: boolean, cond: unknown): boolean {
  if (!isObject(cond)) return present && eq(value, cond);
  for (const [op, arg] of Object.entries(cond)) {
    let ok: boolean;
    switch (op) {
      case '$eq':
        ok = present && eq(value, arg);
        break;
      case '$ne':
        ok = !present || !eq(value, arg);
        break;
      case '$gt':
        ok = present && cmp(value, arg, (a, b) => a > b);
        break;
      case '$gte':
        ok = present && cmp(value, arg, (a, b) => a >= b);
        break;
      case '$lt':
        ok = present && cmp(value, arg, (a, b) => a < b);
        break;
      case '$lte':
        ok = present && cmp(value, arg, (a, b) => a <= b);
        break;
      case '$in':
        if (!Array.isArray(arg)) throw badRequest('$in needs an array');
        ok = present && arg.some((a) => eq(value, a));
        break;
      case '$nin':
        if (!Array.isArray(arg)) throw badRequest('$nin needs an array');
        ok = !present || !arg.some((a) => eq(value, a));
        break;
      case '$exists':
        ok = present === Boolean(arg);
        break;
      default:
        throw badRequest(`Unknown filter operator ${op}`);
    }
    if (!ok) return false;
  }
  return true;
}

/** A list field matches a scalar when one of its elements does. */
function eq(value: unknown, arg: unknown): boolean {
  if (Array.isArray(value)) return value.some((v) => v === arg);
  return value === arg;
}

function cmp(value: unknown, arg: unknown, test: (a: number, b: number) => boolean): boolean {
  return typeof value === 'number' && typeof arg === 'number' && test(value, arg);
}
