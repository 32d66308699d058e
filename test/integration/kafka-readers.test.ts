// The Kafka adapter's admin and non-committing readers against a real broker: what the controller
// uses to rebuild state from the compacted topics and to follow them.
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtlError, type IncomingMessage } from '@p2m/core';
import { createKafka, type KafkaClient } from '@p2m/kafka';
import { getTestStack } from './stack.ts';

const stamp = Date.now();
const topic = `p2m.test.readers.${stamp}`;
const group = `p2m.test.readers.${stamp}.group`;

/** Sets a topic's settings as a user with Kafka's own tools would (AlterConfigs: the whole set). */
async function kafkaAlter(topicName: string, config: Record<string, string>): Promise<void> {
  const admin = new kafkajs.Kafka({ brokers: getTestStack().kafka.brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: kafkajs.ConfigResourceTypes.TOPIC, name: topicName, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

async function eventually(check: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Kafka admin and readers (real broker)', () => {
  let kafka: KafkaClient;

  beforeAll(async () => {
    kafka = createKafka({ brokers: getTestStack().kafka.brokers, clientId: 'p2m-test-readers', logLevel: 'error' });
    expect(await kafka.admin().ensureTopic({ topic, partitions: 3, compacted: true })).toBe(true);
  });

  afterAll(async () => {
    await kafka
      .admin()
      .deleteTopic(topic)
      .catch(() => undefined);
    await kafka.close();
  });

  it('reads a topic to its current end without committing, then follows it live', async () => {
    const producer = kafka.producer();
    const first = Array.from({ length: 30 }, (_, i) => ({ key: `job-${i % 10}`, value: Buffer.from(JSON.stringify({ v: i })), headers: { kind: 'state' } }));
    await producer.send(topic, first);

    const snapshot = await kafka.readTopicToEnd(topic);
    expect(snapshot).toHaveLength(30);
    expect(snapshot[0]!.headers).toEqual({ kind: 'state' });
    // Per key, the order of writes is kept (one key, one partition).
    const lastByKey = new Map(snapshot.map((m) => [m.key!.toString(), JSON.parse(m.value!.toString()) as { v: number }]));
    expect(lastByKey.get('job-3')).toEqual({ v: 23 });

    // The tail resolves once it has read the topic as it was at the call: a process rebuilds its
    // state with it in one read.
    const followed: IncomingMessage[] = [];
    const tail = await kafka.tail(topic, (m) => void followed.push(m));
    expect(followed).toHaveLength(30);
    await producer.send(topic, [{ key: 'job-3', value: Buffer.from(JSON.stringify({ v: 99 })) }]);
    await eventually(() => followed.length === 31);
    expect(JSON.parse(followed[30]!.value!.toString())).toEqual({ v: 99 });
    await tail.stop();

    // scanToEnd stops at the high watermarks of the moment of the call.
    let scanned = 0;
    await kafka.scanToEnd(topic, () => void scanned++);
    expect(scanned).toBe(31);
    await producer.close();
  });

  it('commits with metadata, reports group offsets and members, resets a stopped group to the start', async () => {
    const admin = kafka.admin();
    const consumer = kafka.consumer({ groupId: group, topics: [topic], fromBeginning: true });
    let seen = 0;
    const running = consumer.run(async (batch) => {
      seen += batch.messages.length;
      const next = (BigInt(batch.messages[batch.messages.length - 1]!.offset) + 1n).toString();
      await consumer.commit(batch.topic, [{ partition: batch.partition, offset: next, metadata: JSON.stringify({ upTo: next }) }]);
    });
    await eventually(() => seen >= 31);
    expect(await admin.groupMemberCount(group)).toBe(1);
    await expect(admin.resetGroupOffsets(group, topic)).rejects.toMatchObject({ code: 'JOB_STATE', retriable: false });
    await consumer.stop();
    await running;
    expect(await admin.groupMemberCount(group)).toBe(0);

    const highs = await admin.topicOffsets(topic);
    const committed = await admin.groupOffsets(group, topic);
    expect(committed.map((c) => c.offset)).toEqual(highs.map((h) => h.high));
    for (const c of committed) if (c.offset !== '0') expect(JSON.parse(c.metadata!)).toEqual({ upTo: c.offset });

    await admin.resetGroupOffsets(group, topic);
    expect((await admin.groupOffsets(group, topic)).map((c) => c.offset)).toEqual(highs.map((h) => h.low));
  });

  it('a topic made with a raised max.message.bytes (the jobs topic) takes and gives back a 3 MB message; an existing topic is raised too', async () => {
    const big = `p2m.test.readers.big.${stamp}`;
    try {
      // Made with Kafka's default first, as an earlier version made p2m.jobs: ensureTopic raises it,
      // keeping it compacted (Kafka's AlterConfigs replaces all of a topic's settings).
      expect(await kafka.admin().ensureTopic({ topic: big, partitions: 1, compacted: true })).toBe(true);
      expect(await kafka.admin().ensureTopic({ topic: big, partitions: 1, compacted: true, maxMessageBytes: 8 * 1024 * 1024 })).toBe(false);
      expect(Object.fromEntries(await kafka.admin().topicConfig(big))).toEqual({ 'cleanup.policy': 'compact', 'max.message.bytes': String(8 * 1024 * 1024) });
      const value = randomBytes(3 * 1024 * 1024);
      const producer = kafka.producer();
      await producer.send(big, [{ key: 'job-big', value }]);
      await producer.close();
      const read = await kafka.readTopicToEnd(big);
      expect(read).toHaveLength(1);
      expect(read[0]!.value!.equals(value)).toBe(true);
    } finally {
      await kafka
        .admin()
        .deleteTopic(big)
        .catch(() => undefined);
    }
  });

  it("brings an existing state topic to p2m's settings and keeps the topic's own: compaction a raise had removed, segment.ms", async () => {
    const state = `p2m.test.readers.state.${stamp}`;
    const admin = kafka.admin();
    try {
      // As p2m.jobs was left by an earlier version: max.message.bytes raised, cleanup.policy lost; plus a setting of the user's.
      expect(await admin.ensureTopic({ topic: state, partitions: 1, maxMessageBytes: 4 * 1024 * 1024 })).toBe(true);
      await kafkaAlter(state, { 'max.message.bytes': String(4 * 1024 * 1024), 'min.cleanable.dirty.ratio': '0.3' });
      expect(await admin.ensureTopic({ topic: state, partitions: 1, compacted: true, segmentMs: 900_000, maxMessageBytes: 2 * 1024 * 1024 })).toBe(false);
      expect(Object.fromEntries(await admin.topicConfig(state))).toEqual({
        'cleanup.policy': 'compact',
        'segment.ms': '900000',
        'max.message.bytes': String(4 * 1024 * 1024), // only ever raised
        'min.cleanable.dirty.ratio': '0.3',
      });
      // Nothing to change: nothing is written (a second call is a no-op).
      expect(await admin.ensureTopic({ topic: state, partitions: 1, compacted: true, segmentMs: 900_000 })).toBe(false);
      expect((await admin.topicConfig(state)).get('cleanup.policy')).toBe('compact');
    } finally {
      await admin.deleteTopic(state).catch(() => undefined);
    }
  });

  it('fails fast and clearly on a topic that does not exist', async () => {
    const missing = `p2m.test.missing.${stamp}`;
    expect(await kafka.admin().topicExists(missing)).toBe(false);
    await expect(kafka.readTopicToEnd(missing)).rejects.toMatchObject({ retriable: false, message: expect.stringContaining('does not exist') });
    await expect(kafka.producer().send(missing, [{ key: 'a', value: null }])).rejects.toBeInstanceOf(EtlError);
    await kafka.admin().deleteTopic(missing); // deleting a missing topic is not an error
  });
});
