import { existsSync } from 'node:fs';

/**
 * The headless Chromium the browser tests drive with playwright-core: Debian's `chromium` package
 * (which .ci/run installs), or the one `P2M_CHROMIUM` names; undefined when there is none.
 */
export const CHROMIUM: string | undefined = (process.env.P2M_CHROMIUM ? [process.env.P2M_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find(
  (p) => existsSync(p),
);

/** Under CI a browser test fails without Chromium; elsewhere it is skipped. */
export const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** Flags for a closed network: without the background-networking ones Chromium's own connections are refused, many at a time. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
