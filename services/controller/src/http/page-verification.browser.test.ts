import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerificationProgress } from '@p2m/core';
import { CHROMIUM, CHROMIUM_ARGS, IN_CI } from '@p2m/testing';
import { createHarness, type Harness } from './harness.ts';

/**
 * The Jobs page while a job verifies: the phase, how far reconciliation is, its ETA and the phases
 * already done; then, in the report, what reconciliation saw and each phase's time. Real headless
 * Chromium, as page.browser.test.ts (which says when it is skipped and when it fails).
 */
const verifying: VerificationProgress = {
  phase: 'reconcile',
  startedAt: new Date(0).toISOString(),
  phases: [
    { phase: 'flush', seconds: 1, done: true },
    { phase: 'indexes', seconds: 62, done: true },
    { phase: 'load', seconds: 1, done: true },
    { phase: 'dlq', seconds: 0, done: true },
    { phase: 'reconcile', seconds: 40, done: false },
  ],
  namespacesDone: 1,
  namespaces: 2,
  recordsChecked: 400_000,
  recordsTotal: 1_000_000,
  bucketsDone: 0,
  buckets: 0,
  etaSeconds: 60,
};

describe.skipIf(!CHROMIUM && !IN_CI)('Jobs page while a job verifies', () => {
  let h: Harness;
  let url: string;
  let browser: import('playwright-core').Browser;

  beforeAll(async () => {
    if (!CHROMIUM) return;
    h = createHarness();
    url = await h.app.start();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('shows the phase and its progress, then the phases in the report', async () => {
    if (!CHROMIUM) throw new Error('no Chromium (/usr/bin/chromium): CI must have it, or set P2M_CHROMIUM');
    const job = await h.jobs.create(h.spec('verifying_job'));
    h.jobs.update(job.id, { status: 'VERIFYING', progress: { verification: verifying } });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(`${url}/`);
    await page.getByTestId('token-input').fill(h.token);
    await page.getByTestId('token-submit').click();
    const card = page.locator(`[data-testid="job-card"][data-job-id="${job.id}"]`);
    await card.waitFor();
    const line = card.getByTestId('job-verification');
    await expect
      .poll(() => line.textContent())
      .toBe(
        'Verifying: reconcile \u2014 400,000 / 1,000,000 log records checked, 1 / 2 namespaces, ETA 1m 0s (done: flush 1s, indexes 1m 2s, load 1s, dlq 0s)',
      );

    h.jobs.complete(job.id, {
      phases: [...verifying.phases.slice(0, 4), { phase: 'reconcile', seconds: 100, done: true }, { phase: 'settle', seconds: 2, done: true }],
      reconciliation: {
        logRecords: 1_000_000,
        distinctRecords: 1_000_000,
        duplicateCopies: 0,
        targetRows: 1_000_000,
        expectedRows: 1_000_000,
        lookups: 489,
        buckets: 1024,
        bucketsDrilled: 0,
      },
    });
    await expect.poll(() => line.isHidden()).toBe(true);
    await card.getByTestId('job-details-toggle').click();
    const report = card.getByTestId('job-report');
    await expect.poll(() => report.textContent()).toContain('Reconciled 1,000,000 log records (1,000,000 distinct) against 1,000,000 target rows.');
    expect(await report.textContent()).toContain('Took flush 1s, indexes 1m 2s, load 1s, dlq 0s, reconcile 1m 40s, settle 2s.');
    expect(pageErrors).toEqual([]);
  });
});
