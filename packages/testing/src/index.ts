export * from './capabilities.ts';
export { etlErrorOf } from './errors.ts';
export { InMemoryLog, InMemoryLogAdmin } from './log/log.ts';
export { InMemoryConsumer } from './log/consumer.ts';
export { murmur2, partitionForKey } from './log/topics.ts';
export { InMemoryMilvus } from './milvus/milvus.ts';
export { FakeMilvusServer, type FakeCollection, type InMemoryMilvusOptions, type StoredRow } from './milvus/server.ts';
export { FakePinecone, FakePineconeIndex, type FakeIndexOptions, type SourceOperation } from './pinecone.ts';
export { CHROMIUM, CHROMIUM_ARGS, IN_CI } from './chromium.ts';
