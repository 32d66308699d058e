import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.ts';
import { jobsPage } from './page/index.ts';

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

describe('Jobs page', () => {
  it('is served at / without a token, as HTML with a strict CSP', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const script = /<script>([\s\S]*?)<\/script>/.exec(res.body)?.[1] ?? '';
    const hash = createHash('sha256').update(script).digest('base64');
    expect(csp).toContain(`'sha256-${hash}'`);
  });

  it('holds no data and no token', async () => {
    await h.app.inject({ method: 'POST', url: '/v1/jobs', headers: h.auth, payload: h.spec('visible_job') });
    const res = await h.app.inject({ method: 'GET', url: '/', headers: h.auth });
    expect(res.body).not.toContain('visible_job');
    expect(res.body).not.toContain(h.token);
  });

  it('has one inline script that parses, and the data-testids tests rely on', () => {
    const { html } = jobsPage();
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    expect(() => new Function(scripts[0]![1]!)).not.toThrow();
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/);
    for (const id of [
      'token-form',
      'token-input',
      'token-submit',
      'token-error',
      'forget-token',
      'connection-status',
      'jobs',
      'jobs-empty',
      'job-list',
      'job-card',
      'job-collection',
      'job-status',
      'job-id',
      'job-route',
      'job-progress',
      'job-progress-text',
      'job-rate',
      'job-eta',
      'job-lag',
      'job-failed',
      'job-cancel',
      'job-resume',
      'job-details-toggle',
      'job-details',
      'job-namespaces',
      'namespace-row',
      'job-error',
      'job-report',
      'job-errors',
      'job-errors-total',
      'job-errors-more',
      'error-row',
      'job-action-error',
      'status-filter',
      'page-info',
      'page-prev',
      'page-next',
      'job-stopped',
    ]) {
      expect(html, id).toContain(id);
    }
    // Job data only ever reaches the page as text: no HTML sinks in the script.
    expect(scripts[0]![1]).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });
});
