import { connect } from 'node:net';
import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { EtlError, errorMessage } from '@p2m/core';
import { loadMilvusSdk, QUIET_KEEPALIVE } from './connection.ts';

/**
 * Proves Milvus answers a real call (`listCollections`), not just that its port is open.
 * `checkHealth` is not used: Milvus Lite 2.5 answers it with an empty message. Some embedded
 * servers report failures with `error_code: Success` and a non-zero `code`, so both are checked.
 */
export async function checkMilvusHealth(address: string, token?: string, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let client: MilvusClient | undefined;
  try {
    const call = async (): Promise<void> => {
      // The stack probes a starting server every half second, and an SDK client costs 0.4-0.7 s of
      // CPU to make (it compiles Milvus's protocol descriptors), CPU the starting server needs: no
      // client is made before the port takes connections.
      await portAccepts(address, timeoutMs);
      const { MilvusClient } = await loadMilvusSdk();
      client = new MilvusClient({
        address,
        token,
        timeout: timeoutMs,
        logLevel: 'error',
        channelOptions: QUIET_KEEPALIVE,
      });
      // The constructor starts connecting at once; a refused connection rejects this promise,
      // which would be unhandled (and crash the process) if nothing awaited it.
      await client.connectPromise;
      const res = await client.listCollections();
      const status = res.status;
      if (status && (status.code !== 0 || (status.error_code !== undefined && status.error_code !== 'Success'))) {
        throw new Error(`listCollections answered ${status.error_code}/${status.code}: ${status.reason}`);
      }
    };
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([call(), deadline]);
  } catch (err) {
    throw new EtlError('STACK', `Milvus at ${address} did not answer: ${errorMessage(err)}`, {
      retriable: true,
      cause: err,
      hint: 'check that Milvus is running ("npx p2m stack status") and that P2M_MILVUS_ADDRESS points at it',
    });
  } finally {
    clearTimeout(timer);
    await (client as MilvusClient | undefined)?.closeConnection().catch(() => undefined);
  }
}

/**
 * Resolves once something accepts a TCP connection at `address` when it is a plain `host:port`
 * (an `https://` address is left to the SDK); rejects with the connection's error.
 */
export async function portAccepts(address: string, timeoutMs: number): Promise<void> {
  const m = /^([^:/\s]+):(\d+)$/.exec(address);
  if (!m) return;
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: m[1], port: Number(m[2]) });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`no TCP connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}
