import { describe, expect, it } from 'vitest';
import { createSinkPool } from './sink.ts';

// Connections are lazy (nothing is dialled before a call), so the pool's bookkeeping is tested
// without a server; the controller's use of it is measured by the bench (its CPU per job).
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createSinkPool', () => {
  it('sinks of one target share a connection; another token or address is another connection', async () => {
    const pool = createSinkPool({ idleMs: 20 });
    const a = pool.sink({ address: '127.0.0.1:1', token: 'root:x' });
    const b = pool.sink({ address: '127.0.0.1:1', token: 'root:x' });
    expect(pool.size).toBe(1);
    const c = pool.sink({ address: '127.0.0.1:1', token: 'root:y' });
    const d = pool.sink({ address: '127.0.0.1:2', token: 'root:x' });
    expect(pool.size).toBe(3);
    for (const s of [a, b, c, d]) await s.close();
    await pool.close();
  });

  it('a connection closes only after its last sink closed and it stayed idle; a sink closed twice gives it back once', async () => {
    const pool = createSinkPool({ idleMs: 20 });
    const a = pool.sink({ address: '127.0.0.1:1' });
    const b = pool.sink({ address: '127.0.0.1:1' });
    await a.close();
    await a.close();
    await wait(60);
    expect(pool.size).toBe(1);
    await b.close();
    expect(pool.size).toBe(1);
    await wait(60);
    expect(pool.size).toBe(0);
    await pool.close();
  });

  it('a sink opened within the idle time keeps the connection', async () => {
    const pool = createSinkPool({ idleMs: 40 });
    await pool.sink({ address: '127.0.0.1:1' }).close();
    await wait(10);
    const again = pool.sink({ address: '127.0.0.1:1' });
    await wait(80);
    expect(pool.size).toBe(1);
    await again.close();
    await pool.close();
    expect(pool.size).toBe(0);
  });

  it('closed, it closes every connection and opens no more', async () => {
    const pool = createSinkPool();
    const open = pool.sink({ address: '127.0.0.1:1' });
    await pool.close();
    expect(pool.size).toBe(0);
    await open.close();
    expect(() => pool.sink({ address: '127.0.0.1:1' })).toThrow(/closed/);
    await expect(open.collectionExists('x')).rejects.toThrow(/closed/);
  });
});
