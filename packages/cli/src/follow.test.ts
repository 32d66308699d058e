import { describe, expect, it } from 'vitest';
import { EtlError, type JobView } from '@p2m/core';
import { followJob, formatDeadLetters, formatSummary, formatTable, progressLine, type OutputStream } from './follow.ts';
import { finished, jobView } from './job-view.fixture.ts';

class Capture implements OutputStream {
  text = '';
  isTTY: boolean;
  columns = 140;
  constructor(isTTY: boolean) {
    this.isTTY = isTTY;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  // cli-progress drives a terminal through these (node:readline calls them on TTY streams).
  cursorTo(): boolean {
    return true;
  }
  moveCursor(): boolean {
    return true;
  }
  clearLine(): boolean {
    return true;
  }
  clearScreenDown(): boolean {
    return true;
  }
}

/** A job that moves on with every call, then finishes. */
function sequence(views: (JobView | Error)[]) {
  let i = 0;
  const calls: string[] = [];
  const get = async (id: string) => {
    calls.push(id);
    const next = views[Math.min(i++, views.length - 1)]!;
    if (next instanceof Error) throw next;
    return next;
  };
  return { get, calls };
}

const start = jobView({ status: 'PENDING' });
const half = jobView({
  namespaces: [
    { namespace: '', extracted: 80, loaded: 50 },
    { namespace: 'docs', extracted: 100, loaded: 60, failed: 2, extractionDone: true },
  ],
});
const done = finished(half);

describe('followJob', () => {
  it('polls until the job is terminal, returns the final view and prints a summary (no terminal)', async () => {
    const { get, calls } = sequence([start, half, done]);
    const out = new Capture(false);
    const final = await followJob(get, 'job-1', { stream: out, intervalMs: 1, lineIntervalMs: 0 });
    expect(final).toEqual(done);
    expect(calls).toEqual(['job-1', 'job-1', 'job-1']);
    expect(out.text).toContain('job job-1 PENDING');
    expect(out.text).toContain('job job-1 IN PROGRESS 110/200 loaded (56.0%), 2 in DLQ, 250 rec/s, ETA 42s, lag 17');
    expect(out.text).toContain('Job job-1 SUCCESSFUL after 1m 30s: 198 of 200 records loaded into docs, 2 in the dead-letter queue');
    expect(out.text).toContain('Verification PASSED');
    expect(out.text).not.toMatch(/\u001b\[/); // no escape codes off a terminal
  });

  it('draws a total bar and one bar per namespace on a terminal', async () => {
    const { get } = sequence([half, done]);
    const out = new Capture(true);
    // cli-progress redraws at most 5 times a second: give it time to draw the running job.
    await followJob({ get }, 'job-1', { stream: out, intervalMs: 400 });
    expect(out.text).toMatch(/total\s+\S*[█░]+\S*\s+56\.0% 112\/200 IN PROGRESS/);
    expect(out.text).toMatch(/\(default\)\s+\S*[█░]+/);
    expect(out.text).toMatch(/docs\s+\S*[█░]+\S*\s+62\.0% 62\/100 extracted, 2 in DLQ/);
    expect(out.text).toContain('Verification PASSED');
  });

  it('groups namespaces past the bar limit into one bar', async () => {
    const many = jobView({ namespaces: Array.from({ length: 6 }, (_, i) => ({ namespace: `ns${i}`, loaded: 10 })) });
    const out = new Capture(true);
    await followJob(sequence([many, finished(many)]).get, 'job-1', { stream: out, intervalMs: 1, maxNamespaceBars: 3 });
    expect(out.text).toContain('+3 more');
    const bars = out.text.split('Job job-1')[0]!;
    expect(bars).toMatch(/ns2\s/);
    expect(bars).not.toMatch(/ns[345]\s/);
  });

  it('rides out a controller restart, but not a refusal', async () => {
    const unreachable = new EtlError('STACK', 'cannot reach the controller', { retriable: true });
    const { get } = sequence([half, unreachable, unreachable, done]);
    const out = new Capture(false);
    expect((await followJob(get, 'job-1', { stream: out, intervalMs: 1, lineIntervalMs: 0 })).status).toBe('SUCCESSFUL');
    // While it does not answer, the last view is shown as what it is: the state before the silence.
    expect(out.text).toMatch(
      /^job job-1: controller not answering for 0s \(cannot reach the controller\); retrying for up to 1m 0s; last seen IN PROGRESS 110\/200 loaded/m,
    );
    const bars = new Capture(true);
    // cli-progress redraws 5 times a second: each view stays long enough to be drawn.
    await followJob(sequence([half, unreachable, done]).get, 'job-1', { stream: bars, intervalMs: 300 });
    expect(bars.text).toContain('(controller not answering for 0s (cannot reach the controller)');

    const missing = new EtlError('JOB_NOT_FOUND', 'no job "job-1"');
    await expect(followJob(sequence([missing]).get, 'job-1', { stream: new Capture(false), intervalMs: 1 })).rejects.toBe(missing);

    const always = sequence([unreachable]);
    await expect(followJob(always.get, 'job-1', { stream: new Capture(false), intervalMs: 5, unreachableTimeoutMs: 30 })).rejects.toBe(unreachable);
  });

  it('stops following when aborted, saying the job goes on', async () => {
    const abort = new AbortController();
    const out = new Capture(true);
    const following = followJob(sequence([half]).get, 'job-1', { stream: out, intervalMs: 10_000, signal: abort.signal });
    setTimeout(() => abort.abort(), 20);
    await expect(following).rejects.toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/keeps running/) });
  });

  it('summarises failures with the error, where it stopped and how to resume', () => {
    const failed = jobView({
      status: 'FAILED',
      error: { code: 'TARGET_UNAVAILABLE', message: 'Milvus did not answer for 120 s', at: 'loader partition 3 offset 4711' },
    });
    const text = formatSummary(failed);
    expect(text).toContain('Job job-1 FAILED');
    expect(text).toContain('Error: TARGET_UNAVAILABLE: Milvus did not answer for 120 s (stopped at loader partition 3 offset 4711)');
    expect(text).toContain('npx p2m jobs resume job-1');

    const notPassed = formatSummary(finished(half, false));
    expect(notPassed).toContain('Verification FAILED');
    expect(notPassed).toContain('docs/r9 metadata.genre: expected "drama", found "comedy"');
    expect(notPassed).toContain('missing in docs: gone-1');
    expect(notPassed).toContain('problem: namespace docs: 1 source id neither in the target nor in the DLQ');
  });

  it('lists dead letters with their reasons, the first ones and how many more', () => {
    const entry = (id: string) => ({
      namespace: '',
      id,
      code: 'RECORD_REJECTED',
      reason: `sparse value of ${id} is negative`,
      at: '2026-01-01T00:00:00Z',
      source: '0:1',
    });
    expect(formatDeadLetters({ entries: [], total: 0, next: null })).toEqual([]);
    expect(formatDeadLetters({ entries: [entry('a')], total: 1, next: null })).toEqual([
      'Dead-letter queue: 1 record could not be stored',
      '  (default)/a: sparse value of a is negative',
    ]);
    expect(formatDeadLetters({ entries: [entry('a'), entry('b'), entry('c')], total: 30, next: '3' }, 2)).toEqual([
      'Dead-letter queue: 30 records could not be stored',
      '  (default)/a: sparse value of a is negative',
      '  (default)/b: sparse value of b is negative',
      '  … 28 more',
    ]);
  });

  it('says when the loaded counts are old because Kafka stopped answering, and when they were never read', () => {
    const at = (offsetsAt: string | null | undefined): JobView => ({ ...half, progress: { ...half.progress, offsetsAt } });
    const line = (v: JobView) => progressLine(v).replace(/^.*ETA 42s, /, '');
    expect(line(at(half.progress.updatedAt))).toBe('lag 17');
    // A view from a controller older than the field: as before.
    expect(line(at(undefined))).toBe('lag 17');
    // One missed read is not worth a word; 40 s of silence is.
    expect(line(at('2026-01-01T00:01:28.000Z'))).toBe('lag 17');
    expect(line(at('2026-01-01T00:00:50.000Z'))).toBe('lag 17 (Kafka not answering for 40s: loaded counts as of then)');
    expect(line(at(null))).toBe('lag unknown');
    // A finished job's counts are final, whenever they were read.
    expect(progressLine({ ...done, progress: { ...done.progress, offsetsAt: '2026-01-01T00:00:50.000Z' } })).toBe(progressLine(done));
  });

  it('formats lines and tables', () => {
    expect(progressLine(done)).toBe('job job-1 SUCCESSFUL 198/200 loaded (100.0%), 2 in DLQ');
    expect(
      formatTable(
        ['A', 'NUM'],
        [
          ['x', '1'],
          ['long', '1,000'],
        ],
        [false, true],
      ),
    ).toEqual(['A       NUM', 'x         1', 'long  1,000']);
  });
});
