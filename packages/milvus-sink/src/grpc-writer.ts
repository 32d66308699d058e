import * as grpc from '@grpc/grpc-js';
import milvusProto from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import { EtlError, errorMessage, ProtoEncoder, ProtoReader, WIRE_LEN, WIRE_VARINT } from '@p2m/core';

/**
 * Milvus's write path on a gRPC channel of our own: `MilvusService/Upsert` with a request already
 * serialized column-wise (`encodeUpsertRequest`), so no row objects, no JSON deep copy and no
 * per-request debug serialization happen on the way (what the Node SDK spends most of its CPU
 * on). The answer (`MutationResult`) is read field by field, with the error-code names of the
 * protos the SDK ships (no generated code to build at start). DDL and queries stay on the SDK.
 */

export interface MutationResult {
  status: { error_code: string; code: number; reason: string; retriable: boolean };
  err_index: number[];
  upsert_cnt: string;
}

export interface GrpcWriterOptions {
  /** `host:port`, `http://host:port` or `https://host[:port]` (TLS, default port 443). */
  address: string;
  token?: string | undefined;
  ssl?: boolean | undefined;
}

export interface GrpcWriter {
  /** Sends one serialized UpsertRequest; rejects with the gRPC error (numeric `code`) when the call fails. */
  upsert(request: Buffer, timeoutMs: number): Promise<MutationResult>;
  /** Sends one serialized DeleteRequest (`encodeDeleteRequest`). */
  delete(request: Buffer, timeoutMs: number): Promise<MutationResult>;
  /** Sends one serialized FlushRequest (`encodeFlushRequest`). */
  flush(request: Buffer, timeoutMs: number): Promise<FlushAnswer>;
  /** Sends one serialized GetFlushStateRequest (`encodeFlushStateRequest`). */
  flushState(request: Buffer, timeoutMs: number): Promise<FlushStateAnswer>;
  /** Counts the channel's connectivity changes; null unless it is READY now (see MilvusSinkPort.connectionEpoch). */
  connectionEpoch(): number | null;
  /**
   * Resolves once the channel is READY, connecting it if it is idle, or after `timeoutMs` in any
   * case (a write then fails or waits as it would have). A write sent before READY has no epoch
   * to be confirmed by, so it would be written a second time after the flush.
   */
  ready(timeoutMs: number): Promise<void>;
  close(): void;
}

const SERVICE = '/milvus.proto.milvus.MilvusService/';

/** common.ErrorCode names by number, from the SDK's copy of the protos (what the SDK reports). */
let errorCodeNames: Map<number, string> | undefined;
function errorCodeName(code: number): string {
  if (!errorCodeNames) {
    const root = (milvusProto as unknown as { default?: ProtoJson }).default ?? (milvusProto as unknown as ProtoJson);
    const values = root.nested?.['milvus']?.nested?.['proto']?.nested?.['common']?.nested?.['ErrorCode']?.values ?? {};
    errorCodeNames = new Map(Object.entries(values).map(([name, n]) => [n, name]));
  }
  return errorCodeNames.get(code) ?? String(code);
}
interface ProtoJson {
  nested?: Record<string, ProtoJson>;
  values?: Record<string, number>;
}

/** What the answers are, for a malformed one's error. */
const WHAT = 'Milvus answer';

/** The status an answer has when it carries none (protobuf's defaults: success). */
export function successStatus(): MutationResult['status'] {
  return { error_code: 'Success', code: 0, reason: '', retriable: false };
}

export function decodeStatus(buf: Buffer): MutationResult['status'] {
  const status = successStatus();
  const r = new ProtoReader(buf, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 0) status.error_code = errorCodeName(r.varint());
    else if (field === 2 && wire === 2) status.reason = r.bytes().toString('utf8');
    else if (field === 3 && wire === 0) status.code = r.int32();
    else if (field === 4 && wire === 0) status.retriable = r.varint() !== 0;
    else r.skip(wire);
  }
  return status;
}

export interface FlushAnswer {
  status: MutationResult['status'];
  /** Every segment id the flush sealed (`coll_segIDs`, all collections), exact. */
  segmentIds: bigint[];
  /**
   * The flush's timestamp (`coll_flush_ts`, the latest of its collections): every write acknowledged
   * before the flush has an earlier one. Null when the server does not send it.
   */
  flushTs: bigint | null;
}

export interface FlushStateAnswer {
  status: MutationResult['status'];
  flushed: boolean;
}

/** milvus.FlushRequest: collection_names (3). db_name (2) left empty: the connection's database. */
export function encodeFlushRequest(collection: string): Buffer {
  return new ProtoEncoder().string(3, collection).finish();
}

/** milvus.GetFlushStateRequest: segmentIDs (1), as the SDK's flushSync asks (every server answers that form). */
export function encodeFlushStateRequest(segmentIds: readonly bigint[]): Buffer {
  return new ProtoEncoder().packedUint64(1, segmentIds).finish();
}

/** milvus.DeleteRequest: collection_name (3), partition_name (4), expr (5); consistency left at its default. */
export function encodeDeleteRequest(collection: string, expr: string, partition?: string): Buffer {
  const e = new ProtoEncoder().string(3, collection);
  if (partition !== undefined) e.string(4, partition);
  return e.string(5, expr).finish();
}

/**
 * milvus.FlushResponse: status (1), coll_segIDs (3, map<string, schema.LongArray { repeated int64
 * data = 1 }>), coll_flush_ts (6, map<string, uint64>).
 */
export function decodeFlushResponse(bytes: Buffer): FlushAnswer {
  const out: FlushAnswer = { status: successStatus(), segmentIds: [], flushTs: null };
  const r = new ProtoReader(bytes, WHAT);
  while (r.more) {
    const tag = r.varint();
    if (tag === ((1 << 3) | WIRE_LEN)) out.status = decodeStatus(r.bytes());
    else if (tag === ((3 << 3) | WIRE_LEN)) {
      const entry = r.sub();
      while (entry.more) {
        const t = entry.varint();
        if (t !== ((2 << 3) | WIRE_LEN)) {
          entry.skip(t & 7);
          continue;
        }
        const array = entry.sub();
        while (array.more) {
          const a = array.varint();
          if (a === ((1 << 3) | WIRE_LEN)) {
            const packed = array.sub();
            while (packed.more) out.segmentIds.push(packed.varint64());
          } else if (a === ((1 << 3) | WIRE_VARINT)) out.segmentIds.push(array.varint64());
          else array.skip(a & 7);
        }
      }
    } else if (tag === ((6 << 3) | WIRE_LEN)) {
      const entry = r.sub();
      while (entry.more) {
        const t = entry.varint();
        if (t !== ((2 << 3) | WIRE_VARINT)) {
          entry.skip(t & 7);
          continue;
        }
        const ts = entry.varint64();
        if (ts > 0n && (out.flushTs === null || ts > out.flushTs)) out.flushTs = ts;
      }
    } else r.skip(tag & 7);
  }
  return out;
}

/** milvus.GetFlushStateResponse: status (1), flushed (2). */
export function decodeFlushStateResponse(bytes: Buffer): FlushStateAnswer {
  const out: FlushStateAnswer = { status: successStatus(), flushed: false };
  const r = new ProtoReader(bytes, WHAT);
  while (r.more) {
    const tag = r.varint();
    if (tag === ((1 << 3) | WIRE_LEN)) out.status = decodeStatus(r.bytes());
    else if (tag === ((2 << 3) | WIRE_VARINT)) out.flushed = r.varint() !== 0;
    else r.skip(tag & 7);
  }
  return out;
}

/** milvus.proto.milvus.MutationResult: status (1), err_index (4, packed or not), upsert_cnt (8). */
export function decodeMutationResult(bytes: Buffer): MutationResult {
  const out: MutationResult = { status: successStatus(), err_index: [], upsert_cnt: '0' };
  const r = new ProtoReader(bytes, WHAT);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) out.status = decodeStatus(r.bytes());
    else if (field === 4 && wire === 2) {
      const packed = r.bytes();
      const p = new ProtoReader(packed, WHAT);
      while (p.pos < p.end) out.err_index.push(p.varint());
    } else if (field === 4 && wire === 0) out.err_index.push(r.varint());
    else if (field === 8 && wire === 0) out.upsert_cnt = String(r.varint());
    else r.skip(wire);
  }
  return out;
}

/**
 * A gRPC client to Milvus for p2m's own channels (writes, verification's queries): no message size
 * limits; no keepalive pings (servers refuse frequent ones with GOAWAY "too_many_pings", and every
 * call has a deadline, which is what notices a dead connection); after a Milvus restart, back within
 * about a second (grpc-js defaults back off up to 120 s).
 */
export function milvusGrpcClient(target: string, tls: boolean): grpc.Client {
  return new grpc.Client(target, tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2_000,
  });
}

export function parseAddress(address: string, ssl: boolean | undefined): { target: string; tls: boolean } {
  const m = /^(?:(https?):\/\/)?([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(address.trim());
  if (!m)
    throw new EtlError('TARGET_UNSUPPORTED', `"${address}" is not a Milvus address (host:port or https://host)`, { retriable: false, field: 'target.address' });
  const tls = ssl ?? m[1] === 'https';
  const port = m[3] ?? (m[1] === 'https' ? '443' : '19530');
  return { target: `${m[2]}:${port}`, tls };
}

export function createGrpcWriter(options: GrpcWriterOptions): GrpcWriter {
  const { target, tls } = parseAddress(options.address, options.ssl);
  const client = milvusGrpcClient(target, tls);
  // Every connectivity change of the channel (READY → IDLE when the server closes the connection,
  // CONNECTING, READY again) moves the epoch. grpc-js calls watchers synchronously as the state
  // changes, so a connection lost to a server restart is counted long before a call on a new
  // connection can complete.
  const channel = client.getChannel();
  let epoch = 0;
  const watch = (state: grpc.connectivityState): void => {
    try {
      channel.watchConnectivityState(state, Infinity, () => {
        epoch++;
        watch(channel.getConnectivityState(false));
      });
    } catch {
      // The channel was shut down (close): nothing more to watch.
    }
  };
  watch(channel.getConnectivityState(false));
  const metadata = new grpc.Metadata();
  const waitingMetadata = new grpc.Metadata({ waitForReady: true });
  // As the SDK sends it: base64 of the token (or user:password).
  if (options.token) {
    const auth = Buffer.from(options.token, 'utf8').toString('base64');
    metadata.set('authorization', auth);
    waitingMetadata.set('authorization', auth);
  }

  const call = <T>(method: string, decode: (answer: Buffer) => T, request: Buffer, deadlineMs: number, waitForReady: boolean): Promise<T> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest<Buffer, Buffer>(
        SERVICE + method,
        (b) => b,
        (b) => b,
        request,
        waitForReady ? waitingMetadata : metadata,
        { deadline: Date.now() + deadlineMs },
        (err, response) => {
          if (err) reject(err);
          else {
            try {
              resolve(decode(response!));
            } catch (e) {
              reject(e instanceof Error ? e : new Error(errorMessage(e)));
            }
          }
        },
      );
    });

  async function unary<T>(method: string, decode: (answer: Buffer) => T, request: Buffer, timeoutMs: number): Promise<T> {
    try {
      return await call(method, decode, request, timeoutMs, false);
    } catch (err) {
      // A channel still backing off after a restart fails fast with UNAVAILABLE: one more try that
      // waits briefly for the connection (the SDK's own interceptor retries similarly).
      if ((err as { code?: number }).code !== grpc.status.UNAVAILABLE) throw err;
      return call(method, decode, request, Math.min(timeoutMs, 3_000), true);
    }
  }

  return {
    upsert: (request, timeoutMs) => unary('Upsert', decodeMutationResult, request, timeoutMs),
    delete: (request, timeoutMs) => unary('Delete', decodeMutationResult, request, timeoutMs),
    flush: (request, timeoutMs) => unary('Flush', decodeFlushResponse, request, timeoutMs),
    flushState: (request, timeoutMs) => unary('GetFlushState', decodeFlushStateResponse, request, timeoutMs),
    connectionEpoch() {
      return channel.getConnectivityState(false) === grpc.connectivityState.READY ? epoch : null;
    },
    ready(timeoutMs) {
      if (channel.getConnectivityState(true) === grpc.connectivityState.READY) return Promise.resolve();
      return new Promise((resolve) => client.waitForReady(Date.now() + timeoutMs, () => resolve()));
    },
    close() {
      client.close();
    },
  };
}
