// 10,000 records through the schema registry and a real topic, consumed back field for field;
// the broker is SIGKILLed and restarted mid-stream, then a loader-like member "crashes" with a
// batch handled but not committed, and a new member resumes from the committed offsets.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetriable, recordKey, retry, type ConsumerBatch, type LogRecord, type VectorRecord } from '@p2m/core';
import { createKafka, createRegistryCodec, type KafkaClient, type RegistryCodec } from '@p2m/kafka';
import { getTestStack, killComponent, startComponent } from './stack.ts';

const N = 10_000;
const PARTITIONS = 6;
const DIM = 96;
const NAMESPACES = ['', 'docs-ü', 'sparse'];
const PAGE = 250;

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRecord(i: number, random: () => number): VectorRecord {
  const namespace = NAMESPACES[i % NAMESPACES.length]!;
  const sparseOnly = namespace === 'sparse';
  const values = sparseOnly ? null : new Float32Array(DIM).map(() => Math.fround(random() * 2 - 1));
  const hasSparse = sparseOnly || i % 5 === 0;
  const indices = new Set<number>([4294967295, 0]);
  while (indices.size < 12) indices.add(Math.floor(random() * 4294967296));
  return {
    kind: 'vector',
    namespace,
    id: i % 1000 === 7 ? `long-${i}-`.padEnd(512, 'x') : `rec-${i}`,
    values,
    sparse: hasSparse ? { indices: [...indices].sort((a, b) => a - b), values: new Float32Array(12).map(() => Math.fround(random())) } : null,
    metadata:
      i % 11 === 0
        ? null
        : {
            title: `Titre n°${i} ✓`,
            year: 1900 + (i % 120),
            score: random(),
            big: 2 ** 40 + i,
            flag: i % 2 === 0,
            tags: i % 3 === 0 ? [] : ['a', `t${i % 7}`],
            neg: -i,
          },
  };
}

const bytes = (a: Float32Array | null | undefined): Buffer | null => (a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : null);

/** Field by field, vectors bit for bit. */
function sameRecord(a: LogRecord, b: LogRecord): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'end' || b.kind === 'end') return isDeepStrictEqual(a, b);
  return (
    a.namespace === b.namespace &&
    a.id === b.id &&
    isDeepStrictEqual(bytes(a.values), bytes(b.values)) &&
    isDeepStrictEqual(a.sparse?.indices ?? null, b.sparse?.indices ?? null) &&
    isDeepStrictEqual(bytes(a.sparse?.values), bytes(b.sparse?.values)) &&
    isDeepStrictEqual(a.metadata, b.metadata)
  );
}

const keyOf = (r: LogRecord): string => (r.kind === 'vector' ? recordKey(r.namespace, r.id) : `end\u0000${r.namespace}`);

describe('Kafka adapter + schema registry round trip (real broker, broker killed mid-stream)', () => {
  let kafka: KafkaClient;
  let codec: RegistryCodec<LogRecord>;
  const topic = `p2m.test.roundtrip.${Date.now()}`;
  const group = `p2m.test.roundtrip.${Date.now()}.loader`;
  const random = rng(20261125);
  const records = Array.from({ length: N }, (_, i) => makeRecord(i, random));
  const expected = new Map<string, LogRecord>(records.map((r) => [keyOf(r), r]));
  const ends: LogRecord[] = NAMESPACES.map((ns) => ({ kind: 'end', namespace: ns, count: records.filter((r) => r.namespace === ns).length }));
  for (const e of ends) expected.set(keyOf(e), e);

  beforeAll(async () => {
    const stack = getTestStack();
    kafka = createKafka({ brokers: stack.kafka.brokers, clientId: 'p2m-test-roundtrip', logLevel: 'error' });
    expect(await kafka.admin().ensureTopic({ topic, partitions: PARTITIONS, retentionMs: -1 })).toBe(true);
    expect(await kafka.admin().ensureTopic({ topic, partitions: PARTITIONS, retentionMs: -1 })).toBe(false);
    codec = await createRegistryCodec({ url: stack.registry.url, topic });
  });

  afterAll(async () => {
    await kafka
      ?.admin()
      .deleteTopic(topic)
      .catch(() => undefined);
    await kafka?.close();
  });

  it('every record comes back equal; a broker restart and a member crash lose nothing', async () => {
    const producer = kafka.producer();
    const publish = async (page: LogRecord[]): Promise<void> => {
      const messages = page.map((r) => ({ key: keyOf(r), value: codec.encode(r) }));
      await retry(() => producer.send(topic, messages), { retries: Infinity, deadlineMs: 180_000, maxDelayMs: 2_000 });
    };
    const pages: LogRecord[][] = [];
    for (let i = 0; i < N; i += PAGE) pages.push(records.slice(i, i + PAGE));

    // First half before anyone consumes; the rest while the consumer runs and the broker restarts.
    for (const page of pages.slice(0, pages.length / 2)) await publish(page);
    const producing = (async () => {
      for (const page of pages.slice(pages.length / 2)) await publish(page);
      await publish(ends);
    })();
    producing.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled

    const consumed = new Set<string>();
    const mismatches: string[] = [];
    const delivered = new Map<string, number>(); // partition/offset → deliveries
    const committed = new Map<number, bigint>(); // partition → last acknowledged commit
    const badDuplicates: string[] = [];
    let duplicates = 0;
    // Set from inside the handler (an object, so the type checker does not narrow it to null).
    const kill: { restart: Promise<void> | null; consumedAt: number } = { restart: null, consumedAt: 0 };
    const assignments: number[] = [];

    const handle =
      (member: string, crashAt: number | null, stopMember: () => Promise<void>) =>
      async (batch: ConsumerBatch): Promise<void> => {
        if (batch.isStale()) return;
        const decoded = await codec.decodeMany(batch.messages.map((m) => m.value!));
        batch.messages.forEach((m, i) => {
          const where = `${m.partition}/${m.offset}`;
          const seen = delivered.get(where) ?? 0;
          delivered.set(where, seen + 1);
          if (seen > 0) {
            duplicates++;
            const c = committed.get(m.partition) ?? 0n;
            if (BigInt(m.offset) < c) badDuplicates.push(`${member}: ${where} delivered again below the committed offset ${c}`);
          }
          const r = decoded[i]!;
          const want = expected.get(keyOf(r));
          if (!want || !sameRecord(r, want)) mismatches.push(`${where} ${keyOf(r)}`);
          consumed.add(keyOf(r));
        });
        if (kill.restart === null && consumed.size >= N * 0.3) {
          kill.consumedAt = consumed.size;
          kill.restart = (async () => {
            await killComponent('kafka', 'SIGKILL');
            await startComponent('kafka');
          })();
        }
        if (crashAt !== null && consumed.size >= crashAt) {
          // Handled but never committed: this batch is the uncommitted tail the next member re-reads.
          void stopMember();
          return;
        }
        const last = batch.messages[batch.messages.length - 1]!;
        const next = BigInt(last.offset) + 1n;
        try {
          await retry(
            () =>
              consumerCommit(batch.topic, [
                { partition: batch.partition, offset: next.toString(), metadata: JSON.stringify({ member, consumed: consumed.size }) },
              ]),
            { retries: Infinity, deadlineMs: 120_000, maxDelayMs: 2_000, shouldRetry: (err) => isRetriable(err) && !batch.isStale() },
          );
          committed.set(batch.partition, next);
        } catch (err) {
          if (!batch.isStale()) throw err;
        }
      };

    // Member A: rides out the broker restart, then crashes with an uncommitted batch at 70%.
    let consumerCommit: (topic: string, offsets: { partition: number; offset: string; metadata?: string | null }[]) => Promise<void>;
    const a = kafka.consumer({ groupId: group, topics: [topic], fromBeginning: true, onAssignment: () => assignments.push(Date.now()) });
    consumerCommit = (t, o) => a.commit(t, o);
    await a.run(handle('A', N * 0.7, () => a.stop()));
    expect(kill.restart).not.toBeNull();
    await kill.restart;
    expect(kill.consumedAt).toBeLessThan(N);

    // Member B starts exactly at the group's committed offsets.
    const committedAtCrash = await kafka.admin().groupOffsets(group, topic);
    const firstSeenByB = new Map<number, string>();
    const b = kafka.consumer({ groupId: group, topics: [topic], fromBeginning: true });
    consumerCommit = (t, o) => b.commit(t, o);
    const handleB = handle('B', null, () => b.stop());
    const runB = b.run(async (batch) => {
      if (!firstSeenByB.has(batch.partition)) firstSeenByB.set(batch.partition, batch.messages[0]!.offset);
      await handleB(batch);
    });

    await producing;
    await producer.close();
    const highs = await kafka.admin().topicOffsets(topic);
    await retry(
      async () => {
        const done = highs.every((h) => (committed.get(h.partition) ?? 0n) >= BigInt(h.high));
        if (!done) throw Object.assign(new Error(`not yet: ${consumed.size}/${expected.size} consumed`), { retriable: true });
      },
      { retries: Infinity, deadlineMs: 180_000, initialDelayMs: 200, maxDelayMs: 1_000, shouldRetry: () => true },
    );
    await b.stop();
    await runB;

    expect(mismatches).toEqual([]);
    expect(consumed.size).toBe(expected.size);
    expect([...expected.keys()].filter((k) => !consumed.has(k))).toEqual([]);
    expect(badDuplicates).toEqual([]);
    for (const c of committedAtCrash) {
      const first = firstSeenByB.get(c.partition);
      const start = c.offset === '-1' ? '0' : c.offset;
      if (first !== undefined) expect(first, `member B starts partition ${c.partition} at the committed offset`).toBe(start);
    }
    // The crash left at least one batch uncommitted, and B read it again.
    expect(duplicates).toBeGreaterThan(0);

    const final = await kafka.admin().groupOffsets(group, topic);
    expect(final.map((p) => p.offset)).toEqual(highs.map((h) => h.high));
    for (const p of final) expect(JSON.parse(p.metadata ?? 'null')).toMatchObject({ member: expect.any(String) });
    expect(assignments.length).toBeGreaterThanOrEqual(1);
    process.stderr.write(
      `[kafka-roundtrip] ${expected.size} messages; broker killed at ${kill.consumedAt} consumed; member A joined ${assignments.length}×; ${duplicates} re-deliveries, all in the uncommitted tail\n`,
    );
  });
});
