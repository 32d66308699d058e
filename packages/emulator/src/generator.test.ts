import { describe, expect, it } from 'vitest';
import { EDGE_CASE_COUNT, METADATA_LIMIT_BYTES, expectedCounts, generateRecords, namespaceNames, recordAt } from './generator.ts';

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
    expect(Object.values(all).map((v) => (Array.isArray(v) ? 'list' : typeof v))).toEqual(
      expect.arrayContaining(['string', 'number', 'boolean', 'list']),
    );
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
});
