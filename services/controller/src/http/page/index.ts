import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The Jobs page: one self-contained HTML file (inline CSS and JS, no build step, no data inside).
 * Its inline script and style are allowed by hash in the Content-Security-Policy, so nothing else
 * can run on the page even if some job field carried markup (the page only ever sets textContent).
 */
export interface JobsPage {
  html: string;
  contentSecurityPolicy: string;
}

let cached: JobsPage | undefined;

export function jobsPage(): JobsPage {
  if (cached) return cached;
  const html = readFileSync(new URL('./jobs.html', import.meta.url), 'utf8');
  const hashes = (tag: string): string =>
    [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
      .map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '', 'utf8').digest('base64')}'`)
      .join(' ');
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${hashes('script')}`,
    `style-src ${hashes('style')}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  cached = { html, contentSecurityPolicy };
  return cached;
}
