import { Kafka, type SASLOptions } from 'kafkajs';
import './request-queue.ts';
import { createLogger, type ConsumerOptions, type IncomingMessage, type LogClient, type Logger, type TopicTail } from '@p2m/core';
import { KafkaLogAdmin } from './admin.ts';
import { KafkaLogConsumer } from './consumer.ts';
import { KAFKAJS_LEVELS, pinoLogCreator, type KafkaLogLevel } from './logging.ts';
import { KafkaLogProducer } from './producer.ts';
import { readTopicToEnd, scanToEnd, tail } from './reader.ts';

export interface KafkaOptions {
  brokers: string[];
  clientId?: string;
  /** KafkaJS's own verbosity (its lines go through pino either way). Default `warn`. */
  logLevel?: KafkaLogLevel;
  logger?: Logger;
  ssl?: boolean;
  sasl?: SASLOptions;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Consumer session timeout: how long a silent member keeps its partitions. Default 30 s. */
  sessionTimeoutMs?: number;
  /** Bytes per produce request (default 900 KiB, under the broker's 1 MiB `message.max.bytes`). */
  maxRequestBytes?: number;
}

export interface KafkaClient extends LogClient {
  producer(): KafkaLogProducer;
  consumer(options: ConsumerOptions): KafkaLogConsumer;
  /** The client's shared admin (closed by `close`). */
  admin(): KafkaLogAdmin;
  /** Shuts the shared admin down for good; producers and consumers are closed by their owners. */
  close(): Promise<void>;
}

/** The Kafka adapter: the only place that imports KafkaJS (with health.ts). */
export function createKafka(options: KafkaOptions): KafkaClient {
  const baseLogger = options.logger ?? createLogger('kafka');
  const logger = baseLogger.child({ component: 'kafka' });
  const kafka = new Kafka({
    clientId: options.clientId ?? 'p2m',
    brokers: options.brokers,
    logLevel: KAFKAJS_LEVELS[options.logLevel ?? 'warn'],
    logCreator: pinoLogCreator(baseLogger),
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // Back off up to 5 s (KafkaJS's default is 30 s), so a restarted broker is picked up quickly.
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 8 },
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
  });
  const admin = new KafkaLogAdmin(kafka);
  const readerDeps = { kafka, admin, logger };
  return {
    producer: () => new KafkaLogProducer({ kafka, logger, topicExists: (t) => admin.topicExists(t), maxRequestBytes: options.maxRequestBytes }),
    consumer: (consumerOptions: ConsumerOptions) => new KafkaLogConsumer({ kafka, logger, sessionTimeoutMs: options.sessionTimeoutMs }, consumerOptions),
    admin: () => admin,
    readTopicToEnd: (topic: string): Promise<IncomingMessage[]> => readTopicToEnd(readerDeps, topic),
    scanToEnd: (topic: string, handler: (m: IncomingMessage) => Promise<void> | void): Promise<void> => scanToEnd(readerDeps, topic, handler),
    tail: (topic: string, handler: (m: IncomingMessage) => Promise<void> | void): Promise<TopicTail> => tail(readerDeps, topic, handler),
    close: () => admin.shutDown(),
  };
}
