import { describe, expect, it } from 'vitest';
import type { VerificationProgress } from '@p2m/core';
import { progressLine, verificationLine, formatReport } from './follow.ts';
import { finished, jobView } from './job-view.fixture.ts';

const verifying: VerificationProgress = {
  phase: 'reconcile',
  startedAt: '2026-01-01T00:02:00.000Z',
  phases: [
    { phase: 'flush', seconds: 0.4, done: true },
    { phase: 'indexes', seconds: 2.2, done: true },
    { phase: 'load', seconds: 1, done: true },
    { phase: 'dlq', seconds: 0.1, done: true },
    { phase: 'reconcile', seconds: 30, done: false },
  ],
  namespacesDone: 1,
  namespaces: 2,
  recordsChecked: 120_000,
  recordsTotal: 1_000_000,
  bucketsDone: 0,
  buckets: 0,
  etaSeconds: 90,
};

describe('the follower while a job verifies', () => {
  it('shows the phase, how far reconciliation is, its ETA and the time of the phases done', () => {
    expect(verificationLine(verifying)).toBe('reconcile 120,000/1,000,000 records (12.0%), 1/2 namespaces ETA 1m 30s (flush 0s, indexes 2s, load 1s, dlq 0s)');
    const view = jobView({ status: 'VERIFYING' });
    view.progress.verification = verifying;
    expect(progressLine(view)).toContain('VERIFYING');
    expect(progressLine(view)).toContain('reconcile 120,000/1,000,000 records');
    expect(progressLine(view)).not.toContain('rec/s');
  });

  it('prints what reconciliation did and each phase time in the report', () => {
    const done = finished(jobView());
    done.report = {
      ...done.report!,
      phases: verifying.phases.map((p) => ({ ...p, done: true })),
      reconciliation: {
        logRecords: 1_000_003,
        distinctRecords: 1_000_000,
        duplicateCopies: 3,
        targetRows: 999_999,
        expectedRows: 999_999,
        lookups: 489,
        buckets: 1024,
        bucketsDrilled: 0,
      },
      advice: ['1 records share their id with a record of another namespace.'],
      changed: [{ namespace: 'docs', id: 'r1', field: 'vector', reason: 'value 0 is 2 instead of 1' }],
    };
    const lines = formatReport(done.report).join('\n');
    expect(lines).toContain('reconciled 1,000,003 log records (1,000,000 distinct) against 999,999 target rows in 489 lookups');
    expect(lines).toContain('took: flush 0s, indexes 2s, load 1s, dlq 0s, reconcile 30s');
    expect(lines).toContain('changed: docs/r1 vector: value 0 is 2 instead of 1');
    expect(lines).toContain('note: 1 records share their id');
  });
});
