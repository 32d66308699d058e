import { CHECKPOINTS_TOPIC, EtlError, type IncomingMessage, type LogProducer } from '@p2m/core';

/**
 * Extractor checkpoints: per job and namespace, where listing stands. Saved only after the page's
 * records were acknowledged by Kafka, so a restart re-publishes at most one page and skips none.
 * Kafka is the only store: the compacted topic `p2m.checkpoints` keeps the last value per key.
 */

export interface Checkpoint {
  jobId: string;
  /** '' is the default namespace. */
  namespace: string;
  /** The token for the next page to list; null before the first page and after the last one. */
  paginationToken: string | null;
  /** Records published for this namespace, each page counted once however often it was sent. */
  recordsPublished: number;
  /** Pages listed and published. 0 with a null token: nothing done yet; >0 with a null token: listing complete. */
  pages: number;
  /** The end-of-namespace markers were acknowledged on every partition. */
  done: boolean;
  /** When it was saved, ms since the epoch (`schemas/checkpoint.avsc`: timestamp-millis). */
  updatedAt?: number;
}

export interface CheckpointStore {
  /** Every namespace's latest checkpoint of the job. */
  load(jobId: string): Promise<Map<string, Checkpoint>>;
  /** Resolves once the checkpoint is durable. */
  save(checkpoint: Checkpoint): Promise<void>;
}

export function checkpointKey(jobId: string, namespace: string): string {
  return `extract/${jobId}/${namespace}`;
}

export function initialCheckpoint(jobId: string, namespace: string): Checkpoint {
  return { jobId, namespace, paginationToken: null, recordsPublished: 0, pages: 0, done: false };
}

/** An in-memory store (tests, the embedded single-process run with nothing to resume). */
export interface MemoryCheckpointStore extends CheckpointStore {
  /** Every save, in order. */
  readonly history: Checkpoint[];
}

export function createMemoryCheckpointStore(initial: Checkpoint[] = []): MemoryCheckpointStore {
  const latest = new Map<string, Checkpoint>();
  const history: Checkpoint[] = [];
  for (const cp of initial) latest.set(checkpointKey(cp.jobId, cp.namespace), { ...cp });
  return {
    history,
    async load(jobId) {
      const out = new Map<string, Checkpoint>();
      for (const cp of latest.values()) if (cp.jobId === jobId) out.set(cp.namespace, { ...cp });
      return out;
    },
    async save(cp) {
      latest.set(checkpointKey(cp.jobId, cp.namespace), { ...cp });
      history.push({ ...cp });
    },
  };
}

// ---------------------------------------------------------------- JSON codec (default)

export function encodeCheckpointJson(cp: Checkpoint): Buffer {
  const { jobId, namespace, paginationToken, recordsPublished, pages, done, updatedAt } = cp;
  return Buffer.from(JSON.stringify({ jobId, namespace, paginationToken, recordsPublished, pages, done, updatedAt }));
}

export function decodeCheckpointJson(value: Buffer): Checkpoint {
  const v = JSON.parse(value.toString('utf8')) as Partial<Record<keyof Checkpoint, unknown>>;
  const ok =
    typeof v.jobId === 'string' &&
    typeof v.namespace === 'string' &&
    (v.paginationToken === null || typeof v.paginationToken === 'string') &&
    typeof v.recordsPublished === 'number' &&
    typeof v.pages === 'number' &&
    typeof v.done === 'boolean' &&
    (v.updatedAt === undefined || typeof v.updatedAt === 'number');
  if (!ok) throw new EtlError('INTERNAL', 'a checkpoint in p2m.checkpoints does not have the expected shape');
  return v as Checkpoint;
}

// ---------------------------------------------------------------- Kafka-backed store

export interface LogCheckpointStoreOptions {
  producer: LogProducer;
  /** Every message of a topic from the beginning to the current end, in offset order per partition. */
  readAll: (topic: string) => Promise<IncomingMessage[]>;
  encode?: (cp: Checkpoint) => Promise<Buffer> | Buffer;
  decode?: (value: Buffer) => Promise<Checkpoint> | Checkpoint;
  topic?: string;
}

export function createLogCheckpointStore(options: LogCheckpointStoreOptions): CheckpointStore {
  const topic = options.topic ?? CHECKPOINTS_TOPIC;
  const encode = options.encode ?? encodeCheckpointJson;
  const decode = options.decode ?? decodeCheckpointJson;
  return {
    async load(jobId) {
      const prefix = checkpointKey(jobId, '');
      // Last value per key wins, as compaction will eventually make it; a null value is a tombstone.
      const latest = new Map<string, Buffer | null>();
      for (const message of await options.readAll(topic)) {
        const key = message.key?.toString('utf8');
        if (key === undefined || !key.startsWith(prefix)) continue;
        latest.set(key, message.value);
      }
      const out = new Map<string, Checkpoint>();
      for (const value of latest.values()) {
        if (value === null) continue;
        const cp = await decode(value);
        if (cp.jobId === jobId) out.set(cp.namespace, cp);
      }
      return out;
    },
    async save(cp) {
      await options.producer.send(topic, [{ key: checkpointKey(cp.jobId, cp.namespace), value: await encode(cp) }]);
    },
  };
}
