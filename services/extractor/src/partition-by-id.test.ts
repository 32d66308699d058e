import { describe, expect, it } from 'vitest';
import { partitionOfId } from './namespace-extraction.ts';
import { runExtraction } from './runtime.ts';
import { setup } from './runtime.fixture.ts';

// With `primaryKey: "id"` the copies of an id from several namespaces are one row in the target:
// they must land in one partition, so one loader writes them in log order and the copy written last
// is the last in the log.
describe('records partitioned by id', () => {
  it('every copy of an id goes to the same partition, whatever its namespace; end markers still go to every partition', async () => {
    const { source, producer, base } = setup({ partitions: 4 });
    for (const ns of ['', 'a', 'b']) source.add(ns, 40);
    await runExtraction({ ...base({ namespaces: ['', 'a', 'b'] }), partitionById: true });
    const byId = new Map<string, Set<number | undefined>>();
    const records = producer.records();
    for (const m of records.filter((r) => r.record.kind === 'vector')) {
      const id = (m.record as { id: string }).id;
      byId.set(id, (byId.get(id) ?? new Set()).add(m.partition));
    }
    expect(byId.size).toBe(40);
    for (const [id, partitions] of byId) expect([...partitions], id).toEqual([partitionOfId(id, 4)]);
    // The ids spread over the partitions (not all on one).
    expect(new Set([...byId.values()].map((p) => [...p][0])).size).toBeGreaterThan(1);
    for (const ns of ['', 'a', 'b']) {
      expect(
        records
          .filter((r) => r.record.kind === 'end' && r.record.namespace === ns)
          .map((r) => r.partition)
          .sort(),
      ).toEqual([0, 1, 2, 3]);
    }
  });

  it('without it the partition is left to the message key (namespace and id)', async () => {
    const { source, producer, base } = setup({ partitions: 4 });
    source.add('a', 5);
    await runExtraction(base({ namespaces: ['a'] }));
    expect(
      producer
        .records()
        .filter((r) => r.record.kind === 'vector')
        .every((r) => r.partition === undefined),
    ).toBe(true);
  });

  it('partitionOfId is stable and within range', () => {
    expect(partitionOfId('doc-1', 7)).toBe(partitionOfId('doc-1', 7));
    for (const id of ['', 'x', 'é', 'a'.repeat(512)]) {
      const p = partitionOfId(id, 3);
      expect(p >= 0 && p < 3).toBe(true);
    }
  });
});
