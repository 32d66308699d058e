import { describe, expect, it } from 'vitest';
import { EtlError, JOB_STATUSES } from '@p2m/core';
import { checkpointCodec, jobStateCodec, type CheckpointValue, type JobStateValue } from './state.ts';

describe('checkpoint codec', () => {
  const cp: CheckpointValue = { jobId: 'j1', namespace: '', paginationToken: 'tok==', recordsPublished: 1200, pages: 12, done: false, updatedAt: 1_764_000_000_000 };

  it('round-trips, with and without a pagination token', () => {
    expect(checkpointCodec.decode(checkpointCodec.encode(cp))).toEqual(cp);
    const done = { ...cp, paginationToken: null, done: true };
    expect(checkpointCodec.decode(checkpointCodec.encode(done))).toEqual(done);
  });

  it('refuses negative counts', () => {
    expect(() => checkpointCodec.encode({ ...cp, pages: -1 })).toThrow(EtlError);
  });
});

describe('job state codec', () => {
  const state: JobStateValue = {
    jobId: 'j1',
    status: 'IN_PROGRESS',
    createdAt: 1_764_000_000_000,
    updatedAt: 1_764_000_000_500,
    startedAt: 1_764_000_000_100,
    finishedAt: null,
    generation: 2,
    error: null,
    specEncrypted: Buffer.from([1, 2, 3, 250]),
    detail: JSON.stringify({ plan: { collection: 'c' }, progress: { loaded: 10 } }),
  };

  it('round-trips', () => {
    expect(jobStateCodec.decode(jobStateCodec.encode(state))).toEqual(state);
    const failed: JobStateValue = { ...state, status: 'FAILED', finishedAt: 1_764_000_001_000, error: { code: 'TARGET_UNAVAILABLE', message: 'milvus down' } };
    expect(jobStateCodec.decode(jobStateCodec.encode(failed))).toEqual(failed);
  });

  it('lists exactly the job statuses of the job model', () => {
    const statusField = (jobStateCodec.schema as { fields: { name: string; type: { symbols?: string[] } }[] }).fields.find((f) => f.name === 'status')!;
    expect(statusField.type.symbols).toEqual([...JOB_STATUSES]);
  });

  it('refuses an unknown status', () => {
    expect(() => jobStateCodec.encode({ ...state, status: 'PAUSED' as JobStateValue['status'] })).toThrow(EtlError);
  });
});
