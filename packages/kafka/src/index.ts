// First: KafkaJS must find the fast CRC-32C in place when it loads (see crc32c.ts).
import './crc32c.ts';
// Then KafkaJS's record decoder without its per-record Long arithmetic (see record-decoder.ts).
import './record-decoder.ts';
// And its produce requests written once into one buffer (see produce-encoder.ts).
import './produce-encoder.ts';
export { createKafka } from './client.ts';
export type { KafkaClient, KafkaOptions } from './client.ts';
export { KafkaLogAdmin } from './admin.ts';
export { KafkaLogConsumer } from './consumer.ts';
export { KafkaLogProducer, DEFAULT_MAX_REQUEST_BYTES } from './producer.ts';
export { isKafkaRetriable, isRebalanceError, toEtlError } from './errors.ts';
export { pinoLogCreator } from './logging.ts';
export type { KafkaLogLevel } from './logging.ts';
export { createRegistryCodec, registryError } from './registry.ts';
export type { Compatibility, RegistryCodec, RegistryCodecOptions } from './registry.ts';
export * from './health.ts';
