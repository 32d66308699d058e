import { describe, expect, it } from 'vitest';
import { JOB_STATUSES, type JobStatus, type JobView } from '@p2m/core';
import { encodeJobCursor, pageJobs } from './job-list.ts';

/** Jobs created one second apart (job-0 the oldest), with the given statuses. */
function jobs(statuses: JobStatus[]): JobView[] {
  return statuses.map((status, i) => ({ id: `job-${i}`, status, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() }) as JobView);
}
const ids = (list: JobView[]) => list.map((j) => j.id);

describe('pageJobs', () => {
  it('lists every job newest first, with counts per status, when asked for nothing', () => {
    const page = pageJobs(jobs(['SUCCESSFUL', 'FAILED', 'IN_PROGRESS']));
    expect(ids(page.jobs)).toEqual(['job-2', 'job-1', 'job-0']);
    expect(page).toMatchObject({ total: 3, next: null });
    expect(page.counts).toEqual({ ...Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])), SUCCESSFUL: 1, FAILED: 1, IN_PROGRESS: 1 });
  });

  it('filters by status and pages with a cursor until the last page', () => {
    const all = jobs(Array.from({ length: 25 }, (_, i): JobStatus => (i % 5 === 0 ? 'FAILED' : 'SUCCESSFUL')));
    const failed = pageJobs(all, { status: ['FAILED'] });
    expect(ids(failed.jobs)).toEqual(['job-20', 'job-15', 'job-10', 'job-5', 'job-0']);
    expect(failed.counts.FAILED).toBe(5);

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = pageJobs(all, { status: ['SUCCESSFUL', 'FAILED'], limit: 10, cursor });
      expect(page.total).toBe(25);
      seen.push(...ids(page.jobs));
      cursor = page.next ?? undefined;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids(pageJobs(all).jobs));
  });

  it('a job created while paging does not push the next page back onto a job already seen', () => {
    const all = jobs(['SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL', 'SUCCESSFUL']);
    const first = pageJobs(all, { limit: 2 });
    const newer = { id: 'job-new', status: 'PENDING', createdAt: '2026-02-01T00:00:00.000Z' } as JobView;
    const second = pageJobs([...all, newer], { limit: 2, cursor: first.next! });
    expect([...ids(first.jobs), ...ids(second.jobs)]).toEqual(['job-3', 'job-2', 'job-1', 'job-0']);
    expect(second.next).toBeNull();
  });

  it('breaks ties between jobs created in the same millisecond by id', () => {
    const same = ['b', 'a', 'c'].map((id) => ({ id, status: 'FAILED', createdAt: '2026-01-01T00:00:00.000Z' }) as JobView);
    const first = pageJobs(same, { limit: 1 });
    const rest = pageJobs(same, { cursor: first.next! });
    expect([...ids(first.jobs), ...ids(rest.jobs)]).toEqual(['c', 'b', 'a']);
    expect(encodeJobCursor(same[0]!)).not.toBe(encodeJobCursor(same[1]!));
  });

  it('refuses a cursor it did not make, naming the field', () => {
    expect(() => pageJobs(jobs(['FAILED']), { cursor: 'not-a-cursor' })).toThrow(expect.objectContaining({ code: 'SPEC_INVALID', field: 'cursor' }));
  });
});
