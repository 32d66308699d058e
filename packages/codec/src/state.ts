import { EtlError, type JobStatus } from '@p2m/core';
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
