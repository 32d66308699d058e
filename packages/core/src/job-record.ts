import type { JobError, JobProgress, JobStatus, VerificationReport } from './job.ts';
import type { CollectionPlan } from './plan.ts';
import type { JobSpec } from './spec.ts';

/**
 * What the controller keeps in the compacted `p2m.jobs` topic (key = job id): everything needed to
 * drive a job after any restart. The spec is stored without secrets; they travel sealed.
 */
export interface JobRecord {
  id: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  /** Bumped by resume and replay; workers drop work of older generations. */
  generation: number;
  mode: 'extract' | 'replay';
  /** The job whose records topic is read (a replay into a new job reads its origin's topic). */
  topicJobId: string;
  /** The spec with `source.apiKey` and `target.token` blanked. */
  spec: JobSpec;
  /** `sealSecrets({ apiKey, token })`. */
  sealedSecrets: string;
  plan: CollectionPlan;
  error?: JobError | undefined;
  report?: VerificationReport | undefined;
  /** Progress frozen when the job reached a terminal state. */
  finalProgress?: JobProgress | undefined;
  cancelRequestedAt?: string | undefined;
}

/** Worker status records in `p2m.checkpoints` (key `worker/<jobId>/<role>/<workerId>`). */
export interface WorkerStatus {
  jobId: string;
  role: 'extractor' | 'loader';
  workerId: string;
  generation: number;
  state: 'running' | 'stopped' | 'done' | 'failed';
  error?: JobError | undefined;
  at: string;
}

/**
 * Extractor progress for one namespace of a job (key `extract/<jobId>/<namespace>` in
 * `p2m.checkpoints`). Saved only after the page's records were acknowledged by Kafka, so a restart
 * re-publishes at most one page and skips none.
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
  /** When it was saved, ms since the epoch. */
  updatedAt?: number;
}

export const workerStatusKey = (s: Pick<WorkerStatus, 'jobId' | 'role' | 'workerId'>): string => `worker/${s.jobId}/${s.role}/${s.workerId}`;
export const checkpointKey = (jobId: string, namespace: string): string => `extract/${jobId}/${namespace}`;

/**
 * How the state topics' values are written. The services use the Avro codec of `@p2m/codec`
 * (`schemas/job-state.avsc`, `checkpoint.avsc`, `worker-status.avsc`); JSON serves unit tests.
 */
export interface StateCodec {
  encodeJob(record: JobRecord): Buffer;
  decodeJob(value: Buffer): JobRecord;
  encodeCheckpoint(checkpoint: Checkpoint): Buffer;
  decodeCheckpoint(value: Buffer): Checkpoint;
  encodeWorker(status: WorkerStatus): Buffer;
  decodeWorker(value: Buffer): WorkerStatus;
}

export const jsonStateCodec: StateCodec = {
  encodeJob: (r) => encodeJson(r),
  decodeJob: (v) => decodeJson<JobRecord>(v)!,
  encodeCheckpoint: (c) => encodeJson(c),
  decodeCheckpoint: (v) => decodeJson<Checkpoint>(v)!,
  encodeWorker: (w) => encodeJson(w),
  decodeWorker: (v) => decodeJson<WorkerStatus>(v)!,
};

export function redactSpec(spec: JobSpec): JobSpec {
  const { token: _token, ...target } = spec.target;
  return { ...spec, source: { ...spec.source, apiKey: '' }, target };
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function decodeJson<T>(value: Buffer | null): T | null {
  return value ? (JSON.parse(value.toString('utf8')) as T) : null;
}
