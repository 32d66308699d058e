import { EtlError, sleep } from '@p2m/core';
import type { MilvusConnection } from './connection.ts';
import type { FailureContext } from './errors.ts';

/**
 * Loads a collection and waits until Milvus reports it 100 % loaded, for as long as the loading
 * moves: a load that makes no progress for `conn.longTimeout` fails (retriable), however long the
 * whole takes. The SDK's own `loadCollectionSync` polls until 100 % with no end, so a load stuck
 * on the server (a query node gone, an index that never finishes) would hold its caller forever.
 */
export async function loadAndWait(conn: MilvusConnection, collection: string, ctx: (what: string) => FailureContext, pollMs = 400): Promise<void> {
  await conn.call(ctx(`loading "${collection}"`), (c) => c.loadCollectionAsync({ collection_name: collection, timeout: conn.longTimeout }));
  await whileMoving({
    poll: async () => {
      const res = await conn.call(ctx(`asking how far loading "${collection}" is`), (c) =>
        c.getLoadingProgress({ collection_name: collection, timeout: conn.timeout }),
      );
      const progress = Number(res.progress);
      return { done: progress >= 100, progress };
    },
    stalledAfterMs: conn.longTimeout,
    pollMs,
    stalled: (progress) =>
      new EtlError('TARGET_UNAVAILABLE', `loading "${collection}" made no progress for ${Math.round(conn.longTimeout / 1000)} s (at ${progress} %)`, {
        retriable: true,
        hint: "check the Milvus server's query nodes and its log; the load is asked for again on the next attempt",
      }),
  });
}

/**
 * Polls until `poll` says done, for as long as its progress figure changes: the same figure for
 * `stalledAfterMs` ends the wait with `stalled(progress)`. An error thrown by `poll` ends it too.
 * The waits on the server (a load, an index build) use it, so none lasts forever and none gives up
 * on work that still moves.
 */
export async function whileMoving(o: {
  poll: () => Promise<{ done: boolean; progress: number }>;
  stalledAfterMs: number;
  pollMs: number;
  stalled: (progress: number) => EtlError;
}): Promise<void> {
  let last: number | undefined;
  let movedAt = Date.now();
  for (;;) {
    const { done, progress } = await o.poll();
    if (done) return;
    if (progress !== last) {
      last = progress;
      movedAt = Date.now();
    } else if (Date.now() - movedAt >= o.stalledAfterMs) {
      throw o.stalled(progress);
    }
    await sleep(o.pollMs);
  }
}
