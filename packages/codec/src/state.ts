import { gunzipSync, gzipSync } from 'node:zlib';
import { EtlError, TERMINAL_STATUSES, type Checkpoint, type JobRecord, type JobStatus, type StateCodec, type WorkerStatus } from '@p2m/core';
import { defineCodec, loadSchema, type AvroCodec } from './avro-codec.ts';

/**
 * Codecs of the two compacted state topics: extractor checkpoints (`schemas/checkpoint.avsc`) and job
 * state (`schemas/job-state.avsc`). Timestamps are epoch milliseconds.
 */

export interface CheckpointValue {
  jobId: string;
  /** '' is the default namespace. */
  namespace: string;
  /** Token of the next list page; null before the first page and after the last. */
  paginationToken: string | null;
  recordsPublished: number;
  pages: number;
  done: boolean;
  updatedAt: number;
}

export interface JobStateValue {
  jobId: string;
  /** The schema's enum lists exactly core's `JOB_STATUSES` (a unit test holds them together). */
  status: JobStatus;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Bumped on every resume or replay. */
  generation: number;
  error: { code: string; message: string } | null;
  /** The spec, encrypted: it holds secrets, which never go to Kafka in clear. */
  specEncrypted: Buffer;
  /** JSON text: plan, progress, report. */
  detail: string;
}

function checkCount(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EtlError('RECORD_INVALID', `${field} must be a non-negative integer, got ${value}`, { retriable: false, field });
  }
}

export const checkpointCodec: AvroCodec<CheckpointValue> = defineCodec<CheckpointValue>({
  name: 'checkpoint',
  schema: loadSchema('checkpoint'),
  toAvro(v) {
    checkCount(v.recordsPublished, 'recordsPublished');
    checkCount(v.pages, 'pages');
    checkCount(v.updatedAt, 'updatedAt');
    return v;
  },
  fromAvro: (v) => ({ ...(v as CheckpointValue) }),
});

export const jobStateCodec: AvroCodec<JobStateValue> = defineCodec<JobStateValue>({
  name: 'job-state',
  schema: loadSchema('job-state'),
  toAvro(v) {
    checkCount(v.generation, 'generation');
    if (!Buffer.isBuffer(v.specEncrypted)) {
      return { ...v, specEncrypted: Buffer.from(v.specEncrypted as Uint8Array) };
    }
    return v;
  },
  fromAvro(v) {
    const s = v as JobStateValue;
    return { ...s, error: s.error === null ? null : { code: s.error.code, message: s.error.message } };
  },
});

export interface WorkerStatusValue {
  jobId: string;
  role: 'extractor' | 'loader';
  workerId: string;
  generation: number;
  state: 'running' | 'stopped' | 'done' | 'failed';
  error: { code: string; message: string; at: string | null } | null;
  at: number;
}

export const workerStatusCodec: AvroCodec<WorkerStatusValue> = defineCodec<WorkerStatusValue>({
  name: 'worker-status',
  schema: loadSchema('worker-status'),
  toAvro: (v) => v,
  fromAvro: (v) => ({ ...(v as WorkerStatusValue) }),
});

const ms = (iso: string | undefined): number => (iso ? Date.parse(iso) : 0);
const iso = (n: number): string => new Date(n).toISOString();

/** What of a job record the typed fields of job-state.avsc do not hold. */
type JobDetail = Omit<JobRecord, 'id' | 'status' | 'createdAt' | 'updatedAt' | 'generation' | 'sealedSecrets'>;

/**
 * A job's detail grows with its namespaces (the plan lists them; progress and the report have a line
 * each): at 5,000 namespaces it passed Kafka's 1 MB message limit and the finished job could not be
 * written. Past this size it is stored gzipped (JSON of per-namespace lines shrinks about tenfold), as
 * `gz:` + base64 in the same string field, so the schema and older records stay as they are.
 */
const COMPRESS_FROM_BYTES = 16 * 1024;
const GZIP_PREFIX = 'gz:';

export function packDetail(json: string): string {
  if (Buffer.byteLength(json, 'utf8') < COMPRESS_FROM_BYTES) return json;
  return GZIP_PREFIX + gzipSync(json).toString('base64');
}

export function unpackDetail(detail: string): string {
  return detail.startsWith(GZIP_PREFIX) ? gunzipSync(Buffer.from(detail.slice(GZIP_PREFIX.length), 'base64')).toString('utf8') : detail;
}

/**
 * The state topics in Avro: job records as `job-state.avsc` (secrets only ever sealed, in
 * `specEncrypted`; the fast-changing rest as JSON in `detail`), checkpoints as `checkpoint.avsc`,
 * worker reports as `worker-status.avsc`.
 */
export const avroStateCodec: StateCodec = {
  encodeJob(r) {
    const { id, status, createdAt, updatedAt, generation, sealedSecrets, ...detail } = r;
    return jobStateCodec.encode({
      jobId: id,
      status,
      createdAt: ms(createdAt),
      updatedAt: ms(updatedAt),
      startedAt: null,
      finishedAt: TERMINAL_STATUSES.has(status) ? ms(updatedAt) : null,
      generation,
      error: detail.error ? { code: detail.error.code, message: detail.error.message } : null,
      specEncrypted: Buffer.from(sealedSecrets, 'utf8'),
      detail: packDetail(JSON.stringify(detail satisfies JobDetail)),
    });
  },
  decodeJob(value) {
    const v = jobStateCodec.decode(value);
    const detail = JSON.parse(unpackDetail(v.detail)) as JobDetail;
    return {
      ...detail,
      id: v.jobId,
      status: v.status,
      createdAt: iso(v.createdAt),
      updatedAt: iso(v.updatedAt),
      generation: v.generation,
      sealedSecrets: v.specEncrypted.toString('utf8'),
    };
  },
  encodeCheckpoint: (c: Checkpoint) => checkpointCodec.encode({ ...c, updatedAt: c.updatedAt ?? Date.now() }),
  decodeCheckpoint: (value) => checkpointCodec.decode(value),
  encodeWorker: (w: WorkerStatus) =>
    workerStatusCodec.encode({ ...w, error: w.error ? { code: w.error.code, message: w.error.message, at: w.error.at ?? null } : null, at: ms(w.at) }),
  decodeWorker(value) {
    const v = workerStatusCodec.decode(value);
    return { ...v, error: v.error ? { code: v.error.code, message: v.error.message, ...(v.error.at ? { at: v.error.at } : {}) } : undefined, at: iso(v.at) };
  },
};
