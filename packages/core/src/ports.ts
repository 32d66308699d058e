/**
 * Ports to the external systems (after Redpanda Connect: one small interface per system, a real
 * adapter and an in-memory fake behind it). This module imports no client SDK: adapters in
 * `@p2m/pinecone-source`, `@p2m/milvus-sink` and `@p2m/kafka` implement these.
 */
import type { CollectionPlan } from './plan.ts';
import type { Metadata, VectorRecord } from './record.ts';

// ---------------------------------------------------------------- Pinecone (source)

export type PineconeMetric = 'cosine' | 'euclidean' | 'dotproduct';

export interface IndexDescription {
  name: string;
  /** null for a sparse-only index. */
  dimension: number | null;
  metric: PineconeMetric;
  vectorType: 'dense' | 'sparse';
  deployment: 'serverless' | 'pod' | 'unknown';
  host: string;
  ready: boolean;
}

export interface NamespaceInfo {
  /** '' for the default namespace. */
  name: string;
  recordCount: number;
}

export interface ListPage {
  ids: string[];
  /** Token for the next page; null on the last page. */
  next: string | null;
}

/** A vector as the source returned it, before validation. */
export interface SourceVector {
  id: string;
  values?: ArrayLike<number> | undefined;
  sparseValues?: { indices: ArrayLike<number>; values: ArrayLike<number> } | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface PineconeSourcePort {
  describeIndex(): Promise<IndexDescription>;
  /** Every namespace with its record count (from describe_index_stats / list namespaces). */
  listNamespaces(): Promise<NamespaceInfo[]>;
  listPage(namespace: string, paginationToken: string | null, limit?: number): Promise<ListPage>;
  /** Vectors for the ids that exist; missing ids are simply absent. */
  fetch(namespace: string, ids: string[]): Promise<SourceVector[]>;
}

// ---------------------------------------------------------------- Milvus (sink)

/** A batch written to one place: the whole collection (partition key mode) or one partition. */
export interface RowBatch {
  partition?: string | undefined;
  records: VectorRecord[];
}

export interface MilvusSinkPort {
  collectionExists(name: string): Promise<boolean>;
  createCollection(plan: CollectionPlan): Promise<void>;
  dropCollection(name: string): Promise<void>;
  /** Upsert by primary key. Throws an EtlError: retriable for transient failures, not for rejected data. */
  upsert(plan: CollectionPlan, batch: RowBatch): Promise<void>;
  flush(plan: CollectionPlan): Promise<void>;
  createIndexes(plan: CollectionPlan): Promise<void>;
  loadCollection(plan: CollectionPlan): Promise<void>;
  /** count(*) per source namespace ('' = default). */
  countByNamespace(plan: CollectionPlan, namespaces: string[]): Promise<Map<string, number>>;
  /** Ids of a namespace in primary-key order, `limit` after `afterId` (exclusive). */
  listIds(plan: CollectionPlan, namespace: string, afterId: string | null, limit: number): Promise<string[]>;
  /** The stored records for these ids in that namespace, read back as the source model. */
  getRecords(plan: CollectionPlan, namespace: string, ids: string[]): Promise<VectorRecord[]>;
  /** For the ids present in the collection, the namespace that holds each. */
  namespacesOf(plan: CollectionPlan, ids: string[]): Promise<Map<string, string>>;
  /**
   * Whether an acknowledged write survives a crash of the server by itself. Milvus standalone,
   * distributed and Zilliz Cloud: yes (a write-ahead log). Milvus Lite: no, it keeps writes in
   * memory until a flush, so a loader flushes before it commits offsets.
   */
  persistsAcknowledgedWrites(): Promise<boolean>;
  /**
   * Identifies the unbroken connection the writes go over: a number that stays the same while
   * that connection stays up, or null when the sink cannot tell (no connection yet, not ready,
   * writes on a path it cannot watch). The same number read before a write and after a later
   * flush means one server process took both: a server that restarts (and forgets what it had
   * not flushed) breaks the connection, and nothing else can listen on its port meanwhile.
   */
  connectionEpoch(): number | null;
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
  /** Follow a topic from the beginning; the handler sees every message in partition order. */
  tail(topic: string, handler: (message: IncomingMessage) => Promise<void> | void): Promise<TopicTail>;
}
