import { describe, expect, it } from 'vitest';
import { EtlError } from '@p2m/core';
import { notSent, openConnection } from './connection.ts';

const unsent = () =>
  Object.assign(new Error('14 UNAVAILABLE: No connection established. Last error: null'), { code: 14, details: 'No connection established. Last error: null' });
const dropped = () => Object.assign(new Error('14 UNAVAILABLE: Connection dropped'), { code: 14, details: 'Connection dropped' });
const ctx = { what: 'deleting 1 key', permanent: 'TARGET_UNAVAILABLE' as const };

describe('Milvus connection: a call the channel could not send yet', () => {
  it('tells a call that never left from one cut off on the way', () => {
    expect(notSent(unsent())).toBe(true);
    expect(notSent(Object.assign(new Error('x'), { code: 14, details: 'failed to connect to all addresses' }))).toBe(true);
    expect(notSent(dropped())).toBe(false);
    expect(notSent(Object.assign(new Error('No connection established'), { code: 4 }))).toBe(false);
    expect(notSent(null)).toBe(false);
  });

  it('is tried again until the connection is back', async () => {
    const conn = openConnection({ address: '127.0.0.1:1', reconnectWaitMs: 5_000 });
    let tries = 0;
    const res = await conn.call(ctx, () => {
      tries++;
      if (tries < 3) return Promise.reject(unsent());
      return Promise.resolve({ status: { error_code: 'Success', code: 0, reason: '' }, n: 7 });
    });
    expect(tries).toBe(3);
    expect(res.n).toBe(7);
    await conn.close();
  });

  it('gives up within its bound with a retriable error', async () => {
    const conn = openConnection({ address: '127.0.0.1:1', reconnectWaitMs: 700 });
    // The SDK client is made on the first call, which can take long on a busy machine: not in the bound.
    await conn.call(ctx, () => Promise.resolve({}));
    let tries = 0;
    const started = Date.now();
    const err = await conn.call(ctx, () => (tries++, Promise.reject(unsent()))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    expect((err as EtlError).retriable).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(tries).toBeGreaterThan(1);
    await conn.close();
  });

  it('does not send again a call that may have reached the server', async () => {
    const conn = openConnection({ address: '127.0.0.1:1', reconnectWaitMs: 5_000 });
    let tries = 0;
    const err = await conn.call(ctx, () => (tries++, Promise.reject(dropped()))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtlError);
    expect(tries).toBe(1);
    await conn.close();
  });
});
