// Shared helpers of the conformance suite: the dataset the SDK tests write and read back, and
// small utilities to batch it within Pinecone's request limits.

import { expect } from 'vitest';
import { expectedCounts, generateRecords } from '../generator.ts';
import type { GeneratedRecord, GeneratorOptions } from '../generator.ts';

/** 10,000 dense records over three namespaces (the default one first), edge cases included. */
export const DENSE: GeneratorOptions = { seed: 11, count: 10_000, dim: 32, namespaces: 3 };
/** A small hybrid (dense + sparse) dataset. */
export const HYBRID: GeneratorOptions = { seed: 12, count: 300, dim: 16, namespaces: 2, sparse: true };
/** A small sparse-only dataset. */
export const SPARSE: GeneratorOptions = { seed: 13, count: 200, dim: 0, namespaces: 1, sparse: 'only' };

export type Vector = Omit<GeneratedRecord, 'namespace'>;

export function datasetByNamespace(options: GeneratorOptions): Map<string, Vector[]> {
  const out = new Map<string, Vector[]>();
  for (const { namespace, ...vector } of generateRecords(options)) {
    if (!out.has(namespace)) out.set(namespace, []);
    out.get(namespace)!.push(vector);
  }
  return out;
}

export { expectedCounts };

/** Splits records into upsert requests of at most 1,000 records and ~2 MB of JSON. */
export function upsertBatches<T>(records: T[], maxBytes = 1_900_000): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = JSON.stringify(r).length + 1;
    if (batch.length === 1000 || (batch.length > 0 && bytes + size > maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Byte-order ("C" collation) comparison, which is what Pinecone sorts ids by. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Asserts that `promise` rejects with an error of class `cls` whose message matches `message`. */
export async function expectRejection(promise: Promise<unknown>, cls: abstract new (...args: never[]) => Error, message?: RegExp): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected the call to fail').toBeInstanceOf(cls);
  if (message) expect((caught as Error).message).toMatch(message);
  return caught as Error;
}

/**
 * Values as a client stores them: Pinecone writes float32 values as the shortest decimal that
 * reads back as the float32 (0.4, not 0.4000000059604645), so a JSON client gets doubles that
 * are equal to the stored values only once rounded to float32.
 */
export function float32(values: ArrayLike<number> | undefined): number[] {
  return Array.from(values ?? [], (v) => Math.fround(v));
}

/** A fetched record with its dense and sparse values rounded to float32 (see `float32`). */
export function asStored<T extends { values?: ArrayLike<number>; sparseValues?: { indices: number[]; values: ArrayLike<number> } }>(record: T): T {
  const out: T = { ...record };
  if (record.values !== undefined) out.values = float32(record.values);
  if (record.sparseValues) out.sparseValues = { indices: record.sparseValues.indices, values: float32(record.sparseValues.values) };
  return out;
}

/** A dense vector of `dim` float32 values (deterministic, non-zero). */
export function vectorOf(dim: number, seed = 1): number[] {
  return Array.from({ length: dim }, (_, i) => Math.fround(((i * 7 + seed * 13) % 17) / 17 - 0.4));
}
