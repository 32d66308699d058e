import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The Jobs page: one self-contained HTML document (inline CSS and JS, no build step, no data
 * inside), put together from its sources: jobs.html (the markup), jobs.css, and the script's parts
 * (cards.js, app.js), joined into one inline script in one function scope. Its inline script and
 * style are allowed by hash in the Content-Security-Policy, so nothing else can run on the page even
 * if some job field carried markup (the page only ever sets textContent).
 */
export interface JobsPage {
  html: string;
  contentSecurityPolicy: string;
}

let cached: JobsPage | undefined;

export function jobsPage(): JobsPage {
  if (cached) return cached;
  const read = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
  // The app's last lines start it: every declaration of both parts exists by then.
  const script = `\n'use strict';\n(() => {\n${read('cards.js')}\n${read('app.js')}\n})();\n`;
  const html = read('jobs.html')
    .replace('<style>/* jobs.css */</style>', () => `<style>\n${read('jobs.css')}</style>`)
    .replace('<script>/* app.js, cards.js */</script>', () => `<script>${script}</script>`);
  const hashes = (tag: string): string =>
    [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
      .map(
        (m) =>
          `'sha256-${createHash('sha256')
            .update(m[1] ?? '', 'utf8')
            .digest('base64')}'`,
      )
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
