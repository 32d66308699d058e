import type { MilvusTarget } from '@p2m/core';
import { FakeMilvusServer } from './server.ts';
import { createTarget } from './target.ts';

/**
 * An in-memory Milvus: collections of rows by primary key, what the server answers about itself
 * (`capabilities`), and the failure modes the pipeline must survive — a server that does not answer
 * (`down`), one that restarts and, like Milvus Lite, loses what it acknowledged but never flushed
 * (`restart()` when `capabilities.persistsAcknowledgedWrites` is false), calls that fail on demand.
 */
export class InMemoryMilvus extends FakeMilvusServer {
  /** A connection to this server, as `createMilvusSink({ address, token })` gives one. */
  connect(): MilvusTarget {
    return createTarget(this);
  }
}
