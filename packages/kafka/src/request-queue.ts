import { createRequire } from 'node:module';

/**
 * KafkaJS 2.2.4's request queue schedules its next "pending requests" check at
 * `throttledUntil - Date.now()` even when nothing is pending and nothing is throttled
 * (`throttledUntil` is -1): a negative delay, which Node runs after 1 ms and, since Node 24, reports
 * as a `TimeoutNegativeWarning` on the terminal. The check then schedules itself again, so every
 * open broker connection runs a 1 ms timer loop for as long as it lives (kafkajs#1704, #1751; the
 * fix is unreleased). Measured here: five idle connections made 22,000 timer calls and used 150 ms
 * of CPU in 5 s; with this fix none and 28 ms.
 *
 * The fix is the one proposed upstream: with nothing pending and no throttle to wait out there is
 * nothing to check; the next request either goes out at once or is queued, and queuing schedules
 * a check again. KafkaJS is pinned (package.json), so the patched method is the one read here.
 */

interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  scheduleCheckPendingRequests(): void;
}

const PATCHED = Symbol.for('p2m.kafkajs.requestQueue.noIdleTimer');

export function patchKafkaRequestQueue(): void {
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals & { [PATCHED]?: true } };
  const proto = RequestQueue.prototype;
  if (proto[PATCHED]) return;
  const original = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueInternals): void {
    if (!this.throttleCheckTimeoutId && this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    original.call(this);
  };
  proto[PATCHED] = true;
}

patchKafkaRequestQueue();
