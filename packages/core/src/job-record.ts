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

export const workerStatusKey = (s: Pick<WorkerStatus, 'jobId' | 'role' | 'workerId'>): string => `worker/${s.jobId}/${s.role}/${s.workerId}`;
export const checkpointKey = (jobId: string, namespace: string): string => `extract/${jobId}/${namespace}`;

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
