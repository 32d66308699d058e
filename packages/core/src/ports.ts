/**
 * Ports to the external systems (after Redpanda Connect: one small interface per system, a real
 * adapter and an in-memory fake behind it). This module imports no client SDK: adapters in
 * `@p2m/pinecone-source`, `@p2m/milvus-sink` and `@p2m/kafka` implement these.
 */
import type { TargetCapabilities } from './capabilities.ts';
import type { CollectionPlan } from './plan.ts';
import type { Metadata, VectorRecord } from './record.ts';
import type { IndexDescription, ListPage, NamespaceInfo, SourceVector } from './source-model.ts';

// ---------------------------------------------------------------- Pinecone (source)

/**
 * Runs one request of a source operation that takes several (each page of list namespaces): a
 * paced source passes its rate budget and retry here, so a 429 retries that page, not the listing.
 */
export type SourceRequestRunner = <T>(operation: 'describe_index' | 'list_namespaces' | 'describe_index_stats', request: () => Promise<T>) => Promise<T>;

export interface PineconeSourcePort {
  describeIndex(): Promise<IndexDescription>;
  /** Every namespace with its record count (list namespaces, page by page; describe_index_stats where that is not offered). */
  listNamespaces(runRequest?: SourceRequestRunner): Promise<NamespaceInfo[]>;
  listPage(namespace: string, paginationToken: string | null, limit?: number): Promise<ListPage>;
  /** Vectors for the ids that exist; missing ids are simply absent. */
  fetch(namespace: string, ids: string[]): Promise<SourceVector[]>;
}

// ---------------------------------------------------------------- Milvus (sink)
//
// One adapter per target connection (`MilvusTarget`), seen through three ports by who uses them:
// the controller's set-up (`SinkAdmin`), the loader (`SinkWriter`), verification (`SinkReader`).

/** A batch written to one place: the whole collection (partition key mode) or one partition. */
export interface RowBatch {
  partition?: string | undefined;
  records: VectorRecord[];
}

/** A record of a batch that the target will never take (after Redpanda Connect's `BatchError.Failed(i, err)`). */
export interface WriteRejection {
  /** Index into the batch's records. */
  index: number;
  /** RECORD_INVALID: refused before sending (p2m's rules for the target); RECORD_REJECTED: Milvus refused it. */
  code: 'RECORD_INVALID' | 'RECORD_REJECTED';
  reason: string;
}

export interface WriteResult {
  /** The records not written, each with its reason; every other record of the batch was acknowledged. */
  rejected: WriteRejection[];
}

/** A commit the loader would like to make: everything of `partition` before `offset` was written. */
export interface CommitCandidate {
  partition: number;
  offset: string;
}

export interface SinkAdmin {
  /** What the target can do, asked of the target itself (a scratch collection is made and dropped). */
  capabilities(): Promise<TargetCapabilities>;
  collectionExists(name: string): Promise<boolean>;
  /** Creates the collection (and partitions); idempotent for a collection that already has the plan's schema. */
  createCollection(plan: CollectionPlan): Promise<void>;
  dropCollection(name: string): Promise<void>;
}

export interface SinkWriterOptions {
  /**
   * The target keeps acknowledged writes in memory until a flush (the plan's `flushBeforeCommit`): the
   * writer keeps what it wrote until a flush made it durable, and `preCommit` answers accordingly.
   */
  flushBeforeCommit: boolean;
  /** At most one flush this often (ms, default 2,000); `preCommit` in between answers with nothing new. */
  flushIntervalMs?: number;
  /**
   * What durability cost, for the log: writes found lost and sent again, a flush that failed. A
   * target restart or a failed flush causes them; so do writes sent while the connection was not
   * ready (no epoch to tie them to: the writer waits up to 2 s for it first), written once more.
   */
  onDurability?: (event: DurabilityEvent) => void;
}

/** A confirmation's unusual step (see SinkWriterOptions.onDurability). */
export type DurabilityEvent =
  | {
      kind: 'rewrite';
      /** Records sent again, of how many topic partitions, and the confirmation round (0 = first). */
      records: number;
      partitions: number[];
      round: number;
      /**
       * Why they were suspect: the connection changed since they were written; their write is not
       * tied to a connection (a flush of theirs failed, or the epoch was still unknown when they were
       * sent: the writer waits up to 2 s for its channel first);
       * or the connection says nothing now and a read-back missed them.
       */
      reason: 'epoch-changed' | 'unconfirmed' | 'not-read-back';
      firstId: string;
    }
  | { kind: 'flush-failed'; records: number; partitions: number[]; error: string };

/**
 * The loader's view of the target (after Kafka Connect's `SinkTask.put` / `preCommit`): `write`
 * acknowledges or refuses each record; `preCommit` says which of the loader's wished-for commits are
 * durable now. Whether that takes a flush, a check that the server did not restart meanwhile, or
 * nothing at all (a target with a write-ahead log) is the writer's business, not the loader's.
 */
export interface SinkWriter {
  /**
   * Upserts by primary key. Resolves with the records refused for good; throws an EtlError when the
   * whole batch failed (retriable: retry it; not: the job cannot go on, e.g. Milvus refuses every record).
   * `partition` is the records topic partition the batch came from (for `preCommit` and `forget`).
   */
  write(batch: RowBatch, partition: number): Promise<WriteResult>;
  /**
   * The candidates whose writes are durable now (a subset; the others are asked again later). Every
   * write they cover must have resolved before the call. Throws a retriable EtlError while the target
   * is unreachable, a permanent one when writes cannot be confirmed after a bounded number of rewrites.
   */
  preCommit(candidates: CommitCandidate[]): Promise<CommitCandidate[]>;
  /** This loader lost these partitions: what it wrote for them is no longer its to confirm or rewrite. */
  forget(partitions: number[]): void;
}

/** A record's place in the target: its namespace ('' = default) and its Pinecone id. */
export interface RecordKey {
  namespace: string;
  id: string;
}

/**
 * Verification's view of the target. Reconciliation reads it two ways, both in bounded batches and
 * neither one query per namespace: `readByKeys` looks the log's records up by primary key (a point
 * lookup on every server, Milvus Lite included), `scanKeys` walks the whole collection in primary-key
 * order (a query iterator; each page is a full scan on Milvus Lite, so it is kept for naming rows the
 * log does not hold, which the row counts reveal first).
 */
export interface SinkReader {
  flush(plan: CollectionPlan): Promise<void>;
  /** Creates the plan's indexes and waits until they are built; `onProgress` hears the rows indexed of the rows to index. */
  createIndexes(plan: CollectionPlan, onProgress?: (indexedRows: number, totalRows: number) => void): Promise<void>;
  loadCollection(plan: CollectionPlan): Promise<void>;
  /** count(*) per source namespace ('' = default). The collection must be loaded. */
  countByNamespace(plan: CollectionPlan, namespaces: string[]): Promise<Map<string, number>>;
  /** Ids of a namespace in primary-key order, `limit` after `afterId` (exclusive). The collection must be loaded. */
  listIds(plan: CollectionPlan, namespace: string, afterId: string | null, limit: number): Promise<string[]>;
  /** The stored records for these ids in that namespace, read back as the source model. The collection must be loaded. */
  getRecords(plan: CollectionPlan, namespace: string, ids: string[]): Promise<VectorRecord[]>;
  /** For these ids, the namespaces holding each (in `id` mode at most one). The collection must be loaded. */
  holdersOf(plan: CollectionPlan, ids: string[]): Promise<Map<string, string[]>>;
  /** count(*) of the whole collection, in one query. The collection must be loaded. */
  countRows(plan: CollectionPlan): Promise<number>;
  /**
   * The rows stored under these records' primary keys, read back as the source model, in no
   * particular order; a key without a row is simply absent. In partitions mode each key is looked up
   * in its namespace's partition. In `id` mode with a partition key the id alone is the primary key,
   * so the row found may belong to another namespace than the key's (its `namespace` says which).
   * The collection must be loaded.
   */
  readByKeys(plan: CollectionPlan, keys: readonly RecordKey[]): Promise<VectorRecord[]>;
  /**
   * Every row's namespace and id, the whole collection in primary-key order (partition by partition
   * in partitions mode), in pages of at most `pageSize` rows. The collection must be loaded.
   */
  scanKeys(plan: CollectionPlan, pageSize?: number): AsyncIterable<RecordKey[]>;
}

/** One connection to a Milvus / Zilliz Cloud target; the three ports share it. */
export interface MilvusTarget extends SinkAdmin, SinkReader {
  writer(plan: CollectionPlan, options: SinkWriterOptions): SinkWriter;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- Kafka (log)

export interface OutgoingMessage {
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: Record<string, string>;
  partition?: number;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Compacted topics keep the last value per key (job state, checkpoints). */
  compacted?: boolean;
  /** -1 keeps the log forever (the records topic is the migration's backup). */
  retentionMs?: number;
  /** The topic's `max.message.bytes` (Kafka's default is 1 MB); raised on an existing topic too. */
  maxMessageBytes?: number;
  /**
   * `segment.ms`: how often the topic starts a new segment. Kafka never compacts the segment being
   * written, whose default life is 7 days or 1 GB: a compacted state topic needs a shorter one, or
   * it keeps every value ever written and each process start reads them all. Set on an existing
   * topic too, as are `compacted` and the retention.
   */
  segmentMs?: number;
}

export interface PartitionOffset {
  partition: number;
  offset: string;
  /** Stored with the commit atomically (Kafka offset metadata), e.g. counts up to this offset. */
  metadata?: string | null;
}

export interface LogProducer {
  /** Resolves once every message is acknowledged by all in-sync replicas (acks=all, idempotent). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerBatch {
  topic: string;
  partition: number;
  messages: IncomingMessage[];
  /** Mark progress inside a long batch so a rebalance does not redo it all. */
  heartbeat(): Promise<void>;
  /** True once this partition was revoked or the consumer stops: abandon the batch, commit nothing. */
  isStale(): boolean;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /** Called with the partitions this member owns after every rebalance (group membership as a lease). */
  onAssignment?: (assigned: { topic: string; partition: number }[]) => void;
  /** Bound on one fetch, so a batch of 768-d records stays within memory targets. */
  maxBytesPerPartition?: number;
  /**
   * A fetch waits at the broker until this many bytes are there, or `maxWaitMs` passed: a loader
   * reading a topic that is still being filled gets fuller batches instead of a trickle of small ones.
   */
  minBytes?: number;
  /** Longest wait of one fetch (default 1 s; `stop` waits for the fetch in flight). */
  maxWaitMs?: number;
  /**
   * Batches of different partitions handled at once (default 1). A partition's own batches are
   * always handled one after another, so its commits stay in order.
   */
  partitionsConsumedConcurrently?: number;
}

export interface LogConsumer {
  /**
   * Runs the handler per fetched batch; offsets are committed only through `commit` after the
   * handler's writes are acknowledged downstream. Resolves when `stop` is called.
   */
  run(handler: (batch: ConsumerBatch) => Promise<void>): Promise<void>;
  /** Commit `offset` = the next offset to read, per partition. */
  commit(topic: string, offsets: PartitionOffset[]): Promise<void>;
  stop(): Promise<void>;
}

export interface LogAdmin {
  /** Creates the topic if absent; returns false when it already existed. */
  ensureTopic(spec: TopicSpec): Promise<boolean>;
  deleteTopic(topic: string): Promise<void>;
  topicExists(topic: string): Promise<boolean>;
  /** Every topic of the cluster: one request, whatever the number of topics asked about. */
  listTopics(): Promise<string[]>;
  /** High watermarks (next offset to be written) and low watermarks per partition. */
  topicOffsets(topic: string): Promise<{ partition: number; high: string; low: string }[]>;
  /** Committed offsets of a consumer group for a topic ('-1' where nothing was committed). */
  groupOffsets(group: string, topic: string): Promise<PartitionOffset[]>;
  /** Members currently in a consumer group (0 when it is empty or unknown). */
  groupMemberCount(group: string): Promise<number>;
  /** Reset a group's offsets to the start of the topic (replay). The group must be empty. */
  resetGroupOffsets(group: string, topic: string): Promise<void>;
  close(): Promise<void>;
}

export type { Metadata };

/** A subscription that follows a topic from the beginning without committing (state rebuilds). */
export interface TopicTail {
  stop(): Promise<void>;
}

/** Everything a runtime needs from the log, in one place (the Kafka adapter implements it). */
export interface LogClient {
  producer(): LogProducer;
  consumer(options: ConsumerOptions): LogConsumer;
  admin(): LogAdmin;
  /** Every message of a topic up to its current high watermarks (compacted state topics). */
  readTopicToEnd(topic: string): Promise<IncomingMessage[]>;
  /** Stream a topic from the beginning up to the high watermarks of the moment of the call. */
  scanToEnd(topic: string, handler: (message: IncomingMessage) => Promise<void> | void): Promise<void>;
  /**
   * Follow a topic from the beginning; the handler sees every message in partition order. Resolves
   * once the handler has seen the topic up to its high watermarks of the moment of the call.
   */
  tail(topic: string, handler: (message: IncomingMessage) => Promise<void> | void): Promise<TopicTail>;
}
