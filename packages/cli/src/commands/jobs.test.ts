import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { EtlError, type ErrorsPage, type JobView } from '@p2m/core';
import { finished, jobView } from '../job-view.fixture.ts';
import { register, type JobsCommandIO } from './jobs.ts';

/** Runs `p2m jobs ...` against a fake client; returns what it printed and what it asked. */
async function run(args: string[], client: Partial<Record<string, (...a: any[]) => Promise<unknown>>> = {}) {
  let stdout = '';
  const calls: { method: string; args: unknown[]; options: Record<string, unknown> }[] = [];
  const program = new Command('p2m').exitOverride().configureOutput({ writeErr: () => undefined });
  const connect: JobsCommandIO['connect'] = (options) =>
    new Proxy({} as ReturnType<JobsCommandIO['connect']>, {
      get:
        (_t, method: string) =>
        async (...a: unknown[]) => {
          calls.push({ method, args: a, options: { ...options } });
          const impl = client[method];
          if (!impl) throw new Error(`unexpected call ${method}`);
          return impl(...a);
        },
    });
  register(program, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true }, connect, env: {}, cwd: '/' });
  await program.parseAsync(['node', 'p2m', 'jobs', ...args]);
  return { stdout, calls };
}

const running = jobView({
  namespaces: [
    { namespace: '', extracted: 80, loaded: 50 },
    { namespace: 'docs', extracted: 100, loaded: 60, failed: 2, extractionDone: true },
  ],
});

describe('p2m jobs', () => {
  it('lists jobs as a table, or as JSON', async () => {
    const done = { ...finished(running), id: 'job-2' };
    const { stdout } = await run(['list'], { list: async () => [running, done] });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+SOURCE\s+COLLECTION\s+LOADED\s+DONE\s+IN DLQ\s+RATE\s+ETA\s+CREATED$/);
    expect(lines[1]).toMatch(/^job-1\s+IN PROGRESS\s+docs-index\s+docs\s+110\/200\s+56\.0%\s+2\s+250 rec\/s\s+42s\s+2026-01-01/);
    expect(lines[2]).toMatch(/^job-2\s+SUCCESSFUL .* 100\.0%/);

    const json = await run(['list', '--json'], { list: async () => [running] });
    expect(JSON.parse(json.stdout)).toEqual({ jobs: [running] });
    expect((await run(['list'], { list: async () => [] })).stdout).toMatch(/^No jobs/);
  });

  it('lists one page of jobs in some statuses, and says how to get the next one', async () => {
    const failed = { ...running, id: 'job-9', status: 'FAILED' as const };
    const page = { jobs: [failed], total: 3, next: 'CUR', counts: { FAILED: 3 } };
    const { stdout, calls } = await run(['list', '--status', 'failed,cancelled', '--limit', '1'], { listPage: async () => page });
    expect(calls[0]!.args).toEqual([{ status: ['FAILED', 'CANCELLED'], limit: 1, cursor: undefined }]);
    expect(stdout).toMatch(/^job-9\s+FAILED/m);
    expect(stdout).toContain('1 of 3 jobs; next page: npx p2m jobs list --status FAILED,CANCELLED --limit 1 --cursor CUR');
    expect((await run(['list', '--status', 'FAILED', '--json'], { listPage: async () => page })).stdout).toBe(`${JSON.stringify(page, null, 2)}\n`);
    await expect(run(['list', '--status', 'DONE'], {})).rejects.toThrow(/expected job statuses/);
  });

  it('shows where a job that no longer runs stopped, per namespace', async () => {
    const failed = jobView({
      status: 'FAILED',
      error: { code: 'SOURCE_UNAUTHORIZED', message: 'HTTP 403', at: 'namespace __default__, page 3' },
      namespaces: [
        { namespace: '', extracted: 80, loaded: 50 },
        { namespace: 'docs', extracted: 40, loaded: 40 },
        { namespace: 'x', extracted: 10, loaded: 10, extractionDone: true },
      ],
    });
    const { stdout } = await run(['show', 'job-1'], { get: async () => failed });
    expect(stdout).toMatch(/^\(default\)\s.*failed at page 3$/m);
    expect(stdout).toMatch(/^docs\s.*stopped at 40$/m);
    expect(stdout).toMatch(/^x\s.*done$/m);
    expect(stdout).not.toMatch(/running/);
  });

  it('takes --url, --token and --json before or after the subcommand', async () => {
    const { calls } = await run(['--url', 'http://c:1', 'list', '--token', 't', '--json'], { list: async () => [] });
    expect(calls[0]!.options).toMatchObject({ url: 'http://c:1', token: 't', json: true });
  });

  it('shows one job with namespaces, error and report', async () => {
    const { stdout, calls } = await run(['show', 'job-1'], { get: async () => running });
    expect(calls[0]!.args).toEqual(['job-1']);
    expect(stdout).toContain('Job job-1  IN PROGRESS');
    expect(stdout).toMatch(/Progress\s+110 of 200 loaded \(56\.0%\), 180 extracted, 2 in DLQ/);
    expect(stdout).toMatch(/Rate\s+250 rec\/s\s+ETA 42s\s+consumer lag 17/);
    expect(stdout).toMatch(/\(default\)\s+100\s+80\s+50\s+0\s+running/);
    expect(stdout).toMatch(/docs\s+100\s+100\s+60\s+2\s+done/);

    const failed: JobView = { ...running, status: 'FAILED', error: { code: 'TARGET_UNAVAILABLE', message: 'Milvus down', at: 'partition 2' } };
    expect((await run(['show', 'job-1'], { get: async () => failed })).stdout).toContain('Error     TARGET_UNAVAILABLE: Milvus down (stopped at partition 2)');
    expect((await run(['show', 'job-1'], { get: async () => finished(running, false) })).stdout).toContain('Verification FAILED');
  });

  it('cancels, resumes and replays', async () => {
    expect((await run(['cancel', 'job-1'], { cancel: async () => ({ ...running, status: 'CANCELLING' }) })).stdout).toBe('job job-1: CANCELLING\n');
    expect((await run(['resume', 'job-1'], { resume: async () => running })).stdout).toBe('job job-1: IN PROGRESS\n');
    const same = await run(['replay', 'job-1'], { replay: async () => running });
    expect(same.calls[0]!.args).toEqual(['job-1', { collection: undefined }]);
    expect(same.stdout).toBe('job job-1: replaying into docs (IN PROGRESS)\n');
    const copy = await run(['replay', 'job-1', '--collection', 'copy'], {
      replay: async () => ({ ...running, id: 'job-9', target: { ...running.target, collection: 'copy' } }),
    });
    expect(copy.calls[0]!.args).toEqual(['job-1', { collection: 'copy' }]);
    expect(copy.stdout).toBe('replaying job job-1 into copy as job job-9 (IN PROGRESS)\n');
  });

  it('follows a resumed job to the end', async () => {
    let n = 0;
    const { stdout } = await run(['resume', 'job-1', '--follow'], { resume: async () => running, get: async () => (n++ < 1 ? running : finished(running)) });
    expect(stdout).toContain('Verification PASSED');
  });

  it('pages the error log', async () => {
    const entry = { namespace: 'docs', id: 'r1', code: 'RECORD_INVALID', reason: 'dimension 7, expected 8', at: '2026-01-01T00:00:00.000Z' };
    const pages: Record<string, ErrorsPage> = {
      start: { entries: [entry], total: 2, next: 'c2' },
      c2: { entries: [{ ...entry, id: 'r2' }], total: 2, next: null },
    };
    const errors = async (_id: string, q: { cursor?: string }) => pages[q.cursor ?? 'start']!;
    const one = await run(['errors', 'job-1', '--limit', '1'], { errors });
    expect(one.calls[0]!.args).toEqual(['job-1', { cursor: undefined, limit: 1 }]);
    expect(one.stdout).toMatch(/^NAMESPACE\s+ID\s+CODE\s+REASON\s+AT\ndocs\s+r1\s+RECORD_INVALID\s+dimension 7, expected 8/);
    expect(one.stdout).toContain('1 of 2 entries; next page: npx p2m jobs errors job-1 --cursor c2 --limit 1');
    const all = await run(['errors', 'job-1', '--all', '--json'], { errors });
    expect(JSON.parse(all.stdout)).toEqual({ entries: [entry, { ...entry, id: 'r2' }], total: 2, next: null });
    expect((await run(['errors', 'job-1'], { errors: async () => ({ entries: [], total: 0, next: null }) })).stdout).toMatch(/no record went/);
    await expect(run(['errors', 'job-1', '--limit', '0'], { errors })).rejects.toThrow(/between 1 and 1000/);
  });

  it('passes service errors through for main.ts to print', async () => {
    const err = new EtlError('JOB_NOT_FOUND', 'no job "x"', { hint: 'npx p2m jobs list' });
    await expect(run(['show', 'x'], { get: async () => Promise.reject(err) })).rejects.toBe(err);
  });
});
