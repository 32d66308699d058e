import { describe, expect, it } from 'vitest';
import type { SourceVector } from '@p2m/core';
import { fetchChunks, pageToRecords } from './task.ts';

describe('pageToRecords', () => {
  it('converts values, sparse values and metadata, in the listed order', () => {
    const fetched: SourceVector[] = [
      { id: 'b', values: [0.5, 1.5], sparseValues: { indices: [4294967295, 7], values: [0.25, 2] }, metadata: { tags: ['x'], n: 3, ok: false } },
      { id: 'a', values: [1, 2] },
    ];
    const { records, vanished } = pageToRecords('__default__', ['a', 'b'], fetched);
    expect(vanished).toEqual([]);
    expect(records.map((r) => r.id)).toEqual(['a', 'b']);
    const [a, b] = records;
    expect(a).toEqual({ kind: 'vector', namespace: '', id: 'a', values: new Float32Array([1, 2]), sparse: null, metadata: null });
    expect(b!.values).toBeInstanceOf(Float32Array);
    expect(b!.sparse).toEqual({ indices: [4294967295, 7], values: new Float32Array([0.25, 2]) });
    expect(b!.sparse!.values).toBeInstanceOf(Float32Array);
    expect(b!.sparse!.indices[0]).toBe(4294967295); // uint32 kept exact
    expect(b!.metadata).toEqual({ tags: ['x'], n: 3, ok: false });
  });

  it('reports ids listed but not fetched as vanished, without failing', () => {
    const { records, vanished } = pageToRecords(
      'ns',
      ['a', 'gone', 'c', 'also-gone'],
      [
        { id: 'c', values: [1] },
        { id: 'a', values: [2] },
      ],
    );
    expect(records.map((r) => r.id)).toEqual(['a', 'c']);
    expect(vanished).toEqual(['gone', 'also-gone']);
    expect(records.every((r) => r.namespace === 'ns')).toBe(true);
  });

  it('treats the empty dense values of a sparse-only record as absent', () => {
    const { records } = pageToRecords('ns', ['s'], [{ id: 's', values: [], sparseValues: { indices: [1], values: [0.5] } }]);
    expect(records[0]!.values).toBeNull();
    expect(records[0]!.sparse).not.toBeNull();
  });

  it('ignores a duplicate listed id and a fetched id that was not listed', () => {
    const { records } = pageToRecords(
      'ns',
      ['a', 'a'],
      [
        { id: 'a', values: [1] },
        { id: 'z', values: [1] },
      ],
    );
    expect(records.map((r) => r.id)).toEqual(['a']);
  });
});

describe('fetchChunks', () => {
  it('splits by count', () => {
    const ids = Array.from({ length: 250 }, (_, i) => `id-${i}`);
    const chunks = fetchChunks(ids, 100);
    expect(chunks.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(chunks.flat()).toEqual(ids);
  });

  it('splits by URL length so long ids still fit a GET', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `${'x'.repeat(500)}${i}`);
    const chunks = fetchChunks(ids, 100, 6000);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.reduce((n, id) => n + 5 + encodeURIComponent(id).length, 0)).toBeLessThanOrEqual(6000);
    expect(chunks.flat()).toEqual(ids);
  });

  it('keeps an id longer than the URL budget in a chunk of its own', () => {
    expect(fetchChunks(['a', 'x'.repeat(100), 'b'], 10, 50)).toEqual([['a'], ['x'.repeat(100)], ['b']]);
    expect(fetchChunks([], 10)).toEqual([]);
  });
});
