import type { Kafka } from 'kafkajs';

/**
 * A stand-in for the parts of KafkaJS the adapter drives, for unit tests of the adapter's own logic
 * (commit acknowledgement, staleness, stop, chunking). Integration tests use the real broker.
 */

type Listener = (event: { payload: Record<string, unknown> }) => void;

export interface FakeMessage {
  offset: string;
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | undefined>;
  timestamp?: string;
}

export class FakeKafkaConsumer {
  readonly events = { GROUP_JOIN: 'group_join', CRASH: 'crash', COMMIT_OFFSETS: 'commit_offsets' } as const;
  readonly config: Record<string, unknown>;
  readonly listeners = new Map<string, Listener[]>();
  readonly commits: { topic: string; partition: number; offset: string; metadata: string | null }[] = [];
  readonly resolved: { partition: number; offset: string }[] = [];
  eachBatch: ((payload: unknown) => Promise<void>) | null = null;
  runConfig: Record<string, unknown> | null = null;
  /** KafkaJS skips a commit silently while its runner is not running; this mimics it. */
  runnerRunning = true;
  commitError: Error | null = null;
  heartbeatError: Error | null = null;
  disconnected = false;
  readonly #inflight = new Set<Promise<void>>();

  constructor(config: Record<string, unknown>) {
    this.config = config;
  }

  on(event: string, listener: Listener): () => void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return () => undefined;
  }

  emit(event: string, payload: Record<string, unknown>): void {
    for (const l of this.listeners.get(event) ?? []) l({ payload });
  }

  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}

  async run(config: Record<string, unknown> & { eachBatch: (payload: unknown) => Promise<void> }): Promise<void> {
    this.runConfig = config;
    this.eachBatch = config.eachBatch;
  }

  join(memberAssignment: Record<string, number[]>): void {
    this.emit(this.events.GROUP_JOIN, { memberId: 'm1', memberAssignment });
  }

  /** Hands one batch to the adapter, as KafkaJS's runner would, and waits for the handler. */
  deliver(topic: string, partition: number, messages: FakeMessage[], kafkaIsStale = false): Promise<void> {
    const full = messages.map((m) => ({ key: null, headers: {}, timestamp: '0', ...m }));
    const p = this.eachBatch!({
      batch: { topic, partition, messages: full, lastOffset: () => full[full.length - 1]!.offset },
      resolveOffset: (offset: string) => this.resolved.push({ partition, offset }),
      heartbeat: async () => {
        if (this.heartbeatError) throw this.heartbeatError;
      },
      isStale: () => kafkaIsStale,
      isRunning: () => this.runnerRunning,
    });
    this.#inflight.add(p);
    return p.finally(() => this.#inflight.delete(p));
  }

  async commitOffsets(list: { topic: string; partition: number; offset: string; metadata: string | null }[]): Promise<void> {
    if (this.commitError) throw this.commitError;
    if (!this.runnerRunning) return;
    this.commits.push(...list);
    this.emit(this.events.COMMIT_OFFSETS, { topics: list });
  }

  async disconnect(): Promise<void> {
    // KafkaJS waits for the running batch before it leaves the group.
    await Promise.allSettled([...this.#inflight]);
    this.disconnected = true;
  }
}

export interface FakeSend {
  topic: string;
  acks: number;
  messages: { key: unknown; value: Buffer | null }[];
}

export class FakeKafkaProducer {
  readonly config: Record<string, unknown>;
  readonly sends: FakeSend[] = [];
  failNext: Error[] = [];
  connected = false;
  disconnected = false;

  constructor(config: Record<string, unknown>) {
    this.config = config;
  }

  async connect(): Promise<void> {
    this.connected = true;
  }

  async send(record: FakeSend): Promise<void> {
    const err = this.failNext.shift();
    if (err) throw err;
    this.sends.push(record);
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
}

export function fakeKafka(): { kafka: Kafka; consumers: FakeKafkaConsumer[]; producers: FakeKafkaProducer[] } {
  const consumers: FakeKafkaConsumer[] = [];
  const producers: FakeKafkaProducer[] = [];
  const kafka = {
    consumer: (config: Record<string, unknown>) => {
      const c = new FakeKafkaConsumer(config);
      consumers.push(c);
      return c;
    },
    producer: (config: Record<string, unknown>) => {
      const p = new FakeKafkaProducer(config);
      producers.push(p);
      return p;
    },
  } as unknown as Kafka;
  return { kafka, consumers, producers };
}
