import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMilvusHealth, portAccepts } from './health.ts';

describe('Milvus health probe', () => {
  let server: Server;
  let open: number;
  let closed: number;
  beforeAll(async () => {
    // A port nothing listens on: take one, then let it go.
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
    closed = (spare.address() as { port: number }).port;
    await new Promise<void>((r) => spare.close(() => r()));
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('portAccepts: resolves on a listening port, rejects on a closed one, leaves URLs to the SDK', async () => {
    await expect(portAccepts(`127.0.0.1:${open}`, 2_000)).resolves.toBeUndefined();
    await expect(portAccepts(`127.0.0.1:${closed}`, 2_000)).rejects.toThrow(/ECONNREFUSED/);
    await expect(portAccepts('https://in01-example.zillizcloud.com', 2_000)).resolves.toBeUndefined();
  });

  it('a server whose port is closed fails the probe on the TCP refusal, before any SDK client is made', async () => {
    // The SDK would say "No connection established" / UNAVAILABLE; the refusal comes from the pre-check.
    await expect(checkMilvusHealth(`127.0.0.1:${closed}`, undefined, 2_000)).rejects.toThrow(/did not answer: connect ECONNREFUSED/);
  });
});
