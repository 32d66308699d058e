import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import './request-queue.ts';

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  maxInFlightRequests: number;
  checkPendingRequests(): void;
  push(request: unknown): void;
  destroy(): void;
}

const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (options: Record<string, unknown>) => Queue;
const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe("KafkaJS's request queue (patched)", () => {
  const queues: Queue[] = [];
  const make = (maxInFlightRequests = 1): Queue => {
    const q = new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger });
    queues.push(q);
    return q;
  };
  afterEach(() => {
    for (const q of queues.splice(0)) q.destroy();
  });

  it('schedules no timer when nothing is pending (KafkaJS set a negative delay: a warning and a 1 ms loop)', () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const q = make();
      q.checkPendingRequests(); // what every answered request does
      expect(q.throttleCheckTimeoutId).toBeNull();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('TimeoutNegativeWarning');
  });

  it('still checks again for a queued request, and after a throttle', async () => {
    const q = make(0); // nothing may go out now: the request waits in the queue
    let sent = 0;
    const request = { entry: { correlationId: 1, resolve: () => undefined, reject: () => undefined }, expectResponse: false, sendRequest: () => void sent++ };
    q.push(request);
    expect(q.pending).toHaveLength(1);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    q.maxInFlightRequests = 1;
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toBe(1);
    expect(q.pending).toHaveLength(0);

    const throttled = make();
    throttled.throttledUntil = Date.now() + 10_000;
    throttled.push({ entry: { correlationId: 2, resolve: () => undefined, reject: () => undefined }, expectResponse: false, sendRequest: () => undefined });
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
  });
});
