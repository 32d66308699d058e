import { describe, expect, it } from 'vitest';
import { NamespaceStore } from './namespace-store.ts';
import type { StoredRecord } from './namespace-store.ts';

const rec = (id: string, v = 1, metadataJson: string | null = null): StoredRecord => ({
  id,
  values: Float32Array.from([v, v + 1]),
  sparse: null,
  metadataJson,
});

function listAll(ns: NamespaceStore, prefix = '', limit = 3): string[] {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = ns.list(prefix, after, limit);
    out.push(...page.ids);
    if (!page.more) return out;
    after = page.ids[page.ids.length - 1];
  }
}

describe('NamespaceStore', () => {
  it('keeps values in slabs and returns them by slot', () => {
    const ns = new NamespaceStore(2);
    for (let i = 0; i < 10_000; i++) ns.upsert(rec(`id-${i}`, i));
    expect(ns.count).toBe(10_000);
    const slot = ns.slotOf('id-4321')!;
    const { floats, offset } = ns.valuesAt(slot);
    expect(Array.from(floats.subarray(offset, offset + 2))).toEqual([4321, 4322]);
    ns.upsert(rec('id-4321', 9));
    expect(ns.count).toBe(10_000);
    expect(Array.from(ns.recordAt(ns.slotOf('id-4321')!).values!)).toEqual([9, 10]);
  });

  it('lists ids in byte order with prefix and pagination, across writes', () => {
    const ns = new NamespaceStore(2);
    const ids = ['b', 'a#2', 'a#10', 'A', '~', ' ', 'a#1', 'ab'];
    ids.forEach((id) => ns.upsert(rec(id)));
    expect(listAll(ns)).toEqual([...ids].sort());
    expect(listAll(ns, 'a#')).toEqual(['a#1', 'a#10', 'a#2']);
    ns.delete('a#10');
    ns.upsert(rec('a#0'));
    expect(listAll(ns, 'a')).toEqual(['a#0', 'a#1', 'a#2', 'ab']);
    expect(ns.list('zzz', undefined, 10)).toEqual({ ids: [], more: false });
    // No token on the last page, even when it is exactly full.
    expect(ns.list('a#', undefined, 3)).toEqual({ ids: ['a#0', 'a#1', 'a#2'], more: false });
  });

  it('reuses freed slots without mixing records up', () => {
    const ns = new NamespaceStore(2);
    ns.upsert(rec('x', 1, '{"k":1}'));
    ns.upsert(rec('y', 5));
    ns.delete('x');
    ns.upsert(rec('z', 3));
    expect(ns.slotOf('x')).toBeUndefined();
    const z = ns.recordAt(ns.slotOf('z')!);
    expect(z.metadataJson).toBeNull();
    expect(Array.from(z.values!)).toEqual([3, 4]);
    expect(listAll(ns)).toEqual(['y', 'z']);
    ns.clear();
    expect(ns.count).toBe(0);
    expect(listAll(ns)).toEqual([]);
  });
});
