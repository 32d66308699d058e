import { EtlError, JOB_STATUSES, type JobStatus, type JobView } from '@p2m/core';

/**
 * `GET /v1/jobs?status=&limit=&cursor=`: a filter and pages over the job service's list, newest
 * first. The cursor names the last job of a page by (createdAt, id), not by position, so jobs
 * created while someone pages through the list push nothing onto the next page twice.
 */
export interface JobListQuery {
  /** Only jobs in one of these statuses; all when absent. */
  status?: JobStatus[] | undefined;
  /** At most this many jobs; all when absent. */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface JobListPage {
  jobs: JobView[];
  /** Jobs that match the filter, on every page together. */
  total: number;
  /** Cursor of the next page; null on the last one. */
  next: string | null;
  /** Jobs per status, all of them, whatever the filter: what a status filter can offer. */
  counts: Record<JobStatus, number>;
}

/** Newest first; the id breaks ties between jobs created in the same millisecond. */
function newerFirst(a: JobView, b: JobView): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function encodeJobCursor(job: Pick<JobView, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([job.createdAt, job.id]), 'utf8').toString('base64url');
}

function decodeJobCursor(cursor: string): { createdAt: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') {
    throw new EtlError('SPEC_INVALID', 'cursor must be the `next` of a previous page of GET /v1/jobs', {
      field: 'cursor',
      hint: 'leave cursor out to start at the newest job',
    });
  }
  return { createdAt: parsed[0], id: parsed[1] };
}

export function pageJobs(all: readonly JobView[], query: JobListQuery = {}): JobListPage {
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const job of all) counts[job.status] += 1;
  const wanted = query.status && query.status.length > 0 ? new Set(query.status) : null;
  const matching = all.filter((j) => wanted === null || wanted.has(j.status)).sort(newerFirst);
  let start = 0;
  if (query.cursor !== undefined) {
    const after = decodeJobCursor(query.cursor);
    const i = matching.findIndex((j) => newerFirst(j, { createdAt: after.createdAt, id: after.id } as JobView) > 0);
    start = i < 0 ? matching.length : i;
  }
  const end = query.limit === undefined ? matching.length : Math.min(matching.length, start + query.limit);
  const jobs = matching.slice(start, end);
  const last = jobs[jobs.length - 1];
  return { jobs, total: matching.length, next: end < matching.length && last ? encodeJobCursor(last) : null, counts };
}
