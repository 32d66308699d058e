import { checkpointKey, type Checkpoint } from '@p2m/core';

export { checkpointKey, type Checkpoint };

/**
 * Extractor checkpoints: per job and namespace, where listing stands. Saved only after the page's
 * records were acknowledged by Kafka, so a restart re-publishes at most one page and skips none.
 * Kafka is the only store: the workers save through the JobBoard to the compacted topic
 * `p2m.checkpoints`, which keeps the last value per key.
 */

export interface CheckpointStore {
  /** Every namespace's latest checkpoint of the job. */
  load(jobId: string): Promise<Map<string, Checkpoint>>;
  /** Resolves once the checkpoint is durable. */
  save(checkpoint: Checkpoint): Promise<void>;
  /** Several checkpoints in one write (many small namespaces finish together); `save` each when absent. */
  saveMany?(checkpoints: Checkpoint[]): Promise<void>;
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
    async saveMany(cps) {
      for (const cp of cps) await this.save(cp);
    },
  };
}
