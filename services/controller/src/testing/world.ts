import { randomBytes } from 'node:crypto';
import { createLogger, type LogRecord, type Logger, type TargetCapabilities } from '@p2m/core';
import { FakePinecone, InMemoryLog, InMemoryMilvus, type FakeIndexOptions } from '@p2m/testing';
import { ControllerJobService, type ControllerJobServiceOptions } from '../jobs/service.ts';

/**
 * The real controller service over the fakes of every port (test-only): an in-memory Kafka, an
 * in-memory Milvus, a fake Pinecone. Nothing runs outside the process; tests reach into the fakes
 * to move the world along or break it.
 */
export interface ControllerWorld {
  log: InMemoryLog;
  milvus: InMemoryMilvus;
  pinecone: FakePinecone;
  secretKey: string;
  service: ControllerJobService;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControllerWorldOptions {
  indexes?: FakeIndexOptions[];
  capabilities?: TargetCapabilities;
  /** Drive the jobs (the driver's timer); false leaves the lifecycle to the test (`service.tick()`, the board). */
  drive?: boolean;
  logger?: Logger;
  /** The records topic's decoder, for verification (the Avro codec in a pipeline test). */
  decode?: (value: Buffer) => Promise<LogRecord>;
  /** Anything else the service takes (deadlines, tick, grace). */
  service?: Partial<ControllerJobServiceOptions>;
  log?: InMemoryLog;
  milvus?: InMemoryMilvus;
}

/** A serverless index of `count` records per namespace, as the HTTP tests and the preview use. */
export function fakeIndex(name: string, namespaces: Record<string, number> = { '': 600, docs: 400 }): FakeIndexOptions {
  return { name, dimension: 8, metric: 'cosine', namespaces };
}

export function createControllerWorld(options: ControllerWorldOptions = {}): ControllerWorld {
  const log = options.log ?? new InMemoryLog();
  const milvus = options.milvus ?? new InMemoryMilvus(options.capabilities ? { capabilities: options.capabilities } : {});
  const pinecone = new FakePinecone(options.indexes ?? [fakeIndex('docs-index')]);
  const secretKey = randomBytes(24).toString('hex');
  const service = new ControllerJobService({
    log,
    sourceFactory: pinecone.source,
    sinkFactory: () => milvus.connect(),
    decode: options.decode ?? (async () => Promise.reject(new Error('this world has no record decoder: pass `decode`'))),
    secretKey,
    logger: options.logger ?? createLogger('controller', { level: 'silent' }),
    stateTopicPartitions: 2,
    tickMs: 20,
    ...options.service,
  });
  return {
    log,
    milvus,
    pinecone,
    secretKey,
    service,
    start: () => service.start({ drive: options.drive ?? true }),
    stop: () => service.stop(),
  };
}
