// A KafkaJS client keeps every topic it has touched in its metadata requests; once another client
// deletes one of them, each of those requests fails with UNKNOWN_TOPIC_OR_PARTITION, whatever
// topic the call is about. A controller that had measured job A's topic then failed job B as
// "Kafka unreachable" after its deadline, when another controller (or a user) deleted A's topic.
// Here, against the real broker, the admin and a producer of one client go on working after
// another client deleted a topic they had used.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetriable, retry } from '@p2m/core';
import { createKafka, type KafkaClient } from '@p2m/kafka';
import { getTestStack } from './stack.ts';

describe('a topic deleted by another client does not poison this one (real broker)', () => {
  let ours: KafkaClient;
  let theirs: KafkaClient;
  const stamp = Date.now();
  const doomed = `p2m.test.deleted.${stamp}.a`;
  const living = `p2m.test.deleted.${stamp}.b`;

  beforeAll(async () => {
    const { kafka } = getTestStack();
    ours = createKafka({ brokers: kafka.brokers, clientId: 'p2m-test-ours', logLevel: 'silent' });
    theirs = createKafka({ brokers: kafka.brokers, clientId: 'p2m-test-theirs', logLevel: 'silent' });
    for (const topic of [doomed, living]) await theirs.admin().ensureTopic({ topic, partitions: 2, retentionMs: -1 });
  });

  afterAll(async () => {
    for (const topic of [doomed, living])
      await theirs
        ?.admin()
        .deleteTopic(topic)
        .catch(() => undefined);
    await ours?.close();
    await theirs?.close();
  });

  it('reads offsets of other topics and produces to them after the deletion', async () => {
    const producer = ours.producer();
    try {
      // Touch the doomed topic through our admin and our producer.
      await producer.send(doomed, [{ key: 'k', value: Buffer.from('v') }]);
      expect((await ours.admin().topicOffsets(doomed)).map((p) => p.partition)).toEqual([0, 1]);

      await theirs.admin().deleteTopic(doomed);
      expect(await theirs.admin().topicExists(doomed)).toBe(false);

      // Our admin: one call, no retry of ours around it.
      const offsets = await ours.admin().topicOffsets(living);
      expect(offsets.map((p) => p.partition)).toEqual([0, 1]);
      expect(ours.admin().replacedAdmins).toBe(1);
      // And the next calls go to the fresh admin straight away.
      expect((await ours.admin().groupOffsets(`p2m.test.deleted.${stamp}.group`, living)).map((p) => p.offset)).toEqual(['-1', '-1']);
      expect(ours.admin().replacedAdmins).toBe(1);

      // A missing topic is still reported as missing, and that alone replaces no admin (the
      // controller measures a job whose topic was deleted on every tick).
      for (let i = 0; i < 2; i++) await expect(ours.admin().topicOffsets(doomed)).rejects.toThrow(/does not host this topic-partition|UNKNOWN_TOPIC/i);
      expect(ours.admin().replacedAdmins).toBe(1);

      // Our producer: a send may fail once (it then drops its KafkaJS producer); the caller's retry,
      // as the extractor makes it, gets through.
      let attempts = 0;
      await retry(
        async () => {
          attempts += 1;
          await producer.send(living, [{ key: 'k', value: Buffer.from('after') }]);
        },
        { retries: 2, initialDelayMs: 10, maxDelayMs: 50, shouldRetry: isRetriable },
      );
      expect(attempts).toBeLessThanOrEqual(2);
      const after = await ours.admin().topicOffsets(living);
      expect(after.reduce((sum, p) => sum + Number(p.high), 0)).toBe(1);
    } finally {
      await producer.close();
    }
  }, 120_000);
});
