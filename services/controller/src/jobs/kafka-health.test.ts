import { describe, expect, it } from 'vitest';
import { createLogger, EtlError, type LogAdmin } from '@p2m/core';
import { KafkaHealth } from './kafka-health.ts';

const logger = createLogger('test', { level: 'silent' });

/** An admin whose `topicOffsets` answers or fails when the test says so. */
function controlledAdmin() {
  const calls: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  const admin = {
    topicOffsets: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })),
  } as unknown as LogAdmin;
  return { admin, calls };
}

describe('KafkaHealth', () => {
  it('remembers since when Kafka does not answer, and forgets it when it does', async () => {
    const { admin, calls } = controlledAdmin();
    const health = new KafkaHealth(logger);
    let probe = health.probe(admin, () => 1_000);
    calls[0]!.reject(new EtlError('LOG_UNAVAILABLE', 'connection refused'));
    await probe;
    expect(health.down).toMatchObject({ since: 1_000, attempts: 1 });
    probe = health.probe(admin, () => 5_000);
    calls[1]!.resolve();
    await probe;
    expect(health.down).toBeNull();
  });

  it('a write that reached Kafka marks it up, and a probe sent before that which fails later does not mark it down again', async () => {
    const { admin, calls } = controlledAdmin();
    const health = new KafkaHealth(logger);
    let t = 1_000;
    const first = health.probe(admin, () => t);
    calls[0]!.reject(new Error('ECONNREFUSED'));
    await first;
    expect(health.down?.since).toBe(1_000);
    // A probe hangs on the reconnect while Kafka comes back and an outage's FAILED record is written.
    t = 40_000;
    const hanging = health.probe(admin, () => t);
    health.answered(45_000);
    expect(health.down).toBeNull();
    calls[1]!.reject(new Error('the old connection attempt failed'));
    await hanging;
    expect(health.down).toBeNull();
  });
});
