import type { CollectionPlan } from './plan.ts';
import type { FieldNames, PipelineOptions } from './spec.ts';

/**
 * The job model (DESIGN.md, "Job lifecycle"):
 * PENDING → IN_PROGRESS → VERIFYING → SUCCESSFUL, or FAILED, or CANCELLING → CANCELLED.
 * A FAILED or CANCELLED job can be resumed (from checkpoints and committed offsets) or replayed
 * (re-read its topic into the same or a new collection without touching Pinecone).
 */
export const JOB_STATUSES = ['PENDING', 'IN_PROGRESS', 'VERIFYING', 'SUCCESSFUL', 'FAILED', 'CANCELLING', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['SUCCESSFUL', 'FAILED', 'CANCELLED']);
export const ACTIVE_STATUSES: ReadonlySet<JobStatus> = new Set(['PENDING', 'IN_PROGRESS', 'VERIFYING', 'CANCELLING']);

const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  PENDING: ['IN_PROGRESS', 'FAILED', 'CANCELLING', 'CANCELLED'],
  IN_PROGRESS: ['VERIFYING', 'FAILED', 'CANCELLING'],
  VERIFYING: ['SUCCESSFUL', 'FAILED', 'CANCELLING'],
  SUCCESSFUL: ['IN_PROGRESS'], // replay
  FAILED: ['IN_PROGRESS'], // resume or replay
  CANCELLING: ['CANCELLED', 'FAILED'],
  CANCELLED: ['IN_PROGRESS'], // resume or replay
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface NamespaceProgress {
  namespace: string;
  /** Records the source reported for this namespace when the job was planned. */
  sourceCount: number;
  extracted: number;
  loaded: number;
  /** Records in the dead-letter topic for this namespace. */
  failed: number;
  /** The extractor published the end-of-namespace marker. */
  extractionDone: boolean;
}

export interface ProgressTotals {
  sourceCount: number;
  extracted: number;
  loaded: number;
  failed: number;
}

export interface JobProgress {
  namespaces: NamespaceProgress[];
  total: ProgressTotals;
  /** Loaded records per second over a sliding window. */
  recordsPerSecond: number;
  /** Seconds to go at the current rate; null while unknown. */
  etaSeconds: number | null;
  /** Records in the topic not yet committed by the loader group. */
  consumerLag: number;
  updatedAt: string;
}

export interface RecordMismatch {
  namespace: string;
  id: string;
  field: string;
  reason: string;
}

export interface NamespaceVerification {
  namespace: string;
  sourceCount: number;
  extracted: number;
  targetCount: number;
  dlq: number;
  /** Source ids neither in the target nor in the DLQ. */
  missing: number;
  missingSample: string[];
  ok: boolean;
}

export interface VerificationReport {
  passed: boolean;
  checkedAt: string;
  namespaces: NamespaceVerification[];
  sample: { size: number; compared: number; mismatches: RecordMismatch[] };
  /** Every reason the report did not pass, in words. */
  problems: string[];
  /** Each DLQ'd record, for accounting (capped; the full list is GET /v1/jobs/{id}/errors). */
  dlqSample: DlqEntry[];
}

export interface JobError {
  code: string;
  message: string;
  /** Where it stopped, e.g. "namespace docs, page 12" or "loader partition 3 offset 4711". */
  at?: string;
}

export interface DlqEntry {
  namespace: string;
  id: string;
  code: string;
  reason: string;
  at: string;
  /** Offset of the record in the records topic (partition:offset). */
  source?: string;
}

/** A job as the API shows it: no secret ever appears here. */
export interface JobView {
  id: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  mode: 'extract' | 'replay';
  /** The job whose records topic a replay reads (itself for an ordinary job). */
  topicJobId: string;
  generation: number;
  source: { index: string; controllerHostUrl?: string | undefined; namespaces?: string[] | undefined };
  target: {
    address: string;
    collection: string;
    description?: string | undefined;
    partitionKey: boolean;
    maxIdLength: number;
    primaryKey: 'id' | 'namespaceAndId';
    fields: FieldNames;
  };
  options: PipelineOptions;
  plan?: CollectionPlan | undefined;
  progress: JobProgress;
  error?: JobError | undefined;
  report?: VerificationReport | undefined;
}

export interface ErrorsPage {
  entries: DlqEntry[];
  total: number;
  /** Cursor for the next page; null on the last page. */
  next: string | null;
}

/**
 * What the controller offers, whatever carries it (HTTP, CLI, the embedded run). Throws EtlError:
 * SPEC_INVALID (SpecError with field issues) → 400, TARGET_COLLECTION_EXISTS → 409,
 * JOB_NOT_FOUND → 404, JOB_STATE → 409, SOURCE_* / TARGET_UNSUPPORTED → 400.
 */
export interface JobService {
  create(spec: unknown): Promise<JobView>;
  /** The collection that a spec would create, without creating anything. */
  preview(spec: unknown): Promise<CollectionPlan>;
  list(): Promise<JobView[]>;
  get(id: string): Promise<JobView>;
  cancel(id: string): Promise<JobView>;
  resume(id: string): Promise<JobView>;
  replay(id: string, options: { collection?: string | undefined }): Promise<JobView>;
  errors(id: string, page: { cursor?: string | undefined; limit?: number | undefined }): Promise<ErrorsPage>;
}

export function emptyProgress(): JobProgress {
  return {
    namespaces: [],
    total: { sourceCount: 0, extracted: 0, loaded: 0, failed: 0 },
    recordsPerSecond: 0,
    etaSeconds: null,
    consumerLag: 0,
    updatedAt: new Date(0).toISOString(),
  };
}
