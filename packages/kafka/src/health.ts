import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { EtlError, errorMessage } from '@p2m/core';

/** Topic used only by health checks; created explicitly (the stack does not rely on auto-create). */
export const HEALTH_TOPIC = 'p2m.health';

/**
 * Proves a broker works end to end, not just that a port answers: creates `p2m.health` if
 * needed, produces one unique message and reads it back through a throwaway consumer group.
 * Throws a retriable `EtlError('STACK')` when any step fails or `timeoutMs` passes.
 */
export async function checkKafkaHealth(brokers: string[], timeoutMs = 20_000): Promise<void> {
  const kafka = new Kafka({
    clientId: 'p2m-health',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(3_000, timeoutMs),
    requestTimeout: timeoutMs,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const groupId = `p2m.health.${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 100,
    retry: { retries: 2 },
  });
  const token = randomUUID();
  let timer: NodeJS.Timeout | undefined;
  let adminConnected = false;

  const roundTrip = async (): Promise<void> => {
    await admin.connect();
    adminConnected = true;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: HEALTH_TOPIC, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: String(3_600_000) }] }],
    });
    await producer.connect();
    const [sent] = await producer.send({ topic: HEALTH_TOPIC, acks: -1, messages: [{ key: 'health', value: token }] });
    if (!sent) throw new Error('the broker did not acknowledge the health message');
    await consumer.connect();
    await consumer.subscribe({ topics: [HEALTH_TOPIC], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.value?.toString() === token) resolve();
          },
        })
        .then(() => consumer.seek({ topic: HEALTH_TOPIC, partition: sent.partition, offset: sent.baseOffset ?? '0' }))
        .catch(reject);
    });
  };

  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([roundTrip(), deadline]);
  } catch (err) {
    throw new EtlError('STACK', `Kafka at ${brokers.join(',')} failed a produce/consume round trip: ${errorMessage(err)}`, {
      retriable: true,
      cause: err,
      hint: 'check that the broker is running ("npx p2m stack status") and that P2M_KAFKA_BROKERS points at it',
    });
  } finally {
    clearTimeout(timer);
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    if (adminConnected) {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  }
}
