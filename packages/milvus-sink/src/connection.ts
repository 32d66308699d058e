import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { EtlError, sleep } from '@p2m/core';
import { checked, toEtlError, type FailureContext } from './errors.ts';
import { createQueryChannel, type QueryChannel } from './grpc-query.ts';
import { createGrpcWriter, type GrpcWriter } from './grpc-writer.ts';

let sdk: Promise<typeof import('@zilliz/milvus2-sdk-node')> | undefined;

/**
 * The Milvus Node SDK, loaded on first use: data-definition calls, health checks, the SDK writer.
 * The write path (upsert, delete, flush) and verification's queries go on p2m's own channels, so a
 * loader needs it only to read keys back after writes may have been lost, and loading it costs a
 * process ~45 MB and ~0.5 s of CPU (measured).
 */
export function loadMilvusSdk(): Promise<typeof import('@zilliz/milvus2-sdk-node')> {
  sdk ??= import('@zilliz/milvus2-sdk-node');
  return sdk;
}

/**
 * One connection to a Milvus / Zilliz Cloud target: the SDK client (DDL, queries) and, for
 * upserts, a gRPC channel of p2m's own. The admin, the writer and the reader share it. It retries
 * one thing only: a call that never left because the channel is still reconnecting (after a
 * restart, gRPC backs off for seconds, while the SDK's own retries give up within ~150 ms), for at
 * most `reconnectWaitMs`. Every other failure goes to the runtimes, which own the backoff policy
 * from `EtlError.retriable`.
 */

export interface MilvusSinkOptions {
  /** `127.0.0.1:19530`, or `https://<cluster>.zillizcloud.com` (TLS). */
  address: string;
  /** Zilliz Cloud API key or `user:password`. Never logged. */
  token?: string | undefined;
  ssl?: boolean | undefined;
  /** Deadline of one call; a hung server becomes a retriable error. */
  timeoutMs?: number | undefined;
  /** Deadline of `loadCollection` and `flush`, which wait for the server to finish. */
  longTimeoutMs?: number | undefined;
  /**
   * How long a call that could not be sent (the channel is reconnecting, e.g. right after Milvus
   * restarted) is tried again before its UNAVAILABLE error is returned. Default 5,000 ms.
   */
  reconnectWaitMs?: number | undefined;
  /**
   * How upserts are sent: `grpc` (default) builds the request column-wise from the records on a
   * gRPC channel of the sink's own; `sdk` sends rows through the Node SDK. Env `P2M_MILVUS_WRITER`.
   */
  writer?: MilvusWriterKind | undefined;
}

export type MilvusWriterKind = 'grpc' | 'sdk';

export function writerKind(option: MilvusWriterKind | undefined, env: NodeJS.ProcessEnv = process.env): MilvusWriterKind {
  const kind = option ?? (env.P2M_MILVUS_WRITER || 'grpc');
  if (kind !== 'grpc' && kind !== 'sdk') throw new EtlError('INTERNAL', `P2M_MILVUS_WRITER must be "grpc" or "sdk", got "${kind}"`, { retriable: false });
  return kind;
}

export interface MilvusConnection {
  readonly address: string;
  readonly timeout: number;
  readonly longTimeout: number;
  readonly writerKind: MilvusWriterKind;
  /** Calls the SDK and turns a failed call or a failed status into an EtlError. */
  call<T>(ctx: FailureContext, fn: (c: MilvusClient) => Promise<T>): Promise<T>;
  /** p2m's own upsert channel (made on first use). */
  grpc(): GrpcWriter;
  /** Verification's query channel (made on first use). */
  queries(): QueryChannel;
  /**
   * Identifies the unbroken connection upserts go over: the same number before a write and after a
   * later flush means one server process took both (a server that restarts, and forgets what it had
   * not flushed, breaks the connection). null when it cannot tell (not connected, or the SDK write path).
   */
  epoch(): number | null;
  collectionNames(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Channel options for any Milvus SDK client: the SDK pings every 10 s, even between calls; servers
 * with gRPC's default policy (at most one ping per 5 min without data, Milvus Lite among them)
 * answer with GOAWAY "too many pings", which fails every call that takes longer (an index build on
 * a large collection) with RESOURCE_EXHAUSTED, again and again, and makes grpc-js print "excess
 * pings". Every call has a deadline to notice a dead server.
 */
export const QUIET_KEEPALIVE = { 'grpc.keepalive_time_ms': 330_000, 'grpc.keepalive_permit_without_calls': 0 } as const;

export function openConnection(options: MilvusSinkOptions): MilvusConnection {
  const timeout = options.timeoutMs ?? 60_000;
  const longTimeout = options.longTimeoutMs ?? 600_000;
  const kind = writerKind(options.writer);
  let client: MilvusClient | null = null;
  let grpcWriter: GrpcWriter | null = null;
  let queryChannel: QueryChannel | null = null;
  let connectFailed = false;
  let closed = false;

  /**
   * The SDK connects once, in its constructor, and a failed first connect poisons that client for
   * good (every call re-throws it) — and is an unhandled rejection. So the rejection is observed
   * here and a fresh client is made on the next call: a sink created while Milvus is down recovers.
   */
  async function current(): Promise<MilvusClient> {
    const { MilvusClient } = await loadMilvusSdk();
    if (closed) throw new EtlError('INTERNAL', 'the Milvus sink is closed');
    if (client && !connectFailed) return client;
    if (client) void client.closeConnection().catch(() => undefined);
    connectFailed = false;
    const made = new MilvusClient({
      address: options.address,
      token: options.token,
      ssl: options.ssl,
      timeout,
      logLevel: 'error',
      // Reconnects back off as p2m's own channels do (at most 2 s, not grpc-js's 120 s): after an
      // outage of a few seconds the channel would otherwise sit in a backoff longer than the wait
      // `call` gives a call that could not be sent.
      channelOptions: {
        ...QUIET_KEEPALIVE,
        'grpc.initial_reconnect_backoff_ms': 250,
        'grpc.max_reconnect_backoff_ms': 2_000,
      },
    });
    made.connectPromise.catch(() => {
      if (client === made) connectFailed = true;
    });
    client = made;
    return made;
  }

  const reconnectWait = options.reconnectWaitMs ?? 5_000;

  async function call<T>(ctx: FailureContext, fn: (c: MilvusClient) => Promise<T>): Promise<T> {
    let response: T;
    const giveUpAt = Date.now() + reconnectWait;
    for (let pause = 200; ; pause = Math.min(pause * 2, 1_000)) {
      try {
        response = await fn(await current());
        break;
      } catch (err) {
        // Not sent at all, so trying again cannot apply anything twice.
        if (!notSent(err) || closed || Date.now() + pause * 1.5 > giveUpAt) throw toEtlError(err, ctx);
        // Jittered: callers that failed together (several sinks of one process) do not come back together.
        await sleep(pause * (0.5 + Math.random()));
      }
    }
    return checked(response, ctx);
  }

  return {
    address: options.address,
    timeout,
    longTimeout,
    writerKind: kind,
    call,
    grpc() {
      if (closed) throw new EtlError('INTERNAL', 'the Milvus sink is closed');
      grpcWriter ??= createGrpcWriter({ address: options.address, token: options.token, ssl: options.ssl });
      return grpcWriter;
    },
    queries() {
      if (closed) throw new EtlError('INTERNAL', 'the Milvus sink is closed');
      queryChannel ??= createQueryChannel({ address: options.address, token: options.token, ssl: options.ssl });
      return queryChannel;
    },
    epoch() {
      return kind === 'grpc' && grpcWriter && !closed ? grpcWriter.connectionEpoch() : null;
    },
    async collectionNames() {
      const res = await call({ what: 'listing collections', permanent: 'TARGET_UNAVAILABLE' }, (c) => c.listCollections({ timeout }));
      return (res.data ?? []).map((c) => c.name);
    },
    async close() {
      if (closed) return;
      closed = true;
      const c = client;
      client = null;
      grpcWriter?.close();
      grpcWriter = null;
      queryChannel?.close();
      queryChannel = null;
      await c?.closeConnection().catch(() => undefined);
    },
  };
}

/**
 * A gRPC UNAVAILABLE that grpc-js raises before sending anything: the channel has no connection
 * (connecting, or backing off after a failed connect). A call cut off after it was sent says
 * otherwise ("Connection dropped", "Received RST_STREAM") and is not matched.
 */
export function notSent(err: unknown): boolean {
  const e = err as { code?: unknown; details?: unknown; message?: unknown } | null;
  if (!e || e.code !== 14) return false;
  const text = `${typeof e.details === 'string' ? e.details : ''} ${typeof e.message === 'string' ? e.message : ''}`;
  return /No connection established|failed to connect to all addresses|ECONNREFUSED/i.test(text);
}
