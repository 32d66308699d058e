import { describe, expect, it } from 'vitest';
import { EDGE_CASE_COUNT, METADATA_LIMIT_BYTES, expectedCounts, generateRecords, namespaceNames, recordAt } from './generator.ts';
import type { GeneratorOptions } from './generator.ts';

describe('generateRecords', () => {
  const opts = { seed: 5, count: 500, dim: 16, namespaces: 3, sparse: true };

  it('is deterministic and random-access', () => {
    const a = [...generateRecords(opts)];
    const b = [...generateRecords(opts)];
    expect(a).toEqual(b);
    expect(recordAt(opts, 123)).toEqual(a[123]);
    expect([...generateRecords({ ...opts, seed: 6 })][50]!.values).not.toEqual(a[50]!.values);
  });

  it('spreads records over namespaces, the default one first, with unique ids', () => {
    const records = [...generateRecords(opts)];
    expect(namespaceNames(opts)).toEqual(['', 'ns-1', 'ns-2']);
    const counts: Record<string, number> = {};
    const seen = new Set<string>();
    for (const r of records) {
      counts[r.namespace] = (counts[r.namespace] ?? 0) + 1;
      const key = `${r.namespace}\0${r.id}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
    expect(counts).toEqual(expectedCounts(opts));
    expect(expectedCounts({ ...opts, count: 2 })).toEqual({ '': 1, 'ns-1': 1, 'ns-2': 0 });
  });

  it('starts with the edge cases a migration must survive', () => {
    const records = [...generateRecords({ ...opts, count: EDGE_CASE_COUNT })];
    const ids = records.map((r) => r.id);
    expect(ids.some((id) => id.length === 512)).toBe(true);
    expect(ids.some((id) => id.includes('"') && id.includes('\\') && id.includes(' ') && id.includes('%'))).toBe(true);
    for (const id of ids) expect(id).toMatch(/^[\x20-\x7e]+$/);
    const metas = records.map((r) => r.metadata);
    expect(metas).toContainEqual({});
    expect(metas).toContain(undefined);
    const sizes = metas.map((m) => (m ? Buffer.byteLength(JSON.stringify(m)) : 0));
    expect(Math.max(...sizes)).toBe(METADATA_LIMIT_BYTES);
    const all = metas.find((m) => m && 'maxSafeInteger' in m)!;
    expect(Object.values(all).map((v) => (Array.isArray(v) ? 'list' : typeof v))).toEqual(expect.arrayContaining(['string', 'number', 'boolean', 'list']));
    expect(JSON.stringify(metas)).toMatch(/[^\x00-\x7f]/);
    const indices = records.flatMap((r) => r.sparseValues?.indices ?? []);
    expect(indices).toContain(4294967295);
    for (const r of records) {
      expect(r.values!.every((v) => Math.fround(v) === v)).toBe(true);
      expect(r.sparseValues!.indices.length).toBe(r.sparseValues!.values.length);
    }
  });

  it('makes sparse-only records for sparse indexes', () => {
    const [r] = [...generateRecords({ count: 1, dim: 0, sparse: 'only' })];
    expect(r!.values).toBeUndefined();
    expect(r!.sparseValues!.indices.length).toBeGreaterThan(0);
    expect(() => [...generateRecords({ count: 1, dim: 8, sparse: 'only' })]).toThrow();
  });

  it('mixes the shapes into the documents dataset: records without sparse values and mixed metadata beside the edge cases', () => {
    const demo: GeneratorOptions = { seed: 7, count: 2_000, dim: 8, namespaces: 3, sparse: 'partial', metadata: 'mixed' };
    const records = [...generateRecords(demo)];
    expect(records.slice(0, EDGE_CASE_COUNT).some((r) => r.id.length === 512)).toBe(true);
    const without = records.filter((r) => !r.sparseValues).length;
    expect(without / records.length).toBeGreaterThan(0.15);
    expect(without / records.length).toBeLessThan(0.25);
    expect(records.some((r) => r.metadata && 'source.url' in r.metadata)).toBe(true);
    expect(records.map((r) => r.sparseValues ?? null)).not.toEqual([...generateRecords({ ...demo, sparse: true })].map((r) => r.sparseValues ?? null));
    // Only whether a record has sparse values changes, never what they are.
    const full = [...generateRecords({ ...demo, sparse: true })];
    records.forEach((r, i) => {
      if (r.sparseValues) expect(r.sparseValues).toEqual(full[i]!.sparseValues);
      expect(r.values).toEqual(full[i]!.values);
    });
  });

  it('refuses option combinations that would not mean what they say', () => {
    expect(() => [...generateRecords({ count: 10, dim: 4, ids: 'reused', edgeCases: true })]).toThrow(/edgeCases need ids: 'documents'/);
    expect(() => [...generateRecords({ count: 5000, dim: 4, sparse: 'late' })]).toThrow(/ids: 'ordered'/);
  });
});
