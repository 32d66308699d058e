import { describe, expect, it } from 'vitest';
import { EtlError, recordKey } from '@p2m/core';
import type { Checkpoint, MemoryCheckpointStore } from './checkpoints.ts';
import { runExtraction } from './runtime.ts';
import { ArrayProducer, checkpointsWithEvents, setup, vectorIds } from './runtime.fixture.ts';

// Publishing, checkpoints, crash and resume: a page may be published twice, never skipped.
describe('runExtraction', () => {
  it('publishes every id exactly once, keyed by namespace + id, with values and metadata', async () => {
    const { source, producer, base, progress } = setup();
    const a = source.add('', 25);
    const b = source.add('books', 7, 'b');
    const result = await runExtraction(base());

    expect(vectorIds(producer, '')).toEqual(a);
    expect(vectorIds(producer, 'books')).toEqual(b);
    const first = producer.records().find((m) => m.record.kind === 'vector' && m.record.id === 'id-0003')!;
    expect(first.key).toBe(recordKey('', 'id-0003'));
    expect(first.partition).toBeUndefined(); // records go where their key hashes
    expect(first.record).toMatchObject({ kind: 'vector', namespace: '', values: { f32: [3, 3.5] }, sparse: null, metadata: { n: 3 } });
    expect(result).toEqual({
      aborted: false,
      namespaces: [
        { namespace: '', recordsPublished: 25, pages: 3, vanished: 0, done: true },
        { namespace: 'books', recordsPublished: 7, pages: 1, vanished: 0, done: true },
      ],
      writes: { records: expect.any(Number), checkpoints: expect.any(Number) },
    });
    expect(progress.filter(([ns]) => ns === '').map(([, n, d]) => [n, d])).toEqual([
      [0, false],
      [10, false],
      [20, false],
      [25, true],
    ]);
    // list pages of 10, fetch chunks of 4: 3 chunks per full page
    expect(source.calls.fetch).toBe(3 + 3 + 2 + 2);
  });

  it('publishes the end-of-namespace marker on every partition with the last page, then checkpoints done', async () => {
    const { source, producer, checkpoints, base, events } = setup({ partitions: 4 });
    source.add('ns', 12);
    await runExtraction(base());
    const ends = producer.records().filter((m) => m.record.kind === 'end');
    expect(ends.map((m) => m.partition)).toEqual([0, 1, 2, 3]);
    expect(ends.every((m) => m.record.kind === 'end' && m.record.namespace === 'ns' && m.record.count === 12)).toBe(true);
    // the last page's 2 records and the 4 markers in one send, records first
    expect(events.slice(-2)).toEqual(['ack 6', 'checkpoint ns pages=2 done']);
    expect(producer.sent.at(-1)!.messages.map((m) => m.partition)).toEqual([undefined, undefined, 0, 1, 2, 3]);
    expect((await checkpoints.load('job1')).get('ns')).toEqual({
      jobId: 'job1',
      namespace: 'ns',
      paginationToken: null,
      recordsPublished: 12,
      pages: 2,
      done: true,
      updatedAt: expect.any(Number),
    });
  });

  it('saves a checkpoint only after the page was acknowledged', async () => {
    const { source, producer, checkpoints, base, events } = setup({ namespaceConcurrency: 1 });
    source.add('ns', 25);
    let release!: () => void;
    producer.gate = new Promise<void>((r) => (release = r));
    const run = runExtraction(base());
    await new Promise((r) => setTimeout(r, 30));
    expect(producer.sends).toBe(1); // the first page is waiting for its ack
    expect(checkpoints.history).toHaveLength(0);
    release();
    await run;
    // every checkpoint follows the ack of its own page
    expect(events).toEqual(['ack 10', 'checkpoint ns pages=1', 'ack 10', 'checkpoint ns pages=2', 'ack 8', 'checkpoint ns pages=3 done']);
  });

  it('after a failed send, a restart re-publishes only from the last checkpoint and counts each page once', async () => {
    const { source, producer, checkpoints, base } = setup({ namespaceConcurrency: 1 });
    const ids = source.add('ns', 35);
    producer.failOn = 3; // pages 1 and 2 acked, page 3 fails
    const err = await runExtraction(base()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).message).toContain('namespace "ns", page 3');
    expect((err as EtlError).details).toMatchObject({ namespace: 'ns', page: 3 });
    expect((await checkpoints.load('job1')).get('ns')).toMatchObject({ pages: 2, paginationToken: ids[19], recordsPublished: 20, done: false });

    const second = new ArrayProducer();
    const result = await runExtraction(base({ producer: second }));
    expect(vectorIds(second)).toEqual(ids.slice(20)); // nothing before the checkpoint, nothing skipped
    expect([...vectorIds(producer), ...vectorIds(second)]).toEqual(ids);
    expect(result.namespaces[0]).toMatchObject({ recordsPublished: 35, pages: 4, done: true });
    expect(
      second
        .records()
        .filter((m) => m.record.kind === 'end')
        .every((m) => m.record.kind === 'end' && m.record.count === 35),
    ).toBe(true);
  });

  it('a page acked but not checkpointed (crash in between) is re-published once and counted once', async () => {
    const events: string[] = [];
    const { source, producer, base } = setup({ namespaceConcurrency: 1 });
    const ids = source.add('ns', 15);
    const store = checkpointsWithEvents(events);
    let saves = 0;
    const crashing = Object.assign(Object.create(store) as MemoryCheckpointStore, {
      save: async (cp: Checkpoint) => {
        if (++saves === 2) throw new EtlError('INTERNAL', 'process died', { retriable: false });
        await store.save(cp);
      },
    });
    await expect(runExtraction(base({ checkpoints: crashing }))).rejects.toThrow('process died');
    expect(vectorIds(producer)).toEqual(ids); // page 2 reached Kafka...
    expect((await store.load('job1')).get('ns')).toMatchObject({ pages: 1, recordsPublished: 10 }); // ...but not the checkpoint

    const second = new ArrayProducer();
    const result = await runExtraction(base({ producer: second, checkpoints: store }));
    expect(vectorIds(second)).toEqual(ids.slice(10)); // page 2 again: at-least-once, never skipped
    expect(result.namespaces[0]).toMatchObject({ recordsPublished: 15, done: true });
  });

  it('skips a namespace already done and finishes one whose listing was complete (markers only)', async () => {
    const { source, producer, base, events } = setup({ partitions: 2 });
    source.add('finished', 5);
    source.add('listed', 5);
    const initial: Checkpoint[] = [
      { jobId: 'job1', namespace: 'finished', paginationToken: null, recordsPublished: 5, pages: 1, done: true },
      { jobId: 'job1', namespace: 'listed', paginationToken: null, recordsPublished: 5, pages: 1, done: false },
    ];
    const result = await runExtraction(base({ checkpoints: checkpointsWithEvents(events, initial) }));
    expect(source.calls.list).toBe(0);
    expect(vectorIds(producer)).toEqual([]);
    expect(producer.records().map((m) => [m.record.namespace, m.record.kind, m.partition])).toEqual([
      ['listed', 'end', 0],
      ['listed', 'end', 1],
    ]);
    expect(result.namespaces.map((n) => n.done)).toEqual([true, true]);
  });

  it('reports ids deleted between list and fetch, and does not count them', async () => {
    const { source, producer, base } = setup();
    const ids = source.add('ns', 12);
    source.deleteAfterList.add(ids[3]!);
    source.deleteAfterList.add(ids[11]!);
    const vanished: string[] = [];
    const result = await runExtraction(base({ onVanished: (_ns, gone) => vanished.push(...gone) }));
    expect(vanished).toEqual([ids[3], ids[11]]);
    expect(vectorIds(producer)).toEqual(ids.filter((_, i) => i !== 3 && i !== 11));
    expect(result.namespaces[0]).toMatchObject({ recordsPublished: 10, vanished: 2, done: true });
    expect(producer.records().find((m) => m.record.kind === 'end')!.record).toMatchObject({ count: 10 });
  });

  it('stops cleanly between pages on abort: no end markers, the checkpoint matches what was acked', async () => {
    const { source, producer, checkpoints, base } = setup({ namespaceConcurrency: 1 });
    const ids = source.add('ns', 50);
    const ac = new AbortController();
    const result = await runExtraction(
      base({
        signal: ac.signal,
        onProgress: (_ns, n) => {
          if (n === 20) ac.abort();
        },
      }),
    );
    expect(result.aborted).toBe(true);
    expect(result.namespaces[0]).toMatchObject({ recordsPublished: 20, pages: 2, done: false });
    expect(vectorIds(producer)).toEqual(ids.slice(0, 20));
    expect(producer.records().some((m) => m.record.kind === 'end')).toBe(false);
    expect((await checkpoints.load('job1')).get('ns')).toMatchObject({ pages: 2, paginationToken: ids[19], recordsPublished: 20 });
  });

  it('an abort during a page leaves that page unsent and without a checkpoint', async () => {
    const { source, producer, checkpoints, base } = setup({ namespaceConcurrency: 1 });
    source.add('ns', 30);
    const ac = new AbortController();
    source.onFetch = () => {
      if (source.calls.fetch === 4) {
        // page 2's first fetch fails transiently and the stop arrives during the backoff
        ac.abort();
        throw new EtlError('TRANSIENT', 'HTTP 502');
      }
    };
    const result = await runExtraction(base({ signal: ac.signal }));
    expect(result.aborted).toBe(true);
    expect(vectorIds(producer)).toHaveLength(10);
    expect(checkpoints.history.map((c) => c.pages)).toEqual([1]);
  });

  it('a permanent error fails the run, names where it stopped, and stops the other namespaces cleanly', async () => {
    const { source, producer, checkpoints, base } = setup({ namespaceConcurrency: 2 });
    source.add('a', 40);
    source.add('b', 40);
    source.onFetch = (ns) => {
      if (ns === 'b' && source.calls.fetch > 6) throw new EtlError('SOURCE_UNAUTHORIZED', 'the Pinecone API key was refused', { retriable: false });
    };
    const err = (await runExtraction(base()).catch((e: unknown) => e)) as EtlError;
    expect(err.code).toBe('SOURCE_UNAUTHORIZED');
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/namespace "b", page \d/);
    expect(producer.records().some((m) => m.record.kind === 'end')).toBe(false);
    // whatever was published for 'a' is covered by its checkpoint or will be re-published: never skipped
    const cpA = (await checkpoints.load('job1')).get('a');
    expect(vectorIds(producer, 'a').length).toBeGreaterThanOrEqual(cpA?.recordsPublished ?? 0);
  });
});
