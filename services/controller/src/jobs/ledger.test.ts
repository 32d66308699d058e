import { describe, expect, it } from 'vitest';
import { createLogger, type JobBoard, type JobRecord, type JobView } from '@p2m/core';
import { JobLedger } from './ledger.ts';
import type { ProgressTracker } from './progress-tracker.ts';

function ledgerWith(record: JobRecord) {
  const jobs = new Map<string, JobRecord>([[record.id, record]]);
  const board = { jobs, putJob: async (r: JobRecord) => void jobs.set(r.id, r) } as unknown as JobBoard;
  const tracker = { current: () => undefined } as unknown as ProgressTracker;
  const ledger = new JobLedger({ board, tracker, logger: createLogger('test', { level: 'silent' }), view: (r) => r as unknown as JobView });
  return { ledger, jobs };
}

const job = (o: Partial<JobRecord>): JobRecord => ({ id: 'j', status: 'IN_PROGRESS', generation: 1, updatedAt: '2026-12-05T00:00:00.000Z', ...o }) as JobRecord;

describe('JobLedger.finish', () => {
  it('finishes the run it was decided about', async () => {
    const { ledger, jobs } = ledgerWith(job({}));
    await ledger.finish(job({}), 'FAILED', { error: { code: 'LOG_UNAVAILABLE', message: 'Kafka down' } });
    expect(jobs.get('j')).toMatchObject({ status: 'FAILED', generation: 1 });
  });

  it('leaves alone a job resumed meanwhile: a decision about generation 1 does not end generation 2', async () => {
    const resumed = { ...job({}), generation: 2 };
    const { ledger, jobs } = ledgerWith(resumed);
    await ledger.finish(job({}), 'FAILED', { error: { code: 'LOG_UNAVAILABLE', message: 'Kafka down (the outage before the resume)' } });
    expect(jobs.get('j')).toMatchObject({ status: 'IN_PROGRESS', generation: 2 });
  });
});
