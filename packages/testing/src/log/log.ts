import {
  EtlError,
  type ConsumerOptions,
  type IncomingMessage,
  type LogAdmin,
  type LogClient,
  type LogConsumer,
  type LogProducer,
  type OutgoingMessage,
  type PartitionOffset,
  type TopicSpec,
  type TopicTail,
} from '@p2m/core';
import { InMemoryConsumer } from './consumer.ts';
import { ConsumerGroup, tp } from './groups.ts';
import { TopicStore } from './topics.ts';

type Handler = (message: IncomingMessage) => Promise<void> | void;

/**
 * An in-memory Kafka behind the `LogClient` port: topics with partitions (a key lands where Kafka's
 * default partitioner puts it), producers, consumer groups with assignment and committed offsets
 * with metadata, readers and tails, and the admin calls. `down = true` makes every call fail
 * retriably, as a broker outage does, until it is set back.
 */
export class InMemoryLog implements LogClient {
  readonly store = new TopicStore();
  readonly groups = new Map<string, ConsumerGroup>();
  /** While true, every call answers LOG_UNAVAILABLE (retriable). */
  down = false;

  constructor() {
    this.store.on('created', (topic: string) => {
      for (const g of this.groups.values()) if (g.subscribes(topic)) g.rebalance();
    });
  }

  check(): void {
    if (this.down) throw new EtlError('LOG_UNAVAILABLE', 'Kafka: the in-memory log is down (a simulated outage)', { retriable: true });
  }

  group(id: string): ConsumerGroup {
    let g = this.groups.get(id);
    if (!g) this.groups.set(id, (g = new ConsumerGroup(this.store)));
    return g;
  }

  producer(): LogProducer {
    let closed = false;
    return {
      send: async (topic: string, messages: OutgoingMessage[]) => {
        if (closed) throw new EtlError('INTERNAL', 'Kafka producer is closed', { retriable: false });
        this.check();
        if (messages.length === 0) return;
        if (!this.store.topics.has(topic)) {
          throw new EtlError('INTERNAL', `Kafka: cannot produce to topic "${topic}": it does not exist`, {
            retriable: false,
            hint: 'create the topic first (LogAdmin.ensureTopic)',
          });
        }
        this.store.append(topic, messages);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  consumer(options: ConsumerOptions): LogConsumer {
    return new InMemoryConsumer({ store: this.store, group: this.group(options.groupId), check: () => this.check() }, options);
  }

  admin(): LogAdmin {
    return new InMemoryLogAdmin(this);
  }

  async readTopicToEnd(topic: string): Promise<IncomingMessage[]> {
    const out: IncomingMessage[] = [];
    await this.scanToEnd(topic, (m) => void out.push(m));
    return out;
  }

  async scanToEnd(topic: string, handler: Handler): Promise<void> {
    this.check();
    const t = this.store.require(topic);
    const ends = t.partitions.map((p) => p.length);
    for (let partition = 0; partition < ends.length; partition++) {
      for (let offset = 0; offset < ends[partition]!; offset++) await handler(this.store.message(topic, partition, offset)!);
    }
  }

  /** Follows the topic from the beginning; a handler error skips that message, as the Kafka tail does. */
  async tail(topic: string, handler: Handler): Promise<TopicTail> {
    this.check();
    const t = this.store.require(topic);
    const next = t.partitions.map(() => 0);
    let stopped = false;
    let pumping: Promise<void> = Promise.resolve();
    const pump = async (): Promise<void> => {
      for (let partition = 0; partition < next.length && !stopped; partition++) {
        for (let m = this.store.message(topic, partition, next[partition]!); m && !stopped; m = this.store.message(topic, partition, next[partition]!)) {
          next[partition]!++;
          try {
            await handler(m);
          } catch {
            // skipped, like the Kafka tail (which logs it)
          }
        }
      }
    };
    const onAppend = (appended: string): void => {
      if (appended === topic) pumping = pumping.then(pump);
    };
    this.store.on('appended', onAppend);
    pumping = pumping.then(pump);
    await pumping;
    return {
      stop: async () => {
        stopped = true;
        this.store.off('appended', onAppend);
        await pumping;
      },
    };
  }
}

export class InMemoryLogAdmin implements LogAdmin {
  readonly #log: InMemoryLog;
  constructor(log: InMemoryLog) {
    this.#log = log;
  }

  async ensureTopic(spec: TopicSpec): Promise<boolean> {
    this.#log.check();
    return this.#log.store.create(spec);
  }

  async deleteTopic(topic: string): Promise<void> {
    this.#log.check();
    this.#log.store.topics.delete(topic);
  }

  async topicExists(topic: string): Promise<boolean> {
    this.#log.check();
    return this.#log.store.topics.has(topic);
  }

  async listTopics(): Promise<string[]> {
    this.#log.check();
    return [...this.#log.store.topics.keys()];
  }

  async topicOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]> {
    this.#log.check();
    return this.#log.store.require(topic).partitions.map((p, partition) => ({ partition, high: String(p.length), low: '0' }));
  }

  async groupOffsets(group: string, topic: string): Promise<PartitionOffset[]> {
    this.#log.check();
    const committed = this.#log.groups.get(group)?.committed;
    const partitions = this.#log.store.topics.get(topic)?.partitions.length ?? 0;
    return Array.from({ length: partitions }, (_, partition) => {
      const c = committed?.get(tp(topic, partition));
      return { partition, offset: c?.offset ?? '-1', metadata: c?.metadata ?? null };
    });
  }

  async groupMemberCount(group: string): Promise<number> {
    this.#log.check();
    return this.#log.groups.get(group)?.members.length ?? 0;
  }

  async resetGroupOffsets(group: string, topic: string): Promise<void> {
    const members = await this.groupMemberCount(group);
    if (members > 0) {
      throw new EtlError('JOB_STATE', `cannot reset the offsets of consumer group ${group}: ${members} member(s) still consuming`, {
        retriable: false,
        hint: 'stop the loaders of this job first',
      });
    }
    const offsets = await this.topicOffsets(topic);
    this.#log.group(group).commit(
      topic,
      offsets.map((o) => ({ partition: o.partition, offset: o.low, metadata: null })),
    );
  }

  async close(): Promise<void> {}
}
