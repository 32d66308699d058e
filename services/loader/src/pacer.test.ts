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

  it('cuts a fetched batch into parts of at most one second of budget, keeping order and the batch', () => {
    const pacer = new PartitionPacer(15, () => 0);
    const messages = Array.from({ length: 40 }, (_, i) => ({
      topic: 't',
      partition: 1,
      offset: String(i),
      key: null,
      value: Buffer.from(`r${i}`),
      headers: {},
      timestamp: '0',
    }));
    const batch = { topic: 't', partition: 1, messages, heartbeat: async () => undefined, isStale: () => false };
    const parts = pacer.parts(batch);
    expect(parts.map((b) => b.messages.length)).toEqual([15, 15, 10]);
    expect(parts.flatMap((b) => b.messages)).toEqual(messages);
    expect(parts.every((b) => b.partition === 1 && b.topic === 't' && b.isStale === batch.isStale)).toBe(true);
    expect(new PartitionPacer(0.1).parts(batch).length).toBe(40);
    expect(pacer.parts({ ...batch, messages: messages.slice(0, 15) })).toHaveLength(1);
  });
});
