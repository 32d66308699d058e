import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { EtlError, type LogProducer, type Logger, type OutgoingMessage } from '@p2m/core';
import { toEtlError } from './errors.ts';

/**
 * Default bytes per produce request. A broker refuses a record batch over `message.max.bytes`
 * (1 MiB by default) and KafkaJS puts all of a request's messages for one partition in one batch,
 * so requests are cut below that.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 900 * 1024;
/** Per-message framing besides key, value and headers (record header, varints), rounded up. */
const MESSAGE_OVERHEAD_BYTES = 64;

/** Errors that say the idempotent producer's id or sequence state is unusable. */
const PRODUCER_STATE_ERRORS = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

export interface ProducerDeps {
  kafka: Kafka;
  logger: Logger;
  /** Whether a topic exists (producing to a missing topic would otherwise retry forever). */
  topicExists(topic: string): Promise<boolean>;
  maxRequestBytes?: number;
}

function messageBytes(m: OutgoingMessage): number {
  let n = MESSAGE_OVERHEAD_BYTES + (m.value?.length ?? 0);
  if (m.key !== null) n += typeof m.key === 'string' ? Buffer.byteLength(m.key) : m.key.length;
  if (m.headers) for (const [k, v] of Object.entries(m.headers)) n += k.length + Buffer.byteLength(v) + 8;
  return n;
}

function toKafkaMessage(m: OutgoingMessage): Message {
  const out: Message = { key: m.key, value: m.value };
  if (m.headers) out.headers = m.headers;
  if (m.partition !== undefined) out.partition = m.partition;
  return out;
}

/**
 * Idempotent producer, acks=all, one request in flight per connection (so retries cannot reorder).
 * `send` resolves once every message is acknowledged by all in-sync replicas.
 *
 * What the extractor's checkpoints rely on is "acknowledged means in the log": a checkpoint is
 * written only after its page's send resolved, so a page may be published twice, never skipped.
 * KafkaJS's idempotence alone does not give that. When a produce request fails, KafkaJS rolls the
 * partition's sequence number back and retries with the same numbers, which is right for the same
 * messages: if the failed request had landed (its answer was lost), the broker takes the retry for
 * a duplicate. But another send waiting for the broker lock in that moment goes out with those
 * numbers first, and the broker takes *its* messages for the duplicate and drops them while
 * acknowledging them. And when KafkaJS gives up (its retries are limited here, so a send ends and
 * a stop can happen; unlimited retries are what its "Limiting retries for the idempotent producer
 * may invalidate EoS guarantees" warning asks for), the rolled-back numbers wait for the next
 * send. So: one send at a time per producer, and a send that failed drops the producer before
 * the next one starts, which then gets a new producer id and fresh numbers. A failed send may
 * leave some of its messages in the log and its retry may write them again; nothing acknowledged
 * is ever missing (producer.test.ts shows both hazards with KafkaJS's own producer, and that this
 * class has neither).
 */
export class KafkaLogProducer implements LogProducer {
  readonly #deps: ProducerDeps;
  readonly #maxRequestBytes: number;
  readonly #knownTopics = new Set<string>();
  #producer: Producer | null = null;
  #connecting: Promise<Producer> | null = null;
  #closed = false;
  /** The send in progress (settled or not): the next one starts after it. */
  #previous: Promise<unknown> = Promise.resolve();

  constructor(deps: ProducerDeps) {
    this.#deps = deps;
    this.#maxRequestBytes = deps.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  }

  #connect(): Promise<Producer> {
    if (this.#closed) return Promise.reject(new EtlError('INTERNAL', 'Kafka producer is closed', { retriable: false }));
    this.#connecting ??= (async () => {
      const producer = this.#deps.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      try {
        await producer.connect();
      } catch (err) {
        this.#connecting = null;
        throw toEtlError(err, 'connect the producer');
      }
      this.#producer = producer;
      return producer;
    })();
    return this.#connecting;
  }

  send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const sending = this.#previous.then(() => this.#sendNow(topic, messages));
    this.#previous = sending.catch(() => undefined);
    return sending;
  }

  async #sendNow(topic: string, messages: OutgoingMessage[]): Promise<void> {
    const producer = await this.#connect();
    if (!this.#knownTopics.has(topic)) {
      if (!(await this.#deps.topicExists(topic))) {
        throw new EtlError('INTERNAL', `Kafka: cannot produce to topic "${topic}": it does not exist`, {
          retriable: false,
          hint: 'create the topic first (LogAdmin.ensureTopic); p2m never relies on auto-creation',
        });
      }
      this.#knownTopics.add(topic);
    }
    for (const chunk of this.#chunks(messages)) {
      try {
        await producer.send({ topic, acks: -1, messages: chunk.map(toKafkaMessage) });
      } catch (err) {
        await this.#reset(producer);
        const type = (err as { type?: string }).type;
        if (type !== undefined && PRODUCER_STATE_ERRORS.has(type)) {
          this.#deps.logger.warn({ topic, type }, 'idempotent producer state lost; the next send starts a new producer');
          throw new EtlError('TRANSIENT', `Kafka: produce to ${topic} failed (${type}); safe to retry with a new producer`, { retriable: true, cause: err });
        }
        throw toEtlError(err, `produce to ${topic}`);
      }
    }
  }

  *#chunks(messages: OutgoingMessage[]): Generator<OutgoingMessage[]> {
    let chunk: OutgoingMessage[] = [];
    let bytes = 0;
    for (const m of messages) {
      const n = messageBytes(m);
      if (chunk.length > 0 && bytes + n > this.#maxRequestBytes) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += n;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Drops `failed` (if it is still the current producer; a concurrent send may have replaced it). */
  async #reset(failed: Producer): Promise<void> {
    if (this.#producer === failed) {
      this.#producer = null;
      this.#connecting = null;
    }
    await failed.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connecting = this.#connecting;
    this.#connecting = null;
    this.#producer = null;
    const producer = await connecting?.catch(() => null);
    await producer?.disconnect();
  }
}
