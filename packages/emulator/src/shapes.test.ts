// Each shape is asserted from the data it generates: what makes it that shape, not how it is made.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPARSE_LATE_START, expectedCounts, fewPerNamespaceCount, generateRecords, recordAt } from './generator.ts';
import type { GeneratedRecord, GeneratorOptions } from './generator.ts';
import { startEmulator } from './server.ts';
import type { Emulator } from './server.ts';
import { ODD_NAMESPACES, SHAPES, shapeOptions } from './shapes.ts';
import type { ShapeName } from './shapes.ts';

/** Records of each namespace in list order (byte order of ids, as Pinecone lists them). */
function byNamespaceInListOrder(options: GeneratorOptions): Map<string, GeneratedRecord[]> {
  const out = new Map<string, GeneratedRecord[]>();
  for (const r of generateRecords(options)) {
    if (!out.has(r.namespace)) out.set(r.namespace, []);
    out.get(r.namespace)!.push(r);
  }
  for (const records of out.values()) records.sort((a, b) => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
  return out;
}

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, rateLimits: false });
});

afterAll(async () => {
  await emulator?.close();
});

describe('index shapes', () => {
  it('lists every shape with a description and the index it makes', () => {
    expect(SHAPES.map((s) => s.name).sort()).toEqual(
      ['hybrid-partial-sparse', 'many-namespaces', 'metadata-mix', 'odd-namespaces', 'reused-ids', 'sparse-late', 'sparse-only'].sort(),
    );
    for (const shape of SHAPES) {
      expect(shape.description.length, shape.name).toBeGreaterThan(40);
      const options = shapeOptions(shape.name);
      expect(options.metric, shape.name).toBe(shape.index.metric);
      expect(options.sparse === 'only', shape.name).toBe(shape.index.vectorType === 'sparse');
    }
  });

  it.each(SHAPES.map((s) => s.name))('%s is deterministic from its seed, random-access, and loads into the emulator as generated', async (name: ShapeName) => {
    const options = shapeOptions(name, { seed: 3 });
    const records = [...generateRecords(options)];
    expect(records).toEqual([...generateRecords(shapeOptions(name, { seed: 3 }))]);
    expect(records.length).toBe(options.count);
    for (const i of [0, 1, Math.floor(records.length / 2), records.length - 1]) expect(recordAt(options, i)).toEqual(records[i]);
    const other = [...generateRecords(shapeOptions(name, { seed: 4 }))];
    expect(other.slice(0, 50).map((r) => r.values ?? r.sparseValues)).not.toEqual(records.slice(0, 50).map((r) => r.values ?? r.sparseValues));

    const index = `shape-${name}`;
    const sparseIndex = options.sparse === 'only';
    await emulator.createIndex({ name: index, metric: options.metric, ...(sparseIndex ? { vectorType: 'sparse' } : { dimension: options.dim }) });
    expect(emulator.load(index, records)).toBe(records.length);
    const stored = emulator.stats().indexes[index]!.namespaces;
    const want = Object.fromEntries(Object.entries(expectedCounts(options)).filter(([, n]) => n > 0));
    expect(stored).toEqual(want);
    await emulator.deleteIndex(index);
  });

  it('hybrid-partial-sparse: about 1 record in 5 has no sparse values, among them the first in list order of every namespace, and later ones', () => {
    const options = shapeOptions('hybrid-partial-sparse');
    let without = 0;
    let total = 0;
    for (const [ns, records] of byNamespaceInListOrder(options)) {
      expect(records[0]!.sparseValues, `first record of "${ns}"`).toBeUndefined();
      expect(records[2]!.sparseValues, `third record of "${ns}"`).toBeUndefined();
      expect(records[1]!.sparseValues, `second record of "${ns}"`).toBeDefined();
      const late = records.slice(records.length / 2);
      expect(
        late.some((r) => !r.sparseValues),
        `later records of "${ns}"`,
      ).toBe(true);
      without += records.filter((r) => !r.sparseValues).length;
      total += records.length;
      for (const r of records) expect(r.values).toHaveLength(options.dim);
    }
    expect(without / total).toBeGreaterThan(0.15);
    expect(without / total).toBeLessThan(0.25);
  });

  it(`sparse-late: the first ${SPARSE_LATE_START} records in list order of every namespace have no sparse values, every later one has`, () => {
    const options = shapeOptions('sparse-late');
    const namespaces = byNamespaceInListOrder(options);
    expect(namespaces.size).toBe(2);
    for (const [ns, records] of namespaces) {
      expect(records.length, ns).toBeGreaterThan(SPARSE_LATE_START);
      expect(
        records.slice(0, SPARSE_LATE_START).every((r) => r.sparseValues === undefined),
        ns,
      ).toBe(true);
      expect(
        records.slice(SPARSE_LATE_START).every((r) => r.sparseValues!.indices.length > 0),
        ns,
      ).toBe(true);
    }
    expect(() => [...generateRecords(shapeOptions('sparse-late', { count: 2 * SPARSE_LATE_START }))]).toThrow(/count must exceed 1200 per namespace/);
  });

  it('sparse-only: every record is sparse values only', () => {
    const options = shapeOptions('sparse-only');
    for (const r of generateRecords(options)) {
      expect(r.values).toBeUndefined();
      expect(r.sparseValues!.indices.length).toBeGreaterThan(0);
    }
    expect(SHAPES.find((s) => s.name === 'sparse-only')!.index).toMatchObject({ vectorType: 'sparse', metric: 'dotproduct' });
  });

  it('reused-ids: the same ids r0…rN in every namespace, with different vectors and metadata', () => {
    const options = shapeOptions('reused-ids', { count: 300, namespaces: 3 });
    const namespaces = byNamespaceInListOrder(options);
    expect(namespaces.size).toBe(3);
    const idSets = [...namespaces.values()].map((records) => records.map((r) => r.id).sort());
    const expected = Array.from({ length: 100 }, (_, j) => `r${j}`).sort();
    for (const ids of idSets) expect(ids).toEqual(expected);
    const [a, b] = [...namespaces.values()].map((records) => new Map(records.map((r) => [r.id, r])));
    const differing = expected.filter((id) => JSON.stringify(a!.get(id)!.values) !== JSON.stringify(b!.get(id)!.values));
    expect(differing).toEqual(expected);
    expect(expected.filter((id) => JSON.stringify(a!.get(id)!.metadata) !== JSON.stringify(b!.get(id)!.metadata)).length).toBeGreaterThan(50);
    expect(() => shapeOptions('reused-ids', { count: 100, namespaces: 3 })).toThrow(/multiple of namespaces/);
  });

  it('odd-namespaces: names a Milvus partition cannot hold, some colliding under a naive sanitiser', () => {
    const options = shapeOptions('odd-namespaces');
    const counts = expectedCounts(options);
    expect(Object.keys(counts).sort()).toEqual([...ODD_NAMESPACES].sort());
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(0);
    const partitionName = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
    const invalid = ODD_NAMESPACES.filter((n) => !partitionName.test(n));
    expect(invalid.length).toBeGreaterThanOrEqual(6);
    expect(ODD_NAMESPACES.some((n) => n.length > 255 && n.length <= 512)).toBe(true);
    expect(ODD_NAMESPACES).toContain('_default');
    for (const n of ODD_NAMESPACES) expect(n).toMatch(/^[\x01-\x7f]*$/);
    const naive = (n: string): string => n.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const sanitised = new Set(ODD_NAMESPACES.map(naive));
    expect(sanitised.size).toBeLessThanOrEqual(ODD_NAMESPACES.length - 3);
    expect(() => shapeOptions('odd-namespaces', { namespaces: 2 })).toThrow(/decides namespaces itself/);
  });

  it('many-namespaces: N namespaces of 1 to 3 records each, the count following from the seed', () => {
    const options = shapeOptions('many-namespaces', { namespaces: 2_000, seed: 9 });
    const counts = expectedCounts(options);
    expect(Object.keys(counts)).toHaveLength(2_000);
    const sizes = Object.values(counts);
    expect(new Set(sizes)).toEqual(new Set([1, 2, 3]));
    expect(options.count).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(options.count).toBe(fewPerNamespaceCount(9, 2_000));
    const seen: Record<string, number> = {};
    for (const r of generateRecords(options)) seen[r.namespace] = (seen[r.namespace] ?? 0) + 1;
    expect(seen).toEqual(counts);
    expect(shapeOptions('many-namespaces').namespaces).toBe(5_000);
    expect(expectedCounts(shapeOptions('many-namespaces', { namespaces: 2_000, seed: 10 }))).not.toEqual(counts);
    expect(() => shapeOptions('many-namespaces', { count: 10 })).toThrow(/decides count itself/);
    expect(() => [...generateRecords({ ...options, count: options.count + 1 })]).toThrow(/count must be/);
  });

  it('metadata-mix: every Pinecone type, odd keys, one key of changing type, large values, records without metadata', () => {
    const records = [...generateRecords(shapeOptions('metadata-mix'))];
    const kinds = new Set<string>();
    const valueKinds = new Set<string>();
    const keys = new Set<string>();
    let largest = 0;
    for (const r of records) {
      if (!r.metadata) continue;
      largest = Math.max(largest, Buffer.byteLength(JSON.stringify(r.metadata)));
      for (const [k, v] of Object.entries(r.metadata)) {
        keys.add(k);
        const kind = Array.isArray(v)
          ? v.length === 0
            ? 'empty list'
            : 'list'
          : typeof v === 'number'
            ? Number.isInteger(v)
              ? 'integer'
              : 'float'
            : typeof v;
        kinds.add(kind);
        if (k === 'value') valueKinds.add(kind);
      }
    }
    expect([...kinds].sort()).toEqual(['boolean', 'empty list', 'float', 'integer', 'list', 'string']);
    expect(valueKinds.size).toBeGreaterThanOrEqual(3);
    expect([...keys].some((k) => k.includes('.'))).toBe(true);
    expect([...keys].some((k) => k.includes(' '))).toBe(true);
    expect([...keys].some((k) => /[^\x00-\x7f]/.test(k))).toBe(true);
    expect(largest).toBeGreaterThan(16_000);
    expect(largest).toBeLessThanOrEqual(40_960);
    expect(records.filter((r) => r.metadata === undefined).length).toBeGreaterThan(records.length / 10);
    expect(records.filter((r) => r.metadata && Object.keys(r.metadata).length === 0).length).toBeGreaterThan(records.length / 20);
  });

  it('refuses what a shape decides itself, and sparse values off dotproduct', () => {
    expect(() => shapeOptions('hybrid-partial-sparse', { metric: 'cosine' })).toThrow(/decides metric itself/);
    expect(() => shapeOptions('sparse-only', { dim: 8 })).toThrow(/decides dim itself/);
    expect(() => shapeOptions('metadata-mix', { sparse: true, metric: 'cosine' })).toThrow(/dotproduct/);
    expect(shapeOptions('metadata-mix', { sparse: true })).toMatchObject({ sparse: true, metric: 'dotproduct' });
  });
});
