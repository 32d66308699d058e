// The Jobs page in a real headless Chromium (Debian's `chromium`, which .ci/run installs) against
// the REAL controller process, with an extractor and loaders as processes too: a job created over
// the API is watched to SUCCESSFUL on the page, a slower one is cancelled with the page's Cancel
// button, View details shows the error log and the verification report, a job the source stops
// answering shows on its card as FAILED with where it stopped, and the status filter and the pages
// show what the API lists. Screenshots go to test-artifacts/jobs-page/. Under CI=true a missing
// Chromium fails the test instead of skipping it.
import { mkdirSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import type { JobView } from '@p2m/core';
import { seedIndex, type Emulator, type GeneratorOptions } from '@p2m/emulator';
import { CHROMIUM, CHROMIUM_ARGS, IN_CI } from '@p2m/testing';
import { ApiClient, newApiToken, pollJob, startService, type ServiceProcess } from './controller-process.ts';
import { API_KEY, milvusAddress, startSeededEmulator, uniqueName, unloadableBySparseRules } from './pipeline-harness.ts';

const HAVE_CHROMIUM = CHROMIUM !== undefined;
const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/jobs-page');

// A hybrid index with records Milvus refuses (ids over maxIdLength 40, negative sparse weights),
// so the details show an error log; and a slow one (list answers after 1 s) to cancel midway.
const MAX_ID = 40;
const DATA: GeneratorOptions = { seed: 51, count: 800, dim: 8, namespaces: 3, sparse: true };
const DATA_SLOW: GeneratorOptions = { seed: 52, count: 3000, dim: 8, namespaces: 2 };
// An index whose API key is revoked midway (the source answers 403): the job FAILS where it was.
const DATA_FAIL: GeneratorOptions = { seed: 53, count: 1500, dim: 8, namespaces: 3 };
const LIST_LATENCY_MS = 1000;

/**
 * The emulator behind a proxy whose data plane starts answering 403 (the API key was revoked) on
 * `revoke()`: describe_index answers are rewritten so the Pinecone client talks to the proxy.
 */
async function revocableSource(emulator: Emulator): Promise<{ controllerHostUrl: string; revoke(): void; close(): Promise<void> }> {
  let revoked = false;
  const listen = async (server: Server): Promise<string> => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const forward = (target: string, req: IncomingMessage, res: ServerResponse, rewrite?: (body: string) => string): void => {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const out = rewrite ? rewrite(body) : body;
        const { 'transfer-encoding': _chunked, ...rest } = answer.headers;
        const headers = { ...rest, 'content-length': String(Buffer.byteLength(out)) };
        res.writeHead(answer.statusCode ?? 502, headers).end(out);
      });
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  };
  const indexHosts = new Map<string, string>();
  let dataUrl = '';
  const data = createServer((req, res) => {
    if (revoked)
      return void res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 7, message: 'The API key was revoked', details: [] }));
    forward(indexHosts.get('page-fail')!, req, res);
  });
  dataUrl = await listen(data);
  const control = createServer((req, res) =>
    forward(emulator.controllerHostUrl, req, res, (body) => {
      try {
        const json = JSON.parse(body) as { name?: string; host?: string };
        if (json.name === 'page-fail' && typeof json.host === 'string') {
          indexHosts.set('page-fail', json.host.startsWith('http') ? json.host : `http://${json.host}`);
          return JSON.stringify({ ...json, host: dataUrl });
        }
      } catch {
        // not JSON: as it came
      }
      return body;
    }),
  );
  const controllerHostUrl = await listen(control);
  return {
    controllerHostUrl,
    revoke: () => void (revoked = true),
    close: async () => {
      for (const server of [control, data]) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    },
  };
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('Jobs page in Chromium against the real controller', () => {
  const token = newApiToken();
  let emulator: Emulator;
  let services: ServiceProcess[] = [];
  let api: ApiClient;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let doneJob: JobView;

  const card = (id: string): Locator => page.locator(`[data-testid="job-card"][data-job-id="${id}"]`);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  /** Under CI each test fails (not skips) without Chromium. */
  const requireChromium = (): void => {
    if (!HAVE_CHROMIUM)
      throw new Error(
        `no Chromium (/usr/bin/chromium, or P2M_CHROMIUM): install Debian's chromium (apt-get install chromium, as .ci/run does) or set P2M_CHROMIUM`,
      );
  };

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) return;
    mkdirSync(SHOTS, { recursive: true });
    emulator = await startSeededEmulator('page-src', { ...DATA, metric: 'dotproduct' });
    await seedIndex({ ...DATA_SLOW, index: 'page-slow', url: emulator.controllerHostUrl, apiKey: API_KEY, concurrency: 4 });
    await seedIndex({ ...DATA_FAIL, index: 'page-fail', url: emulator.controllerHostUrl, apiKey: API_KEY, concurrency: 4 });
    emulator.setFaults({ latencyMs: LIST_LATENCY_MS, operations: ['list'], indexes: ['page-slow', 'page-fail'] });
    const controller = await startService('controller', { apiToken: token, name: 'page-controller' });
    services = [
      controller,
      ...(await Promise.all([startService('extractor', { name: 'page-extractor' }), startService('loader', { name: 'page-loaders', loaders: 2 })])),
    ];
    api = new ApiClient(controller.url, token);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, locale: 'en-US' });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(services.map((s) => s.stop()));
    await emulator?.close();
  });

  it('asks for the token, then shows a job created over the API live until it is SUCCESSFUL', async () => {
    requireChromium();
    await page.goto(`${api.baseUrl}/`);
    await page.getByTestId('token-input').fill('not-the-token-0123456789');
    await page.getByTestId('token-submit').click();
    await expect.poll(() => page.getByTestId('token-error').textContent()).toMatch(/rejected/);
    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('token-submit').click();
    await page.getByTestId('token-form').waitFor({ state: 'hidden' });

    const created = await api.post<JobView>('/v1/jobs', {
      source: { apiKey: API_KEY, index: 'page-src', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('page_done'), maxIdLength: MAX_ID },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;
    const c = card(id);
    await c.waitFor({ timeout: 30_000 });
    expect(await c.getByTestId('job-collection').textContent()).toBe(created.body.target.collection);
    expect(await c.getByTestId('job-id').textContent()).toBe(id);
    await shot('1-job-running');
    await expect.poll(() => c.getAttribute('data-status'), { timeout: 300_000, interval: 500 }).toBe('SUCCESSFUL');
    doneJob = (await api.get<JobView>(`/v1/jobs/${id}`)).body;
    expect(doneJob.status).toBe('SUCCESSFUL');

    // The card shows what the API says: full progress, every namespace, no Cancel any more.
    const t = doneJob.progress.total;
    expect(t.loaded + t.failed).toBe(t.sourceCount);
    expect(t.failed).toBeGreaterThan(0);
    await expect
      .poll(() => c.getByTestId('job-progress-text').textContent())
      .toBe(`${t.loaded.toLocaleString('en-US')} / ${t.sourceCount.toLocaleString('en-US')} loaded (100.0%)`);
    expect(await c.getByTestId('job-status').textContent()).toBe('SUCCESSFUL');
    expect(await c.getByTestId('job-progress').getAttribute('aria-valuenow')).toBe('100.0');
    expect(await c.getByTestId('job-failed').textContent()).toBe(t.failed.toLocaleString('en-US'));
    expect(await c.getByTestId('namespace-row').count()).toBe(DATA.namespaces as number);
    expect(await c.getByTestId('job-cancel').isHidden()).toBe(true);
    await shot('2-job-successful');
  });

  it('cancels a running job with the Cancel button: CANCELLING, then CANCELLED', async () => {
    requireChromium();
    const created = await api.post<JobView>('/v1/jobs', {
      source: { apiKey: API_KEY, index: 'page-slow', controllerHostUrl: emulator.controllerHostUrl },
      target: { address: milvusAddress(), collection: uniqueName('page_cancel') },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id;
    const c = card(id);
    await c.waitFor({ timeout: 30_000 });
    // Running and loading, as the page shows it.
    await expect.poll(() => c.getAttribute('data-status'), { timeout: 60_000 }).toBe('IN_PROGRESS');
    await expect
      .poll(async () => Number((await c.getByTestId('job-progress').getAttribute('aria-valuenow')) ?? 0), { timeout: 120_000, interval: 300 })
      .toBeGreaterThan(0);
    expect(await c.getByTestId('job-rate').textContent()).toMatch(/rec\/s$/);
    await shot('3-slow-job-running');

    await c.getByTestId('job-cancel').click();
    await expect.poll(() => c.getAttribute('data-status'), { timeout: 10_000, interval: 100 }).toMatch(/^CANCELL(ING|ED)$/);
    await expect.poll(() => c.getAttribute('data-status'), { timeout: 30_000, interval: 200 }).toBe('CANCELLED');
    expect(await c.getByTestId('job-status').textContent()).toBe('CANCELLED');
    expect(await c.getByTestId('job-cancel').isHidden()).toBe(true);
    expect(await c.getByTestId('job-resume').isVisible()).toBe(true);
    expect(await c.getByTestId('job-action-error').textContent()).toBe('');
    const view = await pollJob(api, id, ['CANCELLED'], 1000);
    expect(view.progress.total.extracted).toBeLessThan(DATA_SLOW.count);
    await shot('4-slow-job-cancelled');
  });

  it('View details shows the error log (DLQ entries with reasons) and the verification report', async () => {
    requireChromium();
    const c = card(doneJob.id);
    await c.getByTestId('job-details-toggle').click();
    expect(await c.getByTestId('job-details').isVisible()).toBe(true);
    const errors = (await api.get(`/v1/jobs/${doneJob.id}/errors?limit=1000`)).body as { total: number; entries: { id: string; reason: string }[] };
    expect(errors.total).toBe(doneJob.progress.total.failed);
    await c.getByTestId('error-row').first().waitFor();
    const rows = c.getByTestId('error-row');
    // Fewer than one page of the page's error log (100 rows): every entry is shown.
    expect(errors.total).toBeLessThan(100);
    const shown = await rows.count();
    expect(shown).toBe(errors.total);
    expect(await c.getByTestId('job-errors-total').textContent()).toBe(
      `Showing ${shown.toLocaleString('en-US')} of ${errors.total.toLocaleString('en-US')} records in the dead-letter queue.`,
    );
    // Each row is a DLQ entry: its id and its reason as the API gives them.
    const first = (await rows.first().locator('td').allTextContents()) as string[];
    const entry = errors.entries.find((e) => e.id === first[1]);
    expect(entry, `row ${JSON.stringify(first)}`).toBeDefined();
    expect(first[3]).toBe(entry!.reason);
    expect(first[3]).toMatch(/longer than max_length 40|sparse (value|index)/);

    const report = c.getByTestId('job-report');
    expect(await report.textContent()).toMatch(/^Passed \(checked /);
    const nsRows = report.getByTestId('report-namespace-row');
    expect(await nsRows.count()).toBe(doneJob.report!.namespaces.length);
    for (let i = 0; i < doneJob.report!.namespaces.length; i++) {
      const cells = await nsRows.nth(i).locator('td').allTextContents();
      const ns = doneJob.report!.namespaces.find((n) => (n.namespace === '' ? '(default)' : n.namespace) === cells[0])!;
      expect(cells.slice(1)).toEqual([ns.sourceCount, ns.extracted, ns.targetCount, ns.dlq, ns.missing].map((n) => n.toLocaleString('en-US')).concat(['yes']));
    }
    expect(await report.textContent()).toMatch(/no mismatch/);
    await shot('5-details-errors-and-report');
    expect(pageErrors).toEqual([]);
  });

  it('shows on a FAILED job\u2019s card what stopped and where, and on each namespace how far it got', async () => {
    requireChromium();
    const source = await revocableSource(emulator);
    let failed: JobView;
    try {
      const created = await api.post<JobView>('/v1/jobs', {
        source: { apiKey: API_KEY, index: 'page-fail', controllerHostUrl: source.controllerHostUrl },
        target: { address: milvusAddress(), collection: uniqueName('page_failed') },
      });
      expect(created.status, created.text).toBe(201);
      // Some of it extracted, then the key is revoked: a permanent error stops the job where it was.
      await expect
        .poll(async () => (await api.get<JobView>(`/v1/jobs/${created.body.id}`)).body.progress.total.extracted, { timeout: 120_000, interval: 300 })
        .toBeGreaterThan(0);
      source.revoke();
      failed = await pollJob(api, created.body.id, ['FAILED', 'SUCCESSFUL', 'CANCELLED'], 120_000);
    } finally {
      await source.close();
    }
    const id = failed.id;
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatchObject({ code: 'SOURCE_UNAUTHORIZED', at: expect.stringMatching(/^namespace .+, page \d+$/) });

    const c = card(id);
    await c.waitFor({ timeout: 30_000 });
    await expect.poll(() => c.getAttribute('data-status'), { timeout: 10_000 }).toBe('FAILED');
    // On the card, not only in the details: the state, where it stopped and why.
    const stopped = c.getByTestId('job-stopped');
    expect(await stopped.isVisible()).toBe(true);
    expect(await stopped.textContent()).toBe(`Failed at ${failed.error!.at}: ${failed.error!.code}: ${failed.error!.message}`);
    expect(await c.getByTestId('job-rate').textContent()).toBe('\u2014');
    expect(await c.getByTestId('job-cancel').isHidden()).toBe(true);
    expect(await c.getByTestId('job-resume').isVisible()).toBe(true);

    const where = /^namespace (.+), page (\d+)$/.exec(failed.error!.at!)!;
    // The extractor names the default namespace as Pinecone does.
    const failedNamespace = where[1] === '__default__' ? '' : where[1];
    expect(failed.progress.namespaces.map((n) => n.namespace)).toContain(failedNamespace);
    const rows = c.getByTestId('namespace-row');
    expect(await rows.count()).toBe(DATA_FAIL.namespaces as number);
    for (const ns of failed.progress.namespaces) {
      const label = ns.namespace === '' ? '(default)' : ns.namespace;
      const cells = await c.locator(`[data-testid="namespace-row"][data-namespace="${ns.namespace}"] td`).allTextContents();
      expect(cells[0]).toBe(label);
      const n = (v: number) => v.toLocaleString('en-US');
      const expected = ns.extractionDone
        ? 'done'
        : ns.namespace === failedNamespace
          ? `failed at page ${n(Number(where[2]))}, ${n(ns.extracted)} of ${n(ns.sourceCount)} extracted`
          : `stopped at ${n(ns.extracted)} of ${n(ns.sourceCount)}`;
      expect(cells[5], `namespace ${label}`).toBe(expected);
    }
    expect(await c.getByTestId('job-namespaces').textContent()).not.toContain('running');
    await shot('6-failed-job');
    expect(pageErrors).toEqual([]);
  });

  it('filters by status and pages through the jobs as the API lists them', async () => {
    requireChromium();
    const list = async (query: string) =>
      (await api.get<{ jobs: JobView[]; total: number; next: string | null; counts: Record<string, number> }>(`/v1/jobs?${query}`)).body;
    const ids = async () => page.getByTestId('job-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-job-id')));
    // Two jobs a page, so the jobs this file created alone make three pages.
    await page.goto(`${api.baseUrl}/?per-page=2`);
    const first = await list('limit=2');
    expect(first.total).toBeGreaterThanOrEqual(3);
    await expect.poll(() => page.getByTestId('page-info').textContent()).toBe(`Jobs 1\u20132 of ${first.total}`);
    expect(await ids()).toEqual(first.jobs.map((j) => j.id));
    expect(await page.getByTestId('page-prev').isDisabled()).toBe(true);

    await page.getByTestId('page-next').click();
    const second = await list(`limit=2&cursor=${first.next!}`);
    await expect.poll(() => page.getByTestId('page-info').textContent()).toBe(`Jobs 3\u2013${2 + second.jobs.length} of ${first.total}`);
    expect(await ids()).toEqual(second.jobs.map((j) => j.id));
    await page.getByTestId('page-prev').click();
    await expect.poll(() => page.getByTestId('page-info').textContent()).toBe(`Jobs 1\u20132 of ${first.total}`);
    await shot('7-paged');

    // The Failed filter: only FAILED jobs, as many as the API counts; the address keeps it.
    const filter = page.getByTestId('status-filter');
    await filter.locator('[data-filter="failed"]').click();
    const failed = await list('status=FAILED&limit=2');
    await expect.poll(() => page.getByTestId('page-info').textContent()).toBe(`Jobs 1\u2013${failed.jobs.length} of ${failed.total}`);
    expect(await ids()).toEqual(failed.jobs.map((j) => j.id));
    expect(await page.getByTestId('job-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))).toEqual(failed.jobs.map(() => 'FAILED'));
    expect(await filter.locator('[data-filter="failed"]').textContent()).toBe(`Failed (${failed.counts['FAILED']!.toLocaleString('en-US')})`);
    expect(new URL(page.url()).searchParams.get('status')).toBe('failed');
    await filter.locator('[data-filter="successful"]').click();
    const successful = await list('status=SUCCESSFUL&limit=2');
    await expect.poll(() => ids()).toEqual(successful.jobs.map((j) => j.id));
    expect(successful.jobs.map((j) => j.id)).toContain(doneJob.id);
    await shot('8-filtered');
    expect(pageErrors).toEqual([]);
  });
});
