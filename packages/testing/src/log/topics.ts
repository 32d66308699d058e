import { EventEmitter } from 'node:events';
import { EtlError, type IncomingMessage, type OutgoingMessage, type TopicSpec } from '@p2m/core';

/**
 * The storage of the in-memory Kafka log: topics of partitions of messages, appended in order, with
 * offsets from 0. Compaction is not simulated: readers of compacted topics fold by key anyway.
 */
export interface StoredMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export interface StoredTopic {
  spec: TopicSpec;
  partitions: StoredMessage[][];
}

/** Kafka's murmur2 (as KafkaJS's DefaultPartitioner uses it), so a key lands where it would in Kafka. */
export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) | 0;
  let i = 0;
  for (; i + 4 <= data.length; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length - i;
  if (rest === 3) h ^= (data[i + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[i + 1]! & 0xff) << 8;
  if (rest >= 1) h = Math.imul(h ^ (data[i]! & 0xff), m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

export class TopicStore extends EventEmitter {
  readonly topics = new Map<string, StoredTopic>();
  #roundRobin = 0;

  require(topic: string): StoredTopic {
    const t = this.topics.get(topic);
    if (!t) throw new EtlError('INTERNAL', `Kafka: topic "${topic}" does not exist`, { retriable: false, hint: 'create it first (LogAdmin.ensureTopic)' });
    return t;
  }

  /** Creates the topic if absent; false when it already existed. */
  create(spec: TopicSpec): boolean {
    if (this.topics.has(spec.topic)) return false;
    this.topics.set(spec.topic, { spec, partitions: Array.from({ length: spec.partitions }, () => []) });
    this.emit('created', spec.topic);
    return true;
  }

  append(topic: string, messages: OutgoingMessage[]): void {
    const t = this.require(topic);
    const touched = new Set<number>();
    for (const m of messages) {
      const key = m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
      const partition = m.partition ?? (key ? partitionForKey(key, t.partitions.length) : this.#roundRobin++ % t.partitions.length);
      const log = t.partitions[partition];
      if (!log) throw new EtlError('INTERNAL', `Kafka: topic "${topic}" has no partition ${partition}`, { retriable: false });
      log.push({ key, value: m.value, headers: { ...m.headers }, timestamp: String(Date.now()) });
      touched.add(partition);
    }
    this.emit('appended', topic, [...touched]);
  }

  message(topic: string, partition: number, offset: number): IncomingMessage | undefined {
    const stored = this.topics.get(topic)?.partitions[partition]?.[offset];
    if (!stored) return undefined;
    return { topic, partition, offset: String(offset), key: stored.key, value: stored.value, headers: { ...stored.headers }, timestamp: stored.timestamp };
  }

  high(topic: string, partition: number): number {
    return this.topics.get(topic)?.partitions[partition]?.length ?? 0;
  }
}
