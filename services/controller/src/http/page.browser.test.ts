import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS, IN_CI } from '@p2m/testing';
import { createHarness, type Harness } from './harness.ts';

/**
 * The Jobs page in a real headless Chromium (Debian's `chromium` package, which .ci/run installs).
 * Under CI a missing Chromium fails the test; elsewhere it is skipped (the page's static checks in
 * page.test.ts run everywhere).
 */
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
    h.jobs.addDlq(done.id, [
      { namespace: 'docs', id: '<img src=x onerror="window.pwned=1">', code: 'RECORD_INVALID', reason: '<b>bold?</b>', at: new Date(0).toISOString() },
    ]);
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
    // Kafka silent for 40 s: the page says the loaded counts are as of then, not that nothing is loaded.
    h.jobs.update(running.id, { progress: { consumerLag: 12, updatedAt: '2026-01-01T00:01:30.000Z', offsetsAt: '2026-01-01T00:00:50.000Z' } });
    await expect.poll(() => runningCard.getByTestId('job-lag').textContent(), { timeout: 5000 }).toBe('12 (Kafka not answering for 40s: loaded as of then)');
    expect(await runningCard.getByTestId('job-progress').getAttribute('aria-valuenow')).toBe('80.0');

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

  it('filters by status, pages through many jobs, and shows where a FAILED job stopped', async () => {
    if (!CHROMIUM) throw new Error('no Chromium (/usr/bin/chromium): CI must have it (apt-get install chromium, as .ci/run does), or set P2M_CHROMIUM');
    const failed = await h.jobs.create(h.spec('failed_job'));
    h.jobs.update(failed.id, {
      status: 'FAILED',
      error: { code: 'SOURCE_UNAUTHORIZED', message: 'the Pinecone API key is not allowed to run fetch (HTTP 403)', at: 'namespace __default__, page 3' },
      progress: {
        namespaces: [
          { namespace: '', sourceCount: 600, extracted: 200, loaded: 150, failed: 0, extractionDone: false },
          { namespace: 'a', sourceCount: 400, extracted: 400, loaded: 400, failed: 0, extractionDone: true },
        ],
        total: { sourceCount: 1000, extracted: 600, loaded: 550, failed: 0 },
      },
    });
    for (let i = 0; i < 12; i++) h.jobs.complete((await h.jobs.create(h.spec(`many_${String(i).padStart(2, '0')}`))).id);
    const all = await h.jobs.list();

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${url}/?per-page=5`);
    await page.getByTestId('token-input').fill(h.token);
    await page.getByTestId('token-submit').click();
    const cards = page.getByTestId('job-card');
    await expect.poll(() => cards.count()).toBe(5);
    expect(await page.getByTestId('page-info').textContent()).toBe(`Jobs 1\u20135 of ${all.length}`);
    expect(await page.getByTestId('page-prev').isDisabled()).toBe(true);

    // Older pages until the last one; every job shows up exactly once, newest first.
    const seen: string[] = [];
    for (;;) {
      seen.push(...(await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-job-id') ?? ''))));
      if (await page.getByTestId('page-next').isDisabled()) break;
      const before = await page.getByTestId('page-info').textContent();
      await page.getByTestId('page-next').click();
      await expect.poll(() => page.getByTestId('page-info').textContent()).not.toBe(before);
    }
    expect(seen).toEqual([...all].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1)).map((j) => j.id));
    await page.getByTestId('page-prev').click();
    await expect.poll(() => page.getByTestId('page-info').textContent()).toBe(`Jobs 6\u201310 of ${all.length}`);

    // The Failed filter: only FAILED jobs, counted on its button; the address keeps the filter.
    const filter = page.getByTestId('status-filter');
    await filter.locator('[data-filter="failed"]').click();
    await expect.poll(() => cards.count()).toBe(1);
    expect(await filter.locator('[data-filter="failed"]').textContent()).toBe('Failed (1)');
    expect(await filter.locator('[data-filter="all"]').textContent()).toBe(`All (${all.length})`);
    expect(new URL(page.url()).searchParams.get('status')).toBe('failed');
    const card = page.locator(`[data-testid="job-card"][data-job-id="${failed.id}"]`);
    expect(await card.getByTestId('job-status').textContent()).toBe('FAILED');
    // What stopped and where, on the card itself: not only in the details.
    expect(await card.getByTestId('job-stopped').isVisible()).toBe(true);
    expect(await card.getByTestId('job-stopped').textContent()).toBe(
      'Failed at namespace __default__, page 3: SOURCE_UNAUTHORIZED: the Pinecone API key is not allowed to run fetch (HTTP 403)',
    );
    const rows = card.getByTestId('namespace-row');
    expect(await rows.nth(0).locator('td').last().textContent()).toBe('failed at page 3, 200 of 600 extracted');
    expect(await rows.nth(1).locator('td').last().textContent()).toBe('done');
    expect(await card.textContent()).not.toContain('running');

    await filter.locator('[data-filter="cancelled"]').click();
    await expect.poll(() => page.getByTestId('jobs-empty').textContent()).toBe('No job matches this filter.');
    await page.reload();
    await expect.poll(() => page.getByTestId('jobs-empty').isVisible()).toBe(true);
    expect(await filter.locator('[data-filter="cancelled"]').getAttribute('aria-pressed')).toBe('true');
    expect(pageErrors).toEqual([]);
  });
});
