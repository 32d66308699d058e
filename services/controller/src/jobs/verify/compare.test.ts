import { describe, expect, it } from 'vitest';
import { compareRecords, deepEqual } from './compare.ts';
import { makeJob, vector } from './fakes.ts';

const plan = makeJob({ namespaces: { a: 1 } }).plan;
const fields = (want: Parameters<typeof compareRecords>[0], have: Parameters<typeof compareRecords>[1]): string[] =>
  compareRecords(want, have, plan).map((m) => `${m.field}: ${m.reason}`);

describe('compareRecords', () => {
  it('bit-identical records match, whatever memory their vectors sit in', () => {
    const backing = new Float32Array(8);
    backing.set([1, 2, 3], 5);
    expect(fields(vector('a', 'x'), vector('a', 'x', 1, { values: backing.subarray(5) }))).toEqual([]);
  });

  it('names the first differing dense value, even when only the last bit of one value differs', () => {
    const have = Float32Array.from([1, 2, 3]);
    new Uint32Array(have.buffer)[2]! ^= 1;
    expect(fields(vector('a', 'x'), vector('a', 'x', 1, { values: have }))).toEqual([`vector: value 2 is ${have[2]} instead of 3`]);
    expect(fields(vector('a', 'x'), vector('a', 'x', 1, { values: Float32Array.from([1, 2]) }))).toEqual(['vector: length 3 vs 2']);
  });

  it('0 and -0 differ in bits and are equal as values', () => {
    expect(fields(vector('a', 'x', 0), vector('a', 'x', -0))).toEqual([]);
  });

  it('compares metadata deeply', () => {
    expect(fields(vector('a', 'x'), vector('a', 'x', 1, { metadata: { n: 1 } }))).toEqual([]);
    expect(fields(vector('a', 'x'), vector('a', 'x', 1, { metadata: { n: 2 } }))).toEqual(['$meta: metadata {"n":2} instead of {"n":1}']);
  });
});

describe('deepEqual', () => {
  it('takes objects with the same own keys and equal values as equal, in any key order', () => {
    expect(deepEqual({ a: 1, b: ['x', 'y'], c: { d: true } }, { c: { d: true }, b: ['x', 'y'], a: 1 })).toBe(true);
    expect(deepEqual({}, {})).toBe(true);
    expect(deepEqual([], [])).toBe(true);
  });

  it('tells apart a missing key, an extra key, another value, another length, another kind', () => {
    expect(deepEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    // Same number of keys, not the same keys.
    expect(deepEqual({ a: 1, b: 2 }, { a: 1, c: 2 })).toBe(false);
    expect(deepEqual({ a: { b: 'x' } }, { a: { b: 'y' } })).toBe(false);
    expect(deepEqual({ a: ['x', 'y'] }, { a: ['x'] })).toBe(false);
    expect(deepEqual({ a: ['x', 'y'] }, { a: ['y', 'x'] })).toBe(false);
    expect(deepEqual({ a: ['x'] }, { a: { 0: 'x' } })).toBe(false);
    expect(deepEqual({ a: null }, { a: {} })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(deepEqual({ a: undefined }, {})).toBe(false);
  });

  it('does not count keys a prototype lends', () => {
    const inherited = Object.create({ a: 1 }) as Record<string, unknown>;
    expect(deepEqual(inherited, {})).toBe(true);
    expect(deepEqual({}, inherited)).toBe(true);
    expect(deepEqual(inherited, { a: 1 })).toBe(false);
  });

  it('answers the same shared "no mismatch" for every equal pair, and it cannot be added to', () => {
    const first = compareRecords(vector('a', 'x'), vector('a', 'x'), plan);
    expect(first).toEqual([]);
    expect(compareRecords(vector('a', 'y'), vector('a', 'y'), plan)).toBe(first);
    expect(() => first.push({ namespace: 'a', id: 'x', field: 'f', reason: 'r' })).toThrow(TypeError);
  });
});
