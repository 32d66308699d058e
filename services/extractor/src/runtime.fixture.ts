import pino from 'pino';
import {
  EtlError,
  PipelineOptionsSchema,
  type ListPage,
  type LogProducer,
  type LogRecord,
  type OutgoingMessage,
  type PineconeSourcePort,
  type SourceVector,
} from '@p2m/core';
import { createMemoryCheckpointStore, type Checkpoint, type MemoryCheckpointStore } from './checkpoints.ts';
import type { ExtractionOptions } from './runtime.ts';

/** Fakes for the extractor runtime's tests: an in-memory Pinecone, an array-backed producer, a checkpoint store that logs. */

type Op = 'list' | 'fetch';

/** An in-memory Pinecone: sorted ids per namespace, list pages, injected failures. */
export class FakeSource implements PineconeSourcePort {
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

export interface Sent {
  topic: string;
  messages: OutgoingMessage[];
}

/** An array-backed producer; `failOn` makes the Nth send (1-based) fail; `gate` holds sends until released. */
export class ArrayProducer implements LogProducer {
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

export const encode = (r: LogRecord): Buffer => Buffer.from(JSON.stringify(r, (_k, v: unknown) => (v instanceof Float32Array ? { f32: Array.from(v) } : v)));
export const decode = (b: Buffer): LogRecord => JSON.parse(b.toString()) as LogRecord;

export function checkpointsWithEvents(events: string[], initial: Checkpoint[] = []): MemoryCheckpointStore {
  const store = createMemoryCheckpointStore(initial);
  const save = store.save.bind(store);
  return Object.assign(store, {
    save: async (cp: Checkpoint) => {
      events.push(`checkpoint ${cp.namespace} pages=${cp.pages}${cp.done ? ' done' : ''}`);
      await save(cp);
    },
  });
}

export const silent = pino({ level: 'silent' });
export const fastRetry = { initialDelayMs: 1, maxDelayMs: 4, deadlineMs: 10_000 };

export function setup(over: { partitions?: number; namespaceConcurrency?: number; fetchBatchSize?: number } = {}) {
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

export const vectorIds = (p: ArrayProducer, ns?: string) =>
  p
    .records()
    .filter((m) => m.record.kind === 'vector' && (ns === undefined || m.record.namespace === ns))
    .map((m) => (m.record.kind === 'vector' ? m.record.id : ''));

/** A Kafka round trip takes a moment, as it does: that is when other namespaces' writes queue up behind it. */
export function delaySends(producer: ArrayProducer, ms: number): void {
  const send = producer.send.bind(producer);
  producer.send = async (topic, messages) => {
    await new Promise((r) => setTimeout(r, ms));
    await send(topic, messages);
  };
}
