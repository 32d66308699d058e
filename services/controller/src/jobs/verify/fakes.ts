// Test support for verification's unit tests (imported by *.test.ts only): an in-memory records
// topic and DLQ, a target that behaves like Milvus towards verification (primary-key lookups,
// count(*), a key walk), and a loader that fills it from the log the way the real one does
// (partition order, last write wins, refused records to the DLQ).
import {
  dlqTopic,
  parseJobSpec,
  planCollection,
  primaryKeyOf,
  recordKey,
  recordsTopic,
  rejectionReason,
  type CollectionPlan,
  type DlqEntry,
  type IncomingMessage,
  type JobRecord,
  type LogClient,
  type LogRecord,
  type RecordKey,
  type SinkReader,
  type TargetCapabilities,
  type VectorRecord,
} from '@p2m/core';

export function encodeRecord(r: LogRecord): Buffer {
  if (r.kind === 'end') return Buffer.from(JSON.stringify(r));
  return Buffer.from(
    JSON.stringify({
      ...r,
      values: r.values ? Array.from(r.values) : null,
      sparse: r.sparse ? { indices: r.sparse.indices, values: Array.from(r.sparse.values) } : null,
    }),
  );
}

export async function decodeRecord(value: Buffer): Promise<LogRecord> {
  const o = JSON.parse(value.toString('utf8')) as LogRecord & { values: number[] | null; sparse: { indices: number[]; values: number[] } | null };
  if (o.kind === 'end') return o;
  return {
    ...o,
    values: o.values ? Float32Array.from(o.values) : null,
    sparse: o.sparse ? { indices: o.sparse.indices, values: Float32Array.from(o.sparse.values) } : null,
  };
}

/** Kafka's default partitioner is not needed: any stable function of the key keeps a record's copies in one partition. */
function partitionOf(key: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(h) % partitions;
}

export class MemoryLog implements LogClient {
  readonly topics = new Map<string, IncomingMessage[][]>();
  scans = 0;

  topic(name: string, partitions = 1): IncomingMessage[][] {
    let t = this.topics.get(name);
    if (!t) this.topics.set(name, (t = Array.from({ length: partitions }, () => [])));
    return t;
  }

  append(topic: string, key: string, value: Buffer, partition?: number): void {
    const t = this.topic(topic);
    const p = partition ?? partitionOf(key, t.length);
    t[p]!.push({ topic, partition: p, offset: String(t[p]!.length), key: Buffer.from(key), value, headers: {}, timestamp: '0' });
  }

  producer() {
    return {
      send: async (topic: string, messages: { key: string | Buffer | null; value: Buffer | null }[]) => {
        for (const m of messages) this.append(topic, String(m.key), m.value!);
      },
      close: async () => undefined,
    };
  }

  admin() {
    return {
      topicExists: async (topic: string) => this.topics.has(topic),
      topicOffsets: async (topic: string) => this.topic(topic).map((p, partition) => ({ partition, high: String(p.length), low: '0' })),
      close: async () => undefined,
    } as unknown as ReturnType<LogClient['admin']>;
  }

  consumer(): never {
    throw new Error('verification does not consume with a group');
  }

  async readTopicToEnd(topic: string): Promise<IncomingMessage[]> {
    return this.topic(topic).flat();
  }

  /** Partitions interleaved, each in order, as a consumer of several partitions sees them. */
  async scanToEnd(topic: string, handler: (m: IncomingMessage) => Promise<void> | void): Promise<void> {
    this.scans++;
    const t = this.topic(topic);
    const ends = t.map((p) => p.length);
    for (let i = 0; i < Math.max(0, ...ends); i++) for (let p = 0; p < t.length; p++) if (i < ends[p]!) await handler(t[p]![i]!);
  }

  tail(): never {
    throw new Error('not used');
  }

  dlqEntries(jobId: string): DlqEntry[] {
    return (this.topics.get(dlqTopic(jobId)) ?? []).flat().map((m) => JSON.parse(m.value!.toString('utf8')) as DlqEntry);
  }
}

/** A Milvus collection as verification sees it. `samePkPerPartition` keeps one row per partition (Milvus Lite does). */
export class MemoryTarget implements SinkReader {
  /** partition ('' in partition-key mode) → primary key → row. */
  readonly rows = new Map<string, Map<string, VectorRecord>>();
  readonly plan: CollectionPlan;
  readonly samePkPerPartition: boolean;
  lookups = 0;
  walks = 0;

  constructor(plan: CollectionPlan, options: { samePkPerPartition?: boolean } = {}) {
    this.plan = plan;
    this.samePkPerPartition = options.samePkPerPartition ?? true;
  }

  #partition(ns: string): string | undefined {
    return this.plan.namespaceMode === 'partitionKey' ? '' : this.plan.partitions[ns];
  }

  upsert(r: VectorRecord): void {
    const part = this.#partition(r.namespace)!;
    const pk = primaryKeyOf(this.plan, r.namespace, r.id);
    if (!this.samePkPerPartition) for (const rows of this.rows.values()) rows.delete(pk);
    let rows = this.rows.get(part);
    if (!rows) this.rows.set(part, (rows = new Map()));
    rows.set(pk, r); // verification never changes what it reads
  }

  delete(ns: string, id: string): void {
    this.rows.get(this.#partition(ns)!)?.delete(primaryKeyOf(this.plan, ns, id));
  }

  get(ns: string, id: string): VectorRecord | undefined {
    return this.rows.get(this.#partition(ns)!)?.get(primaryKeyOf(this.plan, ns, id));
  }

  async flush(): Promise<void> {}
  async createIndexes(): Promise<void> {}
  async loadCollection(): Promise<void> {}
  async countByNamespace(): Promise<Map<string, number>> {
    throw new Error('verification counts the collection once, not per namespace');
  }
  async listIds(): Promise<string[]> {
    throw new Error('not used by verification');
  }
  async getRecords(): Promise<VectorRecord[]> {
    throw new Error('not used by verification');
  }
  async holdersOf(_plan: CollectionPlan, ids: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const [part, rows] of this.rows) {
      const ns = Object.entries(this.plan.partitions).find(([, p]) => p === part)?.[0] ?? '';
      for (const id of ids) if (rows.has(id)) out.set(id, [...(out.get(id) ?? []), ns]);
    }
    return out;
  }
  async countRows(): Promise<number> {
    return [...this.rows.values()].reduce((s, r) => s + r.size, 0);
  }
  async readByKeys(plan: CollectionPlan, keys: readonly RecordKey[]): Promise<VectorRecord[]> {
    this.lookups++;
    const out = new Map<string, VectorRecord>();
    for (const k of keys) {
      const part = this.#partition(k.namespace);
      if (part === undefined) continue;
      const pk = primaryKeyOf(plan, k.namespace, k.id);
      const row = this.rows.get(part)?.get(pk);
      if (row) out.set(`${part}\u0000${pk}`, row);
    }
    return [...out.values()];
  }
  async *scanKeys(): AsyncIterable<RecordKey[]> {
    this.walks++;
    for (const rows of this.rows.values()) {
      const keys = [...rows.values()].map((r) => ({ namespace: r.namespace, id: r.id }));
      for (let i = 0; i < keys.length; i += 3) yield keys.slice(i, i + 3);
    }
  }
}

export const CAPS: TargetCapabilities = {
  serverVersion: 'fake',
  milvusVersion: '2.6.0',
  sparseVectors: { value: true, how: 'documented', detail: '' },
  nullableVectors: { value: true, how: 'documented', detail: '' },
  emptySparseRows: { value: true, how: 'documented', detail: '' },
  partitionKey: { value: true, how: 'documented', detail: '' },
  upsertHonoursPartitionKey: { value: true, how: 'documented', detail: '' },
  upsertReplacesDynamicField: { value: true, how: 'documented', detail: '' },
  maxPartitions: { value: 1024, how: 'documented', detail: '' },
  dynamicField: { value: true, how: 'documented', detail: '' },
  persistsAcknowledgedWrites: { value: true, how: 'documented', detail: '' },
  queryNeedsLoad: { value: true, how: 'documented', detail: '' },
  indexNodesApart: { value: null, how: 'unknown', detail: '' },
};

export interface JobOptions {
  namespaces: Record<string, number>;
  primaryKey?: 'id' | 'namespaceAndId';
  partitionKey?: boolean;
  metric?: 'cosine' | 'dotproduct';
  mode?: 'extract' | 'replay';
}

export function makeJob(o: JobOptions): JobRecord {
  const spec = parseJobSpec({
    source: { apiKey: 'k', index: 'idx' },
    target: { address: 'fake:19530', collection: 'c', partitionKey: o.partitionKey ?? true, primaryKey: o.primaryKey ?? 'id' },
  });
  const plan = planCollection({
    spec,
    index: { name: 'idx', dimension: 3, metric: o.metric ?? 'cosine', vectorType: 'dense', deployment: 'serverless', host: 'h', ready: true },
    namespaces: Object.entries(o.namespaces).map(([name, recordCount]) => ({ name, recordCount })),
    capabilities: CAPS,
  });
  return {
    id: 'job1',
    status: 'VERIFYING',
    createdAt: '',
    updatedAt: '',
    generation: 1,
    mode: o.mode ?? 'extract',
    topicJobId: 'job1',
    spec,
    sealedSecrets: '',
    plan,
  };
}

export function vector(namespace: string, id: string, x = 1, extra: Partial<VectorRecord> = {}): VectorRecord {
  return { kind: 'vector', namespace, id, values: Float32Array.from([x, 2, 3]), sparse: null, metadata: { n: x }, ...extra };
}

/** Publishes records and each namespace's end markers, as the extractor does. */
export function publish(log: MemoryLog, job: JobRecord, records: VectorRecord[], partitions = 3, ends: Record<string, number> = {}): void {
  const topic = recordsTopic(job.topicJobId);
  log.topic(topic, partitions);
  for (const r of records) log.append(topic, recordKey(r.namespace, r.id), encodeRecord(r));
  for (const [namespace, count] of Object.entries(ends)) {
    for (let p = 0; p < partitions; p++) log.append(topic, recordKey(namespace, ''), encodeRecord({ kind: 'end', namespace, count }), p);
  }
}

/** What the loader does: every partition in order, valid records upserted, the others to the DLQ. */
export async function load(log: MemoryLog, job: JobRecord, target: MemoryTarget): Promise<void> {
  for (const partition of log.topic(recordsTopic(job.topicJobId))) {
    for (const m of partition) {
      const r = await decodeRecord(m.value!);
      if (r.kind !== 'vector') continue;
      const reason = rejectionReason(job.plan, r);
      if (reason === null) target.upsert(r);
      else {
        const entry: DlqEntry = { namespace: r.namespace, id: r.id, code: 'RECORD_INVALID', reason, at: '', source: `${m.partition}:${m.offset}` };
        log.append(dlqTopic(job.id), recordKey(r.namespace, r.id), Buffer.from(JSON.stringify(entry)));
      }
    }
  }
  log.topic(dlqTopic(job.id));
}
