import { afterEach, describe, expect, it } from 'vitest';
import { createControllerWorld, type ControllerWorld } from '../testing/index.ts';

/** A Kafka outage past the deadline, driven for real (the driver's timer) on the in-memory log. */
let world: ControllerWorld;
afterEach(async () => {
  world.log.down = false;
  await world?.stop();
});

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 8_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Kafka outage', () => {
  it('FAILs the job at once in the API naming Kafka, writes the record once Kafka is back, and then resume continues it', async () => {
    world = createControllerWorld({ service: { kafkaDeadlineMs: 150, kafkaBrokers: 'fake-kafka:9092' } });
    await world.start();
    const job = await world.service.create({ source: { apiKey: 'k', index: 'docs-index' }, target: { address: 'fake:19530', collection: 'docs' } });
    // Owned by this controller once the ownership group assigned it the partition.
    await until(
      async () => world.service.board.jobs.get(job.id)!.status,
      (s) => s === 'IN_PROGRESS',
    );
    const downAt = Date.now();
    world.log.down = true;
    const failed = await until(
      () => world.service.get(job.id),
      (v) => v.status === 'FAILED',
    );
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(150);
    expect(failed.error).toMatchObject({
      code: 'LOG_UNAVAILABLE',
      at: 'kafka',
      message: expect.stringMatching(/^Kafka \(fake-kafka:9092\) stayed unreachable for \d+ s \(\d+ attempts\): .*P2M_KAFKA_DEADLINE_MS=150 ms/),
    });
    // The record saying so is not written while Kafka is down.
    expect(world.service.board.jobs.get(job.id)!.status).toBe('IN_PROGRESS');

    world.log.down = false;
    await until(
      async () => world.service.board.jobs.get(job.id)!.status,
      (s) => s === 'FAILED',
    );
    const resumed = await world.service.resume(job.id);
    expect(resumed).toMatchObject({ status: 'IN_PROGRESS', generation: 2, error: undefined });
  });

  it('a Kafka restart shorter than the deadline fails nothing', async () => {
    world = createControllerWorld({ service: { kafkaDeadlineMs: 2_000 } });
    await world.start();
    const job = await world.service.create({ source: { apiKey: 'k', index: 'docs-index' }, target: { address: 'fake:19530', collection: 'docs' } });
    world.log.down = true;
    await new Promise((r) => setTimeout(r, 300));
    world.log.down = false;
    await new Promise((r) => setTimeout(r, 100));
    expect((await world.service.get(job.id)).status).toBe('IN_PROGRESS');
  });
});
