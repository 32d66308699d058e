import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.ts';

/**
 * The Jobs page in a real headless Chromium (Debian's `chromium` package, which .ci/run installs).
 * Under CI a missing Chromium fails the test; elsewhere it is skipped (the page's static checks in
 * page.test.ts run everywhere).
 */
const CHROMIUM = (process.env.P2M_CHROMIUM ? [process.env.P2M_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find((p) => existsSync(p));
const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.skipIf(!CHROMIUM && !IN_CI)('Jobs page in a browser', () => {
  let h: Harness;
  let url: string;
  let browser: import('playwright-core').Browser;

  beforeAll(async () => {
    if (!CHROMIUM) return; // the test itself fails (not skips) under CI
    h = createHarness();
    url = await h.app.start();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('asks for the token, lists jobs live, shows details and cancels', async () => {
    if (!CHROMIUM) throw new Error('no Chromium (/usr/bin/chromium): CI must have it (apt-get install chromium, as .ci/run does), or set P2M_CHROMIUM');
    const running = await h.jobs.create(h.spec('running_job'));
    h.jobs.update(running.id, {
      status: 'IN_PROGRESS',
      progress: { recordsPerSecond: 321, etaSeconds: 95, total: { sourceCount: 1000, extracted: 600, loaded: 500, failed: 0 } },
    });
    const done = await h.jobs.create(h.spec('done_job'));
    h.jobs.addDlq(done.id, [{ namespace: 'docs', id: '<img src=x onerror="window.pwned=1">', code: 'RECORD_INVALID', reason: '<b>bold?</b>', at: new Date(0).toISOString() }]);
    h.jobs.complete(done.id);

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${url}/`);

    await page.getByTestId('token-input').fill('wrong');
    await page.getByTestId('token-submit').click();
    await expect.poll(() => page.getByTestId('token-error').textContent()).toMatch(/rejected/);

    await page.getByTestId('token-input').fill(h.token);
    await page.getByTestId('token-submit').click();
    const runningCard = page.locator(`[data-testid="job-card"][data-job-id="${running.id}"]`);
    await runningCard.waitFor();
    expect(await runningCard.getByTestId('job-status').textContent()).toBe('IN PROGRESS');
    expect(await runningCard.getByTestId('job-rate').textContent()).toBe('321 rec/s');
    expect(await runningCard.getByTestId('job-eta').textContent()).toBe('1m 35s');
    expect(await runningCard.getByTestId('job-progress').getAttribute('aria-valuenow')).toBe('50.0');
    expect(await runningCard.getByTestId('namespace-row').count()).toBe(2);

    // Live: progress made on the server shows up without a reload.
    h.jobs.update(running.id, { progress: { total: { sourceCount: 1000, extracted: 900, loaded: 800, failed: 0 } } });
    await expect.poll(() => runningCard.getByTestId('job-progress').getAttribute('aria-valuenow'), { timeout: 5000 }).toBe('80.0');

    const doneCard = page.locator(`[data-testid="job-card"][data-job-id="${done.id}"]`);
    expect(await doneCard.getByTestId('job-status').textContent()).toBe('SUCCESSFUL');
    expect(await doneCard.getByTestId('job-cancel').isHidden()).toBe(true);
    await doneCard.getByTestId('job-details-toggle').click();
    await doneCard.getByTestId('error-row').first().waitFor();
    expect(await doneCard.getByTestId('error-row').first().textContent()).toContain('<img src=x onerror="window.pwned=1">');
    expect(await doneCard.getByTestId('job-report').textContent()).toMatch(/Passed/);
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined();

    await runningCard.getByTestId('job-cancel').click();
    await expect.poll(() => runningCard.getAttribute('data-status')).toBe('CANCELLING');
    expect((await h.jobs.get(running.id)).status).toBe('CANCELLING');

    // The token is kept for the tab: a reload does not ask again.
    await page.reload();
    await runningCard.waitFor();
    expect(await page.getByTestId('token-form').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
