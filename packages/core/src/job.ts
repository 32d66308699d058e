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
  /**
   * When loaded, failed and consumerLag were last read from Kafka. Older than updatedAt: Kafka did
   * not answer since, and they are the figures of that time (the rate is then 0 and the ETA
   * unknown). Null: not read yet, so they show 0. Absent from views written before it existed.
   */
  offsetsAt?: string | null | undefined;
  /** While VERIFYING: which phase runs and how far it is (absent in any other state). */
  verification?: VerificationProgress | undefined;
}

/**
 * The phases of verification, in order: make the target's writes durable and queryable (flush,
 * indexes, load), read the dead-letter queue, reconcile the log against the target (the long one),
 * settle what did not match (dead-lettered, ids held by another namespace, missing, changed), name
 * target rows the log does not hold (only when the counts disagree), compare a sample with the source.
 */
export const VERIFICATION_PHASES = ['flush', 'indexes', 'load', 'dlq', 'reconcile', 'settle', 'unexpected', 'sample'] as const;
export type VerificationPhase = (typeof VERIFICATION_PHASES)[number];

export interface PhaseTiming {
  phase: VerificationPhase;
  /** Seconds the phase took (so far, while it runs). */
  seconds: number;
  done: boolean;
}

/** Where a VERIFYING job stands: the phase, each phase's time, and the reconciliation's own counters. */
export interface VerificationProgress {
  phase: VerificationPhase;
  startedAt: string;
  phases: PhaseTiming[];
  /** Namespaces whose every log record was checked (the log's end markers passed on every partition). */
  namespacesDone: number;
  namespaces: number;
  /** Log records checked against the target, of all the records topic holds. */
  recordsChecked: number;
  recordsTotal: number;
  /** Hash buckets compared / to compare (only while naming rows the log does not hold). */
  bucketsDone: number;
  buckets: number;
  /** Seconds to the end of the current phase at its current rate; null while unknown. */
  etaSeconds: number | null;
}

export interface RecordMismatch {
  namespace: string;
  id: string;
  field: string;
  reason: string;
}

/** Fields marked optional are absent from reports written before they existed (old job records). */
export interface NamespaceVerification {
  namespace: string;
  sourceCount: number;
  /** Distinct records the extractor published (each page counted once, however often it was sent). */
  extracted: number;
  /** Rows of this namespace in the target. */
  targetCount: number;
  /** Distinct records of this namespace in the DLQ. */
  dlq: number;
  /** Extracted records neither in the target nor in the DLQ. */
  missing: number;
  missingSample: string[];
  /** Extracted records whose latest copy in the log differs from what the target holds. */
  changed?: number;
  /** In `id` mode: records whose id another namespace's record holds in the target (now in the DLQ). */
  collisions?: number;
  /** Target rows of this namespace that the log does not hold. */
  unexpected?: number;
  ok: boolean;
}

/** What reconciliation did and saw (the log against the target, in bounded memory). */
export interface ReconciliationSummary {
  /** Records of the log read and checked against the target (every copy, end markers not counted). */
  logRecords: number;
  /** Distinct records the log holds (`extracted` summed). */
  distinctRecords: number;
  /** Copies beyond the first of a record (a page sent again after an extractor restart). */
  duplicateCopies: number;
  /** Rows the target holds (count(*) of the collection). */
  targetRows: number;
  /** Rows the log accounts for: distinct records, less those not in the target. */
  expectedRows: number;
  /** Lookups of primary keys in the target. */
  lookups: number;
  /**
   * Rows the target did not return at the first lookup of their keys but did at the second (a key
   * is only called missing when two reads agree). Non-zero means the target answered late once.
   */
  foundOnSecondRead?: number;
  /** Hash buckets compared and drilled into (only when the row counts disagreed). */
  buckets: number;
  bucketsDrilled: number;
}

export interface VerificationReport {
  passed: boolean;
  checkedAt: string;
  namespaces: NamespaceVerification[];
  /** Namespaces checked in all; `namespaces` lists every one with a problem, then the others up to a cap. */
  namespacesTotal?: number;
  sample: { size: number; compared: number; mismatches: RecordMismatch[] };
  /** Records whose latest copy differs from the target, field by field (capped). */
  changed?: RecordMismatch[];
  /** Target rows the log does not hold (capped). */
  unexpected?: { namespace: string; id: string }[];
  /** `id` mode: records another namespace's copy displaced (capped); each is in the DLQ. */
  idCollisions?: { namespace: string; id: string; heldBy: string }[];
  /** Every reason the report did not pass, in words. */
  problems: string[];
  /** What the operator may want to do although the job passed (e.g. `target.primaryKey: "namespaceAndId"`). */
  advice?: string[];
  /** Seconds each phase of verification took. */
  phases?: PhaseTiming[];
  reconciliation?: ReconciliationSummary;
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

/**
 * Seconds between the view and the last read of the job's offsets from Kafka (how old loaded,
 * failed and consumerLag are); null when they were never read or the view predates the field.
 */
export function offsetsAgeSeconds(progress: JobProgress): number | null {
  const ms = progress.offsetsAt ? Date.parse(progress.updatedAt) - Date.parse(progress.offsetsAt) : NaN;
  return Number.isNaN(ms) ? null : Math.max(0, ms / 1000);
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
