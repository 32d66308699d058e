import { describe, expect, it } from 'vitest';
import pino from 'pino';
import {
  EtlError,
  PipelineOptionsSchema,
  createSourceBudgets,
  recordKey,
  type ListPage,
  type LogProducer,
  type LogRecord,
  type OutgoingMessage,
  type PineconeSourcePort,
  type SourceVector,
} from '@p2m/core';
import { createMemoryCheckpointStore, type Checkpoint, type MemoryCheckpointStore } from './checkpoints.ts';
import { runExtraction, type ExtractionOptions } from './runtime.ts';

// ---------------------------------------------------------------- fakes

type Op = 'list' | 'fetch';

/** An in-memory Pinecone: sorted ids per namespace, list pages, injected failures. */
class FakeSource implements PineconeSourcePort {
  readonly data = new Map<string, Map<string, SourceVector>>();
  /** Failures handed out in order, one per call of that operation. */
  readonly failures: Record<Op, unknown[]> = { list: [], fetch: [] };
  /** Ids deleted right after they were listed (they vanish before fetch). */
  readonly deleteAfterList = new Set<string>();
  readonly calls: Record<Op, number> = { list: 0, fetch: 0 };
  /** Called at the start of each fetch, e.g. to hang it or abort mid-page. */
  onFetch: ((ns: string, ids: string[]) => Promise<void> | void) | undefined;
  inFlightNamespaces = new Set<string>();
  maxInFlightNamespaces = 0;
  /** Namespaces that listed a page after their first and are not done. */
  multiPageNamespaces = new Set<string>();
  maxMultiPageNamespaces = 0;

  add(ns: string, count: number, prefix = 'id'): string[] {
    const m = this.data.get(ns) ?? new Map<string, SourceVector>();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = `${prefix}-${String(i).padStart(4, '0')}`;
      ids.push(id);
      m.set(id, { id, values: [i, i + 0.5], metadata: { n: i } });
    }
    this.data.set(ns, m);
    return ids;
  }

  async describeIndex(): Promise<never> {
    throw new Error('not used');
  }

  async listNamespaces() {
    return [...this.data].map(([name, m]) => ({ name, recordCount: m.size }));
  }

  async listPage(ns: string, token: string | null, limit = 100): Promise<ListPage> {
    this.calls.list++;
    this.track(ns);
    if (token !== null) {
      this.multiPageNamespaces.add(ns);
      this.maxMultiPageNamespaces = Math.max(this.maxMultiPageNamespaces, this.multiPageNamespaces.size);
    }
    await Promise.resolve();
    const failure = this.failures.list.shift();
    if (failure !== undefined) throw failure;
    // Like Pinecone's, the token marks a position in id order, so deletions elsewhere do not shift it.
    const ids = [...(this.data.get(ns)?.keys() ?? [])].sort().filter((id) => token === null || id > token);
    const page = ids.slice(0, limit);
    for (const id of page) if (this.deleteAfterList.has(id)) this.data.get(ns)!.delete(id);
    return { ids: page, next: ids.length > limit ? page[page.length - 1]! : null };
  }

  async fetch(ns: string, ids: string[]): Promise<SourceVector[]> {
    this.calls.fetch++;
    await this.onFetch?.(ns, ids);
    const failure = this.failures.fetch.shift();
    if (failure !== undefined) throw failure;
    const m = this.data.get(ns);
    return ids.flatMap((id) => (m?.has(id) ? [m.get(id)!] : []));
  }

  private track(ns: string): void {
    this.inFlightNamespaces.add(ns);
    this.maxInFlightNamespaces = Math.max(this.maxInFlightNamespaces, this.inFlightNamespaces.size);
  }

  done(ns: string): void {
    this.inFlightNamespaces.delete(ns);
    this.multiPageNamespaces.delete(ns);
  }
}

interface Sent {
  topic: string;
  messages: OutgoingMessage[];
}

/** An array-backed producer; `failOn` makes the Nth send (1-based) fail; `gate` holds sends until released. */
class ArrayProducer implements LogProducer {
  readonly sent: Sent[] = [];
  readonly events: string[];
  sends = 0;
  failOn: number | undefined;
  failWith: unknown = new EtlError('INTERNAL', 'broker said no', { retriable: false });
  gate: Promise<void> | undefined;

  constructor(events: string[] = []) {
    this.events = events;
  }

  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    const n = ++this.sends;
    await this.gate;
    if (n === this.failOn) throw this.failWith;
    this.sent.push({ topic, messages });
    this.events.push(`ack ${messages.length}`);
  }

  async close(): Promise<void> {}

  records(): { key: string; partition: number | undefined; record: LogRecord }[] {
    return this.sent.flatMap((s) => s.messages.map((m) => ({ key: String(m.key), partition: m.partition, record: decode(m.value!) })));
  }
}

const encode = (r: LogRecord): Buffer =>
  Buffer.from(JSON.stringify(r, (_k, v: unknown) => (v instanceof Float32Array ? { f32: Array.from(v) } : v)));
const decode = (b: Buffer): LogRecord => JSON.parse(b.toString()) as LogRecord;

function checkpointsWithEvents(events: string[], initial: Checkpoint[] = []): MemoryCheckpointStore {
  const store = createMemoryCheckpointStore(initial);
  const save = store.save.bind(store);
  return Object.assign(store, {
    save: async (cp: Checkpoint) => {
      events.push(`checkpoint ${cp.namespace} pages=${cp.pages}${cp.done ? ' done' : ''}`);
      await save(cp);
    },
  });
}

const silent = pino({ level: 'silent' });
const fastRetry = { initialDelayMs: 1, maxDelayMs: 4, deadlineMs: 10_000 };

function setup(over: { partitions?: number; namespaceConcurrency?: number; fetchBatchSize?: number } = {}) {
  const events: string[] = [];
  const source = new FakeSource();
  const producer = new ArrayProducer(events);
  const checkpoints = checkpointsWithEvents(events);
  const progress: [string, number, boolean][] = [];
  const base = (extra: Partial<ExtractionOptions> = {}): ExtractionOptions => ({
    jobId: 'job1',
    source,
    producer,
    encode,
    topic: 'p2m.job.job1.records',
    topicPartitions: over.partitions ?? 3,
    checkpoints,
    namespaces: [...source.data.keys()],
    options: PipelineOptionsSchema.parse({
      namespaceConcurrency: over.namespaceConcurrency ?? 2,
      fetchBatchSize: over.fetchBatchSize ?? 4,
      rateLimits: { listPerSecond: 10_000, fetchPerSecond: 10_000 },
    }),
    signal: new AbortController().signal,
    log: silent,
    retry: fastRetry,
    listLimit: 10,
    onProgress: (ns, n, done) => {
      progress.push([ns, n, done]);
      if (done) source.done(ns);
    },
    ...extra,
  });
  return { events, source, producer, checkpoints, progress, base };
}

const vectorIds = (p: ArrayProducer, ns?: string) =>
  p
    .records()
    .filter((m) => m.record.kind === 'vector' && (ns === undefined || m.record.namespace === ns))
    .map((m) => (m.record.kind === 'vector' ? m.record.id : ''));

// ---------------------------------------------------------------- tests

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
    expect(events).toEqual([
      'ack 10',
      'checkpoint ns pages=1',
      'ack 10',
      'checkpoint ns pages=2',
      'ack 8',
      'checkpoint ns pages=3 done',
    ]);
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
    expect(second.records().filter((m) => m.record.kind === 'end').every((m) => m.record.kind === 'end' && m.record.count === 35)).toBe(true);
  });

  it('small namespaces written together: a failed group write checkpoints none of them, and a restart publishes each namespace whole', async () => {
    const { source, producer, checkpoints, base } = setup({ partitions: 2 });
    const names = Array.from({ length: 60 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    for (const ns of names) source.add(ns, 2);
    const send = producer.send.bind(producer);
    producer.send = async (topic, messages) => {
      await new Promise((r) => setTimeout(r, 2));
      await send(topic, messages);
    };
    producer.failOn = 3; // the third Kafka write carries several namespaces' pages and markers
    const err = (await runExtraction(base({ namespaces: names, namespacesInFlight: 16 })).catch((e: unknown) => e)) as EtlError;
    expect(err).toBeInstanceOf(EtlError);
    const saved = await checkpoints.load('job1');
    // Each checkpoint follows its own acknowledged write: a namespace marked done has its records and markers in the log.
    for (const [ns, cp] of saved) {
      expect(cp.done).toBe(true);
      expect(vectorIds(producer, ns)).toEqual(['id-0000', 'id-0001']);
      expect(producer.records().filter((m) => m.record.namespace === ns && m.record.kind === 'end')).toHaveLength(2);
    }
    expect(saved.size).toBeGreaterThan(0);
    expect(saved.size).toBeLessThan(60);

    const second = new ArrayProducer();
    const result = await runExtraction(base({ namespaces: names, producer: second }));
    expect(result.namespaces.every((n) => n.done && n.recordsPublished === 2)).toBe(true);
    for (const ns of names) {
      // never skipped: published before the failure and checkpointed, or published (again) now
      const ids = saved.has(ns) ? vectorIds(producer, ns) : vectorIds(second, ns);
      expect(ids).toEqual(['id-0000', 'id-0001']);
      expect(saved.has(ns) ? vectorIds(second, ns) : []).toEqual([]);
    }
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

  it('backs off on 429s and 5xx, slows the shared budget, and succeeds', async () => {
    const { source, producer, base } = setup();
    const ids = source.add('ns', 30);
    const rateLimited = () => new EtlError('RATE_LIMITED', 'Pinecone rate-limited list (HTTP 429)', { details: { status: 429 } });
    source.failures.list.push(rateLimited(), rateLimited(), rateLimited());
    source.failures.fetch.push(new EtlError('TRANSIENT', 'HTTP 503'), rateLimited());
    const budgets = createSourceBudgets({ listPerSecond: 10_000, fetchPerSecond: 10_000 });
    const retries: string[] = [];
    const result = await runExtraction(base({ budgets, onRetry: ({ operation, error }) => retries.push(`${operation} ${(error as EtlError).code}`) }));
    expect(vectorIds(producer)).toEqual(ids);
    expect(result.namespaces[0]).toMatchObject({ recordsPublished: 30, done: true });
    expect(retries.filter((r) => r === 'list RATE_LIMITED')).toHaveLength(3);
    expect(retries).toContain('fetch TRANSIENT');
    expect(budgets.list.state().throttled).toBe(3);
    expect(budgets.fetch.state().throttled).toBe(1);
    expect(budgets.list.rate()).toBeLessThan(10_000);
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

  it('runs at most namespaceConcurrency namespaces past their first page at once', async () => {
    const { source, base } = setup({ namespaceConcurrency: 2 });
    for (const ns of ['n1', 'n2', 'n3', 'n4', 'n5']) source.add(ns, 25);
    const result = await runExtraction(base());
    expect(result.namespaces.every((n) => n.done && n.recordsPublished === 25)).toBe(true);
    expect(source.maxMultiPageNamespaces).toBe(2);
  });

  it('reads many small namespaces at once and group-commits their sends and checkpoints', async () => {
    const { source, producer, checkpoints, base } = setup({ namespaceConcurrency: 2, partitions: 3 });
    const names = Array.from({ length: 300 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);
    for (const ns of names) source.add(ns, 1 + (ns.charCodeAt(9) % 2));
    // A Kafka round trip takes a moment, as it does: that is when other namespaces' writes queue up.
    const send = producer.send.bind(producer);
    producer.send = async (topic, messages) => {
      await new Promise((r) => setTimeout(r, 2));
      await send(topic, messages);
    };
    const result = await runExtraction(base({ namespaces: names, namespacesInFlight: 32 }));
    expect(result.namespaces.every((n) => n.done)).toBe(true);
    expect(source.maxInFlightNamespaces).toBeGreaterThan(2);
    expect(source.maxInFlightNamespaces).toBeLessThanOrEqual(32);
    // every record once, every namespace's markers on every partition after its records
    const all = producer.records();
    for (const ns of names) {
      const mine = all.filter((m) => m.record.namespace === ns);
      expect(mine.filter((m) => m.record.kind === 'vector').map((m) => (m.record.kind === 'vector' ? m.record.id : ''))).toEqual([...source.data.get(ns)!.keys()]);
      expect(mine.slice(-3).map((m) => [m.record.kind, m.partition])).toEqual([
        ['end', 0],
        ['end', 1],
        ['end', 2],
      ]);
    }
    expect((await checkpoints.load('job1')).size).toBe(300);
    expect([...(await checkpoints.load('job1')).values()].every((cp) => cp.done)).toBe(true);
    // one write per namespace before; now far fewer
    expect(result.writes.records).toBeLessThan(100);
    expect(result.writes.checkpoints).toBeLessThan(100);
    expect(producer.sends).toBe(result.writes.records);
  });

  it('treats "" and "__default__" as one namespace', async () => {
    const { source, producer, base } = setup();
    source.add('', 3);
    const result = await runExtraction(base({ namespaces: ['__default__', ''] }));
    expect(result.namespaces).toHaveLength(1);
    expect(vectorIds(producer, '')).toHaveLength(3);
  });

  it('fetches the chunks of one page concurrently within the budget', async () => {
    const { source, base } = setup({ fetchBatchSize: 2 });
    source.add('ns', 10);
    let inFlight = 0;
    let most = 0;
    source.onFetch = async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    };
    await runExtraction(base());
    expect(most).toBe(5);
  });
});
