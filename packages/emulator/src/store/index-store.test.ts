import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexStore } from './index-store.ts';
import type { IndexConfig } from './index-store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const config: Omit<IndexConfig, 'createdAt'> = {
  name: 'compact',
  dimension: 4,
  metric: 'cosine',
  vectorType: 'dense',
  deployment: { type: 'serverless', cloud: 'aws', region: 'us-east-1' },
  deletionProtection: 'disabled',
  tags: {},
};

describe('IndexStore log', () => {
  it('rewrites a wasteful log as a snapshot of the live records', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p2m-store-'));
    dirs.push(dir);
    const store = IndexStore.create({ ...config, createdAt: 'now' }, dir, 'never');
    for (let round = 0; round < 20; round++) {
      store.upsert(
        'ns',
        Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, values: Float32Array.from([round, i, 1, 1]), sparse: null, metadataJson: `{"round":${round}}` })),
      );
    }
    store.apply({ op: 'delete', ns: 'ns', ids: ['r0', 'r1'] });
    store.apply({ op: 'createNamespace', ns: 'kept', schema: '{"fields":{"genre":{"filterable":true}}}' });
    store.upsert('emptied', [{ id: 'gone', values: Float32Array.from([1, 1, 1, 1]), sparse: null, metadataJson: null }]);
    store.apply({ op: 'deleteAll', ns: 'emptied' });
    store.close();
    const log = path.join(dir, 'indexes', 'compact', 'records.wal');
    const before = fs.statSync(log).size;

    const [loaded] = IndexStore.loadAll(dir, 'never', 0);
    expect(fs.statSync(log).size).toBeLessThan(before / 5);
    const ns = loaded!.namespace('ns')!;
    expect(ns.count).toBe(48);
    expect(ns.recordAt(ns.slotOf('r7')!)).toMatchObject({ metadataJson: '{"round":19}' });
    expect(Array.from(ns.recordAt(ns.slotOf('r7')!).values!)).toEqual([19, 7, 1, 1]);
    expect(loaded!.namespace('kept')!.schema).toBe('{"fields":{"genre":{"filterable":true}}}');
    expect(loaded!.namespace('emptied')!.count).toBe(0);
    loaded!.close();

    // The snapshot replays to the same state: empty namespaces and schemas included.
    const [again] = IndexStore.loadAll(dir, 'never', 0);
    expect(again!.namespace('ns')!.count).toBe(48);
    expect([...again!.namespaces.keys()].sort()).toEqual(['emptied', 'kept', 'ns']);
    expect(again!.namespace('kept')!.schema).toBe('{"fields":{"genre":{"filterable":true}}}');
    again!.close();
  });
});
