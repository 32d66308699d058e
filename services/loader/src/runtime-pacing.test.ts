import { describe, expect, it } from 'vitest';
import { decodeCounts } from './runtime.ts';
import { batch, options, RecordingWriter, runUntil, ScriptedConsumer } from './runtime.fixture.ts';

describe('runLoader pacing', () => {
  it('pacing slows runLoader to the configured rate per partition', async () => {
    const events: string[] = [];
    const consumer = new ScriptedConsumer([(h) => h(batch(0, 4)), (h) => h(batch(4, 4))], events);
    const started = performance.now();
    await runUntil(
      (signal) => options(consumer, new RecordingWriter(events), signal, { partitionRecordsPerSecond: 20 }),
      () => consumer.committed.some((o) => o.offset === '8'),
    );
    // The second batch waited for the first one's 200 ms (a lower bound, not a timing target).
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(events.filter((e) => e.startsWith('write'))).toEqual(['write r0,r1,r2,r3', 'write r4,r5,r6,r7']);
  });

  it('a fetched batch larger than a second of budget is written and committed a second at a time, counts carried across the parts', async () => {
    const events: string[] = [];
    const consumer = new ScriptedConsumer([(h) => h(batch(0, 10))], events);
    await runUntil(
      (signal) => options(consumer, new RecordingWriter(events), signal, { partitionRecordsPerSecond: 40 }),
      () => consumer.committed.some((o) => o.offset === '10'),
    );
    expect(events.filter((e) => e.startsWith('write'))).toEqual(['write r0,r1,r2,r3,r4,r5,r6,r7,r8,r9']);
    const fine = new ScriptedConsumer([(h) => h(batch(0, 10))], []);
    const writes: string[] = [];
    await runUntil(
      (signal) => options(fine, new RecordingWriter(writes), signal, { partitionRecordsPerSecond: 5 }),
      () => fine.committed.some((o) => o.offset === '10'),
    );
    expect(writes.filter((e) => e.startsWith('write'))).toEqual(['write r0,r1,r2,r3,r4', 'write r5,r6,r7,r8,r9']);
    expect(fine.committed.map((o) => o.offset)).toEqual(['5', '10']);
    expect(decodeCounts(fine.committed.at(-1)!.metadata)).toMatchObject({ loaded: 10, failed: 0 });
    expect(decodeCounts(fine.committed[0]!.metadata)).toMatchObject({ loaded: 5 });
  }, 10_000);
});
