import { describe, expect, it } from 'vitest';
import { EtlError, JOB_STATUSES } from '@p2m/core';
import { checkpointCodec, jobStateCodec, type CheckpointValue, type JobStateValue } from './state.ts';

describe('checkpoint codec', () => {
  const cp: CheckpointValue = {
    jobId: 'j1',
    namespace: '',
    paginationToken: 'tok==',
    recordsPublished: 1200,
    pages: 12,
    done: false,
    updatedAt: 1_764_000_000_000,
  };

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

describe('avroStateCodec', () => {
  it('round-trips a job record, keeping secrets sealed in specEncrypted and out of the clear fields', async () => {
    const { avroStateCodec } = await import('./state.ts');
    const record = {
      id: '20261125-abcd',
      status: 'FAILED',
      createdAt: '2026-11-25T10:00:00.000Z',
      updatedAt: '2026-11-25T10:05:00.123Z',
      generation: 3,
      mode: 'replay',
      topicJobId: '20261125-abcd',
      spec: { source: { apiKey: '', index: 'i' }, target: { address: 'a', collection: 'c' } },
      sealedSecrets: 'v1.aXY=.dGFn.Ym9keQ==',
      plan: { collection: 'c' },
      error: { code: 'VERIFICATION_FAILED', message: 'missing 3', at: 'verification' },
    } as unknown as import('@p2m/core').JobRecord;
    const bytes = avroStateCodec.encodeJob(record);
    expect(avroStateCodec.decodeJob(bytes)).toEqual(record);
    const decoded = jobStateCodec.decode(bytes);
    expect(decoded.specEncrypted.toString('utf8')).toBe(record.sealedSecrets);
    expect(decoded.finishedAt).toBe(Date.parse(record.updatedAt));
  });

  it('round-trips checkpoints and worker reports', async () => {
    const { avroStateCodec } = await import('./state.ts');
    const cp = { jobId: 'j', namespace: '', paginationToken: null, recordsPublished: 5, pages: 1, done: true, updatedAt: 1_700_000_000_000 };
    expect(avroStateCodec.decodeCheckpoint(avroStateCodec.encodeCheckpoint(cp))).toEqual(cp);
    const w = {
      jobId: 'j',
      role: 'loader' as const,
      workerId: 'w',
      generation: 2,
      state: 'failed' as const,
      error: { code: 'X', message: 'm', at: 'p3:17' },
      at: '2026-11-25T10:00:00.000Z',
    };
    expect(avroStateCodec.decodeWorker(avroStateCodec.encodeWorker(w))).toEqual(w);
    const ok = { ...w, state: 'running' as const, error: undefined };
    expect(avroStateCodec.decodeWorker(avroStateCodec.encodeWorker(ok))).toEqual(ok);
  });

  it("stores a large detail gzipped (a job of 20,000 namespaces under Kafka's 1 MB limit) and reads it back", async () => {
    const { avroStateCodec, packDetail, unpackDetail } = await import('./state.ts');
    const namespaces = Array.from({ length: 20_000 }, (_, i) => ({ name: `tenant-${i}`, recordCount: i % 3 }));
    const record = {
      id: 'j',
      status: 'SUCCESSFUL',
      createdAt: '2026-11-25T10:00:00.000Z',
      updatedAt: '2026-11-25T10:05:00.000Z',
      generation: 1,
      mode: 'extract',
      topicJobId: 'j',
      sealedSecrets: 's',
      plan: { source: { namespaces } },
      finalProgress: {
        namespaces: namespaces.map((n) => ({
          namespace: n.name,
          sourceCount: n.recordCount,
          extracted: n.recordCount,
          loaded: n.recordCount,
          failed: 0,
          extractionDone: true,
        })),
      },
    } as unknown as import('@p2m/core').JobRecord;
    const plain = JSON.stringify(record).length;
    const bytes = avroStateCodec.encodeJob(record);
    expect(plain).toBeGreaterThan(1024 * 1024);
    expect(bytes.length).toBeLessThan(plain / 5);
    expect(avroStateCodec.decodeJob(bytes)).toEqual(record);
    // Small details stay plain JSON; records written before compression existed still read.
    expect(packDetail('{"a":1}')).toBe('{"a":1}');
    expect(unpackDetail('{"a":1}')).toBe('{"a":1}');
  });
});
