import cliProgress from 'cli-progress';
import {
  EtlError,
  TERMINAL_STATUSES,
  errorMessage,
  isRetriable,
  offsetsAgeSeconds,
  sleep,
  type ErrorsPage,
  type JobView,
  type NamespaceProgress,
  type VerificationProgress,
  type VerificationReport,
} from '@p2m/core';

/**
 * Live progress of one job in the terminal: a multibar (the job's total, then one bar per
 * namespace) while the job runs, then a verification summary. Off a terminal (CI logs, pipes) it
 * prints a plain progress line every few seconds instead of redrawing bars.
 */

export type JobSource = { get(id: string): Promise<JobView> } | ((id: string) => Promise<JobView>);

export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

export interface FollowOptions {
  /** Where bars and the summary go. Default process.stdout. */
  stream?: OutputStream;
  /** Poll interval. Default 1 s. */
  intervalMs?: number;
  /** Stop following (the job keeps running); followJob then rejects with a CANCELLED EtlError. */
  signal?: AbortSignal;
  /** Namespaces with a bar of their own; the rest share one. Default 10. */
  maxNamespaceBars?: number;
  /** Print the summary (verification report) when the job ends. Default true. */
  summary?: boolean;
  /** `auto`: bars on a terminal, lines elsewhere; `none`: nothing while the job runs. Default auto. */
  display?: 'auto' | 'none';
  /** Keep trying this long while the controller cannot be reached. Default 60 s. */
  unreachableTimeoutMs?: number;
  /** Off a terminal, one progress line at most this often. Default 5 s. */
  lineIntervalMs?: number;
}

/** Follow a job until it is SUCCESSFUL, FAILED or CANCELLED; resolves with its final view. */
export async function followJob(source: JobSource, id: string, options: FollowOptions = {}): Promise<JobView> {
  const get = typeof source === 'function' ? source : (jobId: string) => source.get(jobId);
  const stream = options.stream ?? process.stdout;
  const intervalMs = options.intervalMs ?? 1000;
  const unreachableTimeoutMs = options.unreachableTimeoutMs ?? 60_000;
  const display: ProgressDisplay =
    options.display === 'none'
      ? { update: () => undefined, stop: () => undefined }
      : stream.isTTY
        ? new BarsDisplay(stream, options.maxNamespaceBars ?? 10)
        : new LinesDisplay(stream, options.lineIntervalMs ?? 5000);

  let unreachableSince: number | null = null;
  let view: JobView | undefined;
  try {
    for (;;) {
      if (options.signal?.aborted) throw stopped(id);
      let note: string | undefined;
      try {
        view = await get(id);
        unreachableSince = null;
      } catch (err) {
        // A controller restart must not end the follow; a refusal (unknown job, bad token) must.
        if (!isRetriable(err)) throw err;
        unreachableSince ??= Date.now();
        const silentMs = Date.now() - unreachableSince;
        if (silentMs > unreachableTimeoutMs) throw err;
        // The last view is not the job's state now: say so, and for how long.
        note = `controller not answering for ${duration(silentMs / 1000)} (${errorMessage(err)}); retrying for up to ${duration(unreachableTimeoutMs / 1000)}`;
      }
      if (view) display.update(view, note);
      if (view && TERMINAL_STATUSES.has(view.status)) break;
      try {
        await sleep(intervalMs, options.signal);
      } catch {
        throw stopped(id);
      }
    }
  } finally {
    display.stop();
  }
  const final = view as JobView; // the loop only ends on a terminal view
  if (options.summary ?? true) stream.write(formatSummary(final));
  return final;
}

function stopped(id: string): EtlError {
  return new EtlError('CANCELLED', `stopped following job ${id}; it keeps running`, { hint: `npx p2m jobs show ${id}` });
}

// ---------------------------------------------------------------- displays

interface ProgressDisplay {
  /** `note`: what the view does not say (the controller not answering), shown after it. */
  update(view: JobView, note?: string): void;
  stop(): void;
}

interface BarPayload {
  label: string;
  done: string;
  count: string;
  pct: string;
  extra: string;
}

class BarsDisplay implements ProgressDisplay {
  readonly #multibar: cliProgress.MultiBar;
  readonly #maxBars: number;
  #total: cliProgress.SingleBar | undefined;
  readonly #bars = new Map<string, cliProgress.SingleBar>();
  #others: cliProgress.SingleBar | undefined;
  #labelWidth = 12;

  constructor(stream: OutputStream, maxBars: number) {
    this.#maxBars = maxBars;
    this.#multibar = new cliProgress.MultiBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: '{label} {bar} {pct} {done}/{count} {extra}',
        barsize: 28,
        hideCursor: false,
        clearOnComplete: false,
        stopOnComplete: false,
        autopadding: true,
        emptyOnZero: true,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(view: JobView, note?: string): void {
    const p = view.progress;
    const names = p.namespaces.map((n) => nsLabel(n.namespace));
    const width = Math.min(24, Math.max(12, ...names.map((n) => n.length)));
    this.#labelWidth = width;
    const live = p.verification
      ? `  ${verificationLine(p.verification)}`
      : TERMINAL_STATUSES.has(view.status)
        ? ''
        : `  ${rate(view)}  ETA ${eta(view)}  ${lag(view)}`;
    const totalExtra = `${view.status.replace(/_/g, ' ')}${live}${p.total.failed ? `  ${num(p.total.failed)} in DLQ` : ''}${note ? `  (${note})` : ''}`;
    this.#total = this.#set(this.#total, 'total', p.total.sourceCount, p.total.loaded + p.total.failed, totalExtra, view.status === 'SUCCESSFUL');

    const others: NamespaceProgress[] = [];
    for (const ns of p.namespaces) {
      const bar = this.#bars.get(ns.namespace);
      if (bar === undefined && this.#bars.size >= this.#maxBars) {
        others.push(ns);
        continue;
      }
      const extra = `${ns.extractionDone ? 'extracted' : `extracting ${num(ns.extracted)}`}${ns.failed ? `, ${num(ns.failed)} in DLQ` : ''}`;
      this.#bars.set(ns.namespace, this.#set(bar, nsLabel(ns.namespace), ns.sourceCount, ns.loaded + ns.failed, extra, view.status === 'SUCCESSFUL'));
    }
    if (others.length) {
      const sum = (f: (n: NamespaceProgress) => number) => others.reduce((s, n) => s + f(n), 0);
      this.#others = this.#set(
        this.#others,
        `+${others.length} more`,
        sum((n) => n.sourceCount),
        sum((n) => n.loaded + n.failed),
        `${others.filter((n) => n.extractionDone).length}/${others.length} extracted`,
        view.status === 'SUCCESSFUL',
      );
    }
  }

  #set(bar: cliProgress.SingleBar | undefined, label: string, count: number, done: number, extra: string, finished: boolean): cliProgress.SingleBar {
    const total = Math.max(count, 1);
    const value = finished && count === 0 ? total : Math.min(done, total);
    const payload: BarPayload = {
      label: truncate(label, this.#labelWidth).padEnd(this.#labelWidth),
      done: num(done),
      count: num(count),
      pct: `${(count > 0 ? Math.min(100, (done / count) * 100) : finished ? 100 : 0).toFixed(1).padStart(5)}%`,
      extra,
    };
    if (bar === undefined) return this.#multibar.create(total, value, payload);
    bar.setTotal(total);
    bar.update(value, payload);
    return bar;
  }

  stop(): void {
    this.#multibar.stop();
  }
}

class LinesDisplay implements ProgressDisplay {
  readonly #stream: OutputStream;
  readonly #intervalMs: number;
  #lastAt = 0;
  #lastStatus = '';

  constructor(stream: OutputStream, intervalMs: number) {
    this.#stream = stream;
    this.#intervalMs = intervalMs;
  }

  update(view: JobView, note?: string): void {
    const now = Date.now();
    const key = note ? 'unreachable' : view.status;
    if (key === this.#lastStatus && now - this.#lastAt < this.#intervalMs) return;
    this.#lastAt = now;
    this.#lastStatus = key;
    this.#stream.write(note ? `job ${view.id}: ${note}; last seen ${progressState(view)}\n` : `${progressLine(view)}\n`);
  }

  stop(): void {}
}

/** One line: `job-1 IN PROGRESS 400/1,000 loaded (40.0%), 3 in DLQ, 120 rec/s, ETA 5s, lag 97`. */
export function progressLine(view: JobView): string {
  return `job ${view.id} ${progressState(view)}`;
}

/** The line's part after the job id: `IN PROGRESS 400/1,000 loaded (40.0%), …`. */
function progressState(view: JobView): string {
  const t = view.progress.total;
  const parts = [`${num(t.loaded)}/${num(t.sourceCount)} loaded (${percent(t.loaded + t.failed, t.sourceCount, view.status === 'SUCCESSFUL')})`];
  if (t.failed) parts.push(`${num(t.failed)} in DLQ`);
  if (view.progress.verification) parts.push(verificationLine(view.progress.verification));
  else if (!TERMINAL_STATUSES.has(view.status)) parts.push(rate(view), `ETA ${eta(view)}`, lag(view));
  return `${view.status.replace(/_/g, ' ')} ${parts.join(', ')}`;
}

/** `reconcile 120,000/1,000,000 records (12.0%), 1/2 namespaces, ETA 1m 30s (flush 0s, indexes 2s, load 1s, dlq 0s)`. */
export function verificationLine(v: VerificationProgress): string {
  const parts: string[] = [v.phase];
  if (v.phase === 'reconcile')
    parts.push(
      `${num(v.recordsChecked)}/${num(v.recordsTotal)} records (${percent(v.recordsChecked, v.recordsTotal)}), ${num(v.namespacesDone)}/${num(v.namespaces)} namespaces`,
    );
  if (v.phase === 'unexpected') parts.push(`${num(v.bucketsDone)}/${num(v.buckets)} buckets`);
  if (v.etaSeconds !== null) parts.push(`ETA ${duration(v.etaSeconds)}`);
  const done = v.phases.filter((t) => t.done).map((t) => `${t.phase} ${duration(t.seconds)}`);
  return `${parts.join(' ')}${done.length ? ` (${done.join(', ')})` : ''}`;
}

// ---------------------------------------------------------------- summary

/** What a person wants to read when a job ends: outcome, counts, error or verification report. */
export function formatSummary(view: JobView): string {
  const t = view.progress.total;
  const lines: string[] = [];
  const took = duration((Date.parse(view.updatedAt) - Date.parse(view.createdAt)) / 1000);
  lines.push(
    `Job ${view.id} ${view.status.replace(/_/g, ' ')} after ${took}: ${num(t.loaded)} of ${num(t.sourceCount)} records loaded into ${view.target.collection}` +
      (t.failed ? `, ${num(t.failed)} in the dead-letter queue (npx p2m jobs errors ${view.id})` : ''),
  );
  if (view.error) {
    lines.push(`Error: ${view.error.code}: ${view.error.message}${view.error.at ? ` (stopped at ${view.error.at})` : ''}`);
  }
  if (view.status === 'FAILED' || view.status === 'CANCELLED') {
    lines.push(`Resume it with: npx p2m jobs resume ${view.id}`);
  }
  if (view.report) lines.push(...formatReport(view.report));
  else if (view.status === 'SUCCESSFUL') lines.push('Verification: no report');
  return `${lines.join('\n')}\n`;
}

export function formatReport(report: VerificationReport): string[] {
  const lines = [`Verification ${report.passed ? 'PASSED' : 'FAILED'} (checked ${report.checkedAt})`];
  if (report.namespaces.length) {
    const table = formatTable(
      ['NAMESPACE', 'SOURCE', 'EXTRACTED', 'IN TARGET', 'IN DLQ', 'MISSING', 'OK'],
      report.namespaces.map((n) => [
        nsLabel(n.namespace),
        num(n.sourceCount),
        num(n.extracted),
        num(n.targetCount),
        num(n.dlq),
        num(n.missing),
        n.ok ? 'yes' : 'NO',
      ]),
      [false, true, true, true, true, true, false],
    );
    lines.push(...table.map((l) => `  ${l}`));
  }
  const s = report.sample;
  lines.push(
    `  sample: ${num(s.compared)} records compared field by field (sample size ${num(s.size)}), ${s.mismatches.length ? `${num(s.mismatches.length)} mismatches` : 'no mismatch'}`,
  );
  for (const m of s.mismatches.slice(0, 10)) lines.push(`    ${nsLabel(m.namespace)}/${m.id} ${m.field}: ${m.reason}`);
  for (const n of report.namespaces) if (n.missingSample.length) lines.push(`  missing in ${nsLabel(n.namespace)}: ${n.missingSample.slice(0, 10).join(', ')}`);
  for (const m of (report.changed ?? []).slice(0, 10)) lines.push(`  changed: ${nsLabel(m.namespace)}/${m.id} ${m.field}: ${m.reason}`);
  for (const k of (report.unexpected ?? []).slice(0, 10)) lines.push(`  not extracted, in the target: ${nsLabel(k.namespace)}/${k.id}`);
  const r = report.reconciliation;
  if (r)
    lines.push(
      `  reconciled ${num(r.logRecords)} log records (${num(r.distinctRecords)} distinct) against ${num(r.targetRows)} target rows in ${num(r.lookups)} lookups`,
    );
  if (report.phases?.length) lines.push(`  took: ${report.phases.map((t) => `${t.phase} ${duration(t.seconds)}`).join(', ')}`);
  for (const problem of report.problems) lines.push(`  problem: ${problem}`);
  for (const advice of report.advice ?? []) lines.push(`  note: ${advice}`);
  return lines;
}

/** The records a job could not store, with the reason of each (the first `shown`). */
export function formatDeadLetters(page: ErrorsPage, shown = 10): string[] {
  if (page.total === 0) return [];
  const lines = [`Dead-letter queue: ${num(page.total)} record${page.total === 1 ? '' : 's'} could not be stored`];
  for (const e of page.entries.slice(0, shown)) lines.push(`  ${nsLabel(e.namespace)}/${e.id}: ${e.reason}`);
  if (page.total > Math.min(shown, page.entries.length)) lines.push(`  … ${num(page.total - Math.min(shown, page.entries.length))} more`);
  return lines;
}

// ---------------------------------------------------------------- formatting shared with `p2m jobs`

const numberFormat = new Intl.NumberFormat('en-US');

export function num(n: number): string {
  return Number.isFinite(n) ? numberFormat.format(Math.round(n)) : '-';
}

export function nsLabel(namespace: string): string {
  return namespace === '' ? '(default)' : namespace;
}

export function percent(done: number, total: number, finished = false): string {
  if (total <= 0) return finished ? '100.0%' : '0.0%';
  return `${Math.min(100, (done / total) * 100).toFixed(1)}%`;
}

export function rate(view: JobView): string {
  return `${num(view.progress.recordsPerSecond)} rec/s`;
}

/** Kafka silent this long (s) makes a view's loaded counts and lag "as of" their time. */
const OFFSETS_STALE_S = 5;

/** `lag 97`; `lag unknown` before Kafka first answered; the counts' age while it does not answer. */
export function lag(view: JobView): string {
  const p = view.progress;
  if (TERMINAL_STATUSES.has(view.status)) return `lag ${num(p.consumerLag)}`;
  if (p.offsetsAt === null) return 'lag unknown';
  const age = offsetsAgeSeconds(p);
  return age === null || age < OFFSETS_STALE_S
    ? `lag ${num(p.consumerLag)}`
    : `lag ${num(p.consumerLag)} (Kafka not answering for ${duration(age)}: loaded counts as of then)`;
}

export function eta(view: JobView): string {
  if (TERMINAL_STATUSES.has(view.status)) return '-';
  return view.progress.etaSeconds === null ? 'unknown' : duration(view.progress.etaSeconds);
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Columns padded to their widest cell; `right[i]` aligns column i to the right (numbers). */
export function formatTable(header: string[], rows: string[][], right: boolean[] = []): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
