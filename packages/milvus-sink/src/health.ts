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
