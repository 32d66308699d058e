import { describe, expect, it } from 'vitest';
import type { ConsumerBatch } from '@p2m/core';
import { InMemoryLog } from './log.ts';
import { murmur2 } from './topics.ts';

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe('InMemoryLog', () => {
  it("partitions by Kafka's murmur2 of the key (Kafka's own test vectors)", async () => {
    expect([murmur2(Buffer.from('21')), murmur2(Buffer.from('foobar')), murmur2(Buffer.from('a-little-bit-long-string'))]).toEqual([
      -973932308, -790332482, -985981536,
    ]);
    const log = new InMemoryLog();
    await log.admin().ensureTopic({ topic: 't', partitions: 4 });
    await log.producer().send('t', [
      { key: 'foobar', value: Buffer.from('a') },
      { key: 'foobar', value: Buffer.from('b') },
      { key: null, value: Buffer.from('c'), partition: 3 },
    ]);
    const partition = (-790332482 & 0x7fffffff) % 4;
    const offsets = await log.admin().topicOffsets('t');
    expect(offsets.find((o) => o.partition === partition)?.high).toBe('2');
    expect(offsets.find((o) => o.partition === 3)?.high).toBe(partition === 3 ? '3' : '1');
  });

  it('refuses to produce to a missing topic and fails retriably while down', async () => {
    const log = new InMemoryLog();
    await expect(log.producer().send('nope', [{ key: 'k', value: null }])).rejects.toMatchObject({ code: 'INTERNAL', retriable: false });
    log.down = true;
    await expect(log.admin().topicExists('nope')).rejects.toMatchObject({ code: 'LOG_UNAVAILABLE', retriable: true });
  });

  it('deals partitions among group members, keeps commits with metadata, and redelivers what was not committed after a rebalance', async () => {
    const log = new InMemoryLog();
    const admin = log.admin();
    await admin.ensureTopic({ topic: 't', partitions: 2 });
    await log.producer().send(
      't',
      [0, 1, 2, 3].map((i) => ({ key: null, value: Buffer.from(`m${i}`), partition: i % 2 })),
    );
    const seenA: string[] = [];
    const a = log.consumer({ groupId: 'g', topics: ['t'], fromBeginning: true });
    const runA = a.run(async (b: ConsumerBatch) => {
      seenA.push(...b.messages.map((m) => m.value!.toString()));
      if (b.partition === 0) await a.commit('t', [{ partition: 0, offset: String(Number(b.messages.at(-1)!.offset) + 1), metadata: '{"l":2}' }]);
    });
    await until(() => seenA.length === 4);
    expect(await admin.groupMemberCount('g')).toBe(1);
    expect(await admin.groupOffsets('g', 't')).toEqual([
      { partition: 0, offset: '2', metadata: '{"l":2}' },
      { partition: 1, offset: '-1', metadata: null },
    ]);
    // A second member takes partition 1, which nobody committed: it reads it again from the start.
    const seenB: string[] = [];
    const assigned: number[][] = [];
    const b = log.consumer({ groupId: 'g', topics: ['t'], fromBeginning: true, onAssignment: (p) => assigned.push(p.map((x) => x.partition)) });
    const runB = b.run(async (batch) => void seenB.push(...batch.messages.map((m) => m.value!.toString())));
    await until(() => seenB.length === 2);
    expect(assigned).toEqual([[1]]);
    expect(seenB).toEqual(['m1', 'm3']);
    await Promise.all([a.stop(), b.stop()]);
    await Promise.all([runA, runB]);
    expect(await admin.groupMemberCount('g')).toBe(0);
    await admin.resetGroupOffsets('g', 't');
    expect((await admin.groupOffsets('g', 't')).map((o) => o.offset)).toEqual(['0', '0']);
  });

  it('a handler that throws stops the consumer and run rejects with it', async () => {
    const log = new InMemoryLog();
    await log.admin().ensureTopic({ topic: 't', partitions: 1 });
    await log.producer().send('t', [{ key: 'k', value: Buffer.from('x') }]);
    const c = log.consumer({ groupId: 'g', topics: ['t'], fromBeginning: true });
    await expect(c.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await log.admin().groupMemberCount('g')).toBe(0);
  });

  it('tails a topic live, reads it to its end, and stops', async () => {
    const log = new InMemoryLog();
    await log.admin().ensureTopic({ topic: 's', partitions: 2, compacted: true });
    const producer = log.producer();
    await producer.send('s', [{ key: 'a', value: Buffer.from('1') }]);
    const seen: string[] = [];
    const tail = await log.tail('s', (m) => void seen.push(m.value!.toString()));
    expect(seen).toEqual(['1']);
    await producer.send('s', [{ key: 'b', value: Buffer.from('2') }]);
    await until(() => seen.length === 2);
    await tail.stop();
    await producer.send('s', [{ key: 'c', value: Buffer.from('3') }]);
    expect((await log.readTopicToEnd('s')).map((m) => m.value!.toString()).sort()).toEqual(['1', '2', '3']);
    expect(seen).toEqual(['1', '2']);
  });
});
