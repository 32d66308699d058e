// Rate limits (429) and injected faults (5xx, latency, dropped connections), as raw HTTP and as
// the SDKs see them, set at start and at run time through the admin endpoint.

import { Errors, Pinecone } from '@pinecone-database/pinecone';
import { Errors as Errors6, Pinecone as Pinecone6 } from 'pinecone-v6';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS, startEmulator } from '../index.ts';
import type { Emulator, EmulatorOptions } from '../index.ts';
import { expectRejection, vectorOf } from './harness.ts';

const KEY = 'faults-key';
const running: Emulator[] = [];

async function emulatorWithIndex(options: EmulatorOptions = {}): Promise<{ emulator: Emulator; host: string }> {
  const emulator = await startEmulator({ port: 0, apiKey: KEY, ...options });
  running.push(emulator);
  const { host } = await emulator.createIndex({ name: 'limits', dimension: 4 });
  emulator.load('limits', [{ id: 'a', values: vectorOf(4) }]);
  return { emulator, host };
}

function get(url: string, version = '2025-04'): Promise<Response> {
  return fetch(url, { headers: { 'Api-Key': KEY, 'X-Pinecone-Api-Version': version } });
}

async function admin(emulator: Emulator, path: string, method: string, body?: unknown, key = KEY): Promise<Response> {
  return fetch(`${emulator.controllerHostUrl}${path}`, {
    method,
    headers: { 'Api-Key': key, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

describe('rate limits', () => {
  it("defaults to Pinecone's serverless limits", async () => {
    const { emulator } = await emulatorWithIndex();
    expect(await (await admin(emulator, '/admin/rate-limits', 'GET')).json()).toEqual({
      fetch: 100,
      list: 200,
      describe_index_stats: 100,
      upsert: 100,
      upsert_bytes: 50 * 1024 * 1024,
    });
    expect(DEFAULT_RATE_LIMITS.fetch).toBe(100);
  });

  it('answers 429 past the per-index budget, per version shape, with Retry-After', async () => {
    const { emulator, host } = await emulatorWithIndex({ rateLimits: { fetch: 2 } });
    const replies = await Promise.all(Array.from({ length: 12 }, () => get(`${host}/vectors/fetch?ids=a`)));
    const statuses = replies.map((r) => r.status);
    // The bucket holds one second of budget (2) and refills while the requests run.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
    const limited = replies.find((r) => r.status === 429)!;
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toEqual({ code: 8, message: expect.stringMatching(/max fetch requests per second limit \(2\)/), details: [] });
    const plain = await get(`${host}/vectors/fetch?ids=a`, '2026-07');
    expect([plain.status, plain.headers.get('content-type')]).toEqual([429, 'text/plain; charset=utf-8']);
    // The SDKs do not retry 429: the caller sees it.
    const pc = new Pinecone({ apiKey: KEY, controllerHostUrl: emulator.controllerHostUrl });
    await expectRejection(pc.index({ name: 'limits', host }).fetch({ ids: ['a'] }), Errors.PineconeUnmappedHttpError, /429/);
    // Other operations and other indexes have their own budgets.
    expect((await get(`${host}/vectors/list`)).status).toBe(200);
  });

  it('limits upsert bytes per second and can be changed or switched off at run time', async () => {
    const { emulator, host } = await emulatorWithIndex({ rateLimits: { upsert_bytes: 400 } });
    const upsert = (): Promise<Response> =>
      fetch(`${host}/vectors/upsert`, {
        method: 'POST',
        headers: { 'Api-Key': KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ vectors: [{ id: 'u', values: vectorOf(4), metadata: { pad: 'x'.repeat(200) } }] }),
      });
    expect((await upsert()).status).toBe(200);
    expect((await upsert()).status).toBe(429);
    expect((await admin(emulator, '/admin/rate-limits', 'POST', false)).status).toBe(200);
    expect((await upsert()).status).toBe(200);
    await admin(emulator, '/admin/rate-limits', 'POST', { list: 1 });
    expect((await get(`${host}/vectors/list`)).status).toBe(200);
    expect((await get(`${host}/vectors/list`)).status).toBe(429);
    expect((await admin(emulator, '/admin/rate-limits', 'GET', undefined, 'wrong')).status).toBe(401);
  });
});

describe('fault injection', () => {
  it('injects 5xx on chosen operations; the SDKs report them as server errors', async () => {
    const { emulator, host } = await emulatorWithIndex({ faults: { errorRate: 1, errorStatuses: [503], operations: ['fetch'] } });
    const res = await get(`${host}/vectors/fetch?ids=a`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ code: 14, message: expect.stringMatching(/injected/), details: [] });
    expect((await get(`${host}/vectors/list`)).status).toBe(200);
    const pc6 = new Pinecone6({ apiKey: KEY, controllerHostUrl: emulator.controllerHostUrl });
    await expectRejection(pc6.index('limits', host).fetch(['a']), Errors6.PineconeUnavailableError);
    const pc9 = new Pinecone({ apiKey: KEY, controllerHostUrl: emulator.controllerHostUrl, maxRetries: 0 });
    await expectRejection(pc9.index({ name: 'limits', host }).fetch({ ids: ['a'] }), Errors.PineconeMaxRetriesExceededError);
    expect(emulator.stats().faults.errors).toBeGreaterThanOrEqual(3);
  });

  it('drops connections and adds latency, set through POST /admin/faults', async () => {
    const { emulator, host } = await emulatorWithIndex();
    expect((await admin(emulator, '/admin/faults', 'POST', { dropRate: 1, operations: ['list'] })).status).toBe(200);
    await expect(get(`${host}/vectors/list`)).rejects.toThrow();
    const pc = new Pinecone({ apiKey: KEY, controllerHostUrl: emulator.controllerHostUrl });
    await expectRejection(pc.index({ name: 'limits', host }).listPaginated(), Errors.PineconeConnectionError);

    await admin(emulator, '/admin/faults', 'POST', { latencyMs: 150 });
    const t0 = performance.now();
    expect((await get(`${host}/vectors/fetch?ids=a`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(await (await admin(emulator, '/admin/faults', 'GET')).json()).toEqual({ latencyMs: 150 });
    await admin(emulator, '/admin/faults', 'DELETE');
    expect(await (await admin(emulator, '/admin/faults', 'GET')).json()).toEqual({});
    expect((await admin(emulator, '/admin/faults', 'POST', { errorRate: 2 })).status).toBe(400);
  });

  it('repeats the same faults for the same seed', async () => {
    const sequence = async (seed: number): Promise<number[]> => {
      const { host } = await emulatorWithIndex({ seed, faults: { errorRate: 0.5 }, rateLimits: false });
      const out: number[] = [];
      for (let i = 0; i < 40; i++) out.push((await get(`${host}/vectors/fetch?ids=a`)).status);
      return out;
    };
    const a = await sequence(42);
    expect(a).toContain(200);
    expect(a.some((s) => s >= 500)).toBe(true);
    expect(await sequence(42)).toEqual(a);
    expect(await sequence(43)).not.toEqual(a);
  });
});
