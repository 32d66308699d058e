import { describe, expect, it } from 'vitest';
import { BucketDigests, BucketLayout, hashKey, KEYS_PER_BUCKET } from './buckets.ts';
import { DlqIndex } from './dlq-index.ts';

const hash = (ns: string, id: string): string => {
  const out = new Uint32Array(2);
  hashKey(ns, id, out);
  return `${out[0]}:${out[1]}`;
};

describe('bucket digests', () => {
  it('hash (namespace, id) pairs, not their concatenation', () => {
    expect(hash('ab', 'c')).not.toBe(hash('a', 'bc'));
    expect(hash('a', 'bc')).toBe(hash('a', 'bc'));
    expect(new Set(Array.from({ length: 10_000 }, (_, i) => hash('ns', `id-${i}`))).size).toBe(10_000);
  });

  it('give a namespace about KEYS_PER_BUCKET keys a bucket, within the cap', () => {
    const layout = new BucketLayout(
      new Map([
        ['small', 3],
        ['big', 100 * KEYS_PER_BUCKET],
        ['empty', 0],
      ]),
    );
    expect(layout.buckets).toBe(1 + 128 + 1);
    const capped = new BucketLayout(
      new Map([
        ['a', 1e9],
        ['b', 1e9],
        ['c', 5],
      ]),
      1000,
    );
    expect(capped.buckets).toBeLessThanOrEqual(1000);
    expect(capped.buckets).toBeGreaterThan(500);
    const d = new BucketDigests(capped);
    for (let i = 0; i < 5000; i++) expect(capped.namespaceOf(d.add('a', `x${i}`))).toBe('a');
    expect(capped.namespaceOf(d.add('c', 'y'))).toBe('c');
    expect(capped.namespaceOf(d.add('new', 'z'))).toBe('new'); // a namespace first seen in the target
  });

  it('agree whatever the order keys arrive in, and point at the one bucket that differs', () => {
    const layout = new BucketLayout(new Map([['a', 50_000]]));
    const left = new BucketDigests(layout);
    const right = new BucketDigests(layout);
    const ids = Array.from({ length: 50_000 }, (_, i) => `doc-${i}`);
    for (const id of ids) left.add('a', id);
    for (const id of [...ids].reverse()) right.add('a', id);
    expect(left.differing(right)).toEqual([]);
    const b = right.add('a', 'one-more');
    expect(left.differing(right)).toEqual([b]);
    const swapped = new BucketDigests(layout);
    for (const id of ids) swapped.add('a', id === 'doc-7' ? 'doc-7b' : id);
    expect(left.differing(swapped).length).toBeGreaterThanOrEqual(1);
    expect(left.differing(swapped).length).toBeLessThanOrEqual(2);
  });
});

describe('the DLQ index', () => {
  it('counts a record refused several times once, per namespace, and knows who is in it', () => {
    const e = (namespace: string, id: string) => ({ namespace, id, code: 'RECORD_INVALID', reason: 'r', at: '' });
    const dlq = DlqIndex.fromEntries([e('a', '1'), e('a', '1'), e('a', '2'), e('b', '1'), e('', 'x')]);
    expect(dlq.size).toBe(4);
    expect(dlq.has('a', '2')).toBe(true);
    expect(dlq.has('b', '2')).toBe(false);
    dlq.markAbsent('a', '1');
    dlq.markAbsent('a', '1');
    dlq.markAbsent('zz', 'nope');
    expect(Object.fromEntries(dlq.counts())).toEqual({ a: { dlq: 2, absent: 1 }, b: { dlq: 1, absent: 0 }, '': { dlq: 1, absent: 0 } });
    expect(dlq.sample.map((s) => `${s.namespace}/${s.id}`)).toEqual(['a/1', 'a/2', 'b/1', '/x']);
  });
});
