import { describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { KafkaLogAdmin } from './admin.ts';

/** A KafkaJS stand-in that counts the admin clients made and which of them are still connected. */
function fakeKafka() {
  const admins: { connected: boolean }[] = [];
  const kafka = {
    admin: () => {
      const state = { connected: false };
      admins.push(state);
      return {
        connect: async () => void (state.connected = true),
        disconnect: async () => void (state.connected = false),
        listTopics: async () => ['t'],
      };
    },
  } as unknown as Kafka;
  return { kafka, admins };
}

describe('KafkaLogAdmin', () => {
  it('connects again after close(): components share it and take turns', async () => {
    const { kafka, admins } = fakeKafka();
    const admin = new KafkaLogAdmin(kafka);
    expect(await admin.topicExists('t')).toBe(true);
    await admin.close();
    expect(await admin.topicExists('t')).toBe(true);
    expect(admins.map((a) => a.connected)).toEqual([false, true]);
  });

  it('after shutDown() a late call is refused instead of opening a connection nobody closes', async () => {
    const { kafka, admins } = fakeKafka();
    const admin = new KafkaLogAdmin(kafka);
    await admin.topicExists('t');
    await admin.shutDown();
    await expect(admin.topicOffsets('t')).rejects.toMatchObject({ code: 'INTERNAL', retriable: false, message: expect.stringMatching(/shut down/) });
    expect(admins).toHaveLength(1);
    expect(admins[0]!.connected).toBe(false);
  });
});
