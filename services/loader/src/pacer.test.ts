import { describe, expect, it } from 'vitest';
import { PartitionPacer } from './pacer.ts';

describe('PartitionPacer', () => {
  it('books each partition its own time: records / rate, one batch after another', () => {
    let now = 1_000;
    const pacer = new PartitionPacer(100, () => now); // 100 records/s per partition
    expect(pacer.book(0, 50)).toBe(0); // the first batch goes at once...
    expect(pacer.book(0, 50)).toBe(500); // ...the next waits for the first one's 0.5 s
    expect(pacer.book(1, 200)).toBe(0); // another partition has a budget of its own
    now += 2_000; // idle longer than booked: no credit piles up beyond "now"
    expect(pacer.book(0, 10)).toBe(0);
    expect(pacer.book(0, 10)).toBe(100);
    expect(pacer.book(1, 10)).toBe(0);
  });

  it('heartbeats through a long wait and gives up when the partition is lost', async () => {
    const pacer = new PartitionPacer(0.1, () => 0); // one record = 10 s
    pacer.book(0, 1);
    let beats = 0;
    let stale = false;
    const waiting = pacer.pace(
      {
        partition: 0,
        heartbeat: async () => {
          beats++;
          stale = true; // the rebalance that revoked the partition is noticed at the heartbeat
        },
        isStale: () => stale,
      },
      1,
      new AbortController().signal,
    );
    expect(await waiting).toBe(false); // after the first 2 s slice, not the whole 10 s
    expect(beats).toBe(1);
  });

  it('cuts batches into writes of at most one second of budget, keeping order, sources and the partition', () => {
    const pacer = new PartitionPacer(15, () => 0);
    const records = Array.from({ length: 40 }, (_, i) => ({ kind: 'vector' as const, namespace: '', id: `r${i}`, values: null, sparse: null, metadata: null }));
    const batch = { partition: 'p1', records, sources: records.map((_, i) => `0:${i}`), bytes: 400 };
    const slices = pacer.slices([batch]);
    expect(slices.map((b) => b.records.length)).toEqual([15, 15, 10]);
    expect(slices.flatMap((b) => b.records)).toEqual(records);
    expect(slices.flatMap((b) => b.sources)).toEqual(batch.sources);
    expect(slices.every((b) => b.partition === 'p1')).toBe(true);
    expect(new PartitionPacer(0.1).slices([batch]).length).toBe(40);
  });
});
