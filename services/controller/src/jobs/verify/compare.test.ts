import { describe, expect, it } from 'vitest';
import { compareRecords } from './compare.ts';
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
