// Fakes for runLoader's tests: a scripted consumer, a recording writer and producer, options.
import {
  createLogger,
  EtlError,
  parseJobSpec,
  planCollection,
  type CommitCandidate,
  type ConsumerBatch,
  type LogConsumer,
  type LogProducer,
  type OutgoingMessage,
  type PartitionOffset,
  type RowBatch,
  type SinkWriter,
  type VectorRecord,
  type WriteResult,
} from '@p2m/core';
import { fullCapabilities } from '@p2m/testing';
import { runLoader, type LoaderOptions } from './runtime.ts';

export const plan = planCollection({
  spec: parseJobSpec({ source: { apiKey: 'k', index: 'idx' }, target: { address: '127.0.0.1:19530', collection: 'c' } }),
  index: { name: 'idx', dimension: 2, metric: 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
  namespaces: [{ name: '', recordCount: 100 }],
  capabilities: fullCapabilities(),
});

/** A batch of `count` records of `partition` starting at offset `from`. */
export function batch(from: number, count: number, partition = 0): ConsumerBatch {
  return {
    topic: 't',
    partition,
    messages: Array.from({ length: count }, (_, i) => ({
      topic: 't',
      partition,
      offset: String(from + i),
      key: null,
      value: Buffer.from(`r${from + i}`),
      headers: {},
      timestamp: '0',
    })),
    heartbeat: async () => undefined,
    isStale: () => false,
  };
}

/** A consumer that hands out scripted batches, then stays in the group (as a drained member does) until stopped. */
export class ScriptedConsumer implements LogConsumer {
  readonly committed: PartitionOffset[] = [];
  #stop: () => void = () => undefined;
  readonly #stopped = new Promise<void>((r) => (this.#stop = r));
  readonly deliveries: ((handler: (b: ConsumerBatch) => Promise<void>) => Promise<void>)[];
  readonly events: string[];
  readonly commitHook: (offsets: PartitionOffset[]) => void;
  constructor(deliveries: ScriptedConsumer['deliveries'], events: string[] = [], commitHook: (offsets: PartitionOffset[]) => void = () => undefined) {
    this.deliveries = deliveries;
    this.events = events;
    this.commitHook = commitHook;
  }
  async run(handler: (b: ConsumerBatch) => Promise<void>): Promise<void> {
    for (const deliver of this.deliveries) await deliver(handler);
    await this.#stopped;
  }
  async commit(_topic: string, offsets: PartitionOffset[]): Promise<void> {
    this.commitHook(offsets);
    this.committed.push(...offsets);
    this.events.push(`commit ${offsets.map((o) => `${o.partition}:${o.offset}`).join(',')}`);
  }
  async stop(): Promise<void> {
    this.#stop();
  }
}

/** A writer that records what it was given; `refuse` ids come back rejected; `durable` decides preCommit. */
export class RecordingWriter implements SinkWriter {
  readonly events: string[];
  refuse = new Set<string>();
  durable: (c: CommitCandidate[]) => CommitCandidate[] = (c) => c;
  failWith: EtlError | null = null;
  constructor(events: string[]) {
    this.events = events;
  }
  async write(b: RowBatch): Promise<WriteResult> {
    if (this.failWith) throw this.failWith;
    this.events.push(`write ${b.records.map((r) => r.id).join(',')}`);
    return {
      rejected: b.records.flatMap((r, index) => (this.refuse.has(r.id) ? [{ index, code: 'RECORD_REJECTED' as const, reason: `refused ${r.id}` }] : [])),
    };
  }
  async preCommit(c: CommitCandidate[]): Promise<CommitCandidate[]> {
    const out = this.durable(c);
    this.events.push(`preCommit ${c.map((x) => `${x.partition}:${x.offset}`).join(',')} -> ${out.length}`);
    return out;
  }
  forget(): void {}
}

export class RecordingProducer implements LogProducer {
  readonly sent: { topic: string; messages: OutgoingMessage[] }[] = [];
  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.sent.push({ topic, messages });
  }
  async close(): Promise<void> {}
}

export const fast = { retries: 3, initialDelayMs: 1, maxDelayMs: 2, deadlineMs: 1_000 };
export function options(consumer: LogConsumer, writer: SinkWriter, signal: AbortSignal, extra: Partial<LoaderOptions> = {}): LoaderOptions {
  return {
    jobId: 'j',
    topic: 't',
    dlqTopic: 'd',
    plan,
    consumer,
    producer: new RecordingProducer(),
    writer,
    decode: async (v: Buffer): Promise<VectorRecord> => ({
      kind: 'vector',
      namespace: '',
      id: v.toString(),
      values: new Float32Array([1, 2]),
      sparse: null,
      metadata: null,
    }),
    batchBytes: 1 << 20,
    committed: async () => null,
    policies: { sink: fast, log: fast },
    settleIntervalMs: 20,
    signal,
    log: createLogger('test', { level: 'silent' }),
    ...extra,
  };
}

/** Runs the loader until `until` holds (or 2 s), then stops it like a cancel does. */
export async function runUntil(make: (signal: AbortSignal) => LoaderOptions, until: () => boolean): Promise<void> {
  const stop = new AbortController();
  const run = runLoader(make(stop.signal));
  for (let i = 0; i < 100 && !until(); i++) await new Promise((r) => setTimeout(r, 20));
  stop.abort();
  await run;
}
