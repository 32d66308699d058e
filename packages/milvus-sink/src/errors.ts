import { EtlError, errorMessage, type ErrorCode } from '@p2m/core';

/**
 * Turning what Milvus and its SDK report into `EtlError`s, so the loader runtime can decide from
 * `retriable` alone: transient (retry with backoff) or permanent (the DLQ for data, a failed job for
 * the rest). Three shapes arrive: a response whose `status` says it failed, a gRPC error thrown by
 * the SDK (numeric `code`, `details`), and an `Error` the SDK raised itself before sending.
 */

export interface MilvusStatus {
  error_code?: string | number;
  code?: number;
  reason?: string;
  retriable?: boolean;
}

/**
 * Whether a status reports a failure. Both fields are read: Milvus Lite answers some failures with
 * `error_code: 'Success'` and a non-zero `code`, and older servers set only `error_code`.
 */
export function statusFailed(status: MilvusStatus | undefined | null): boolean {
  if (!status) return false;
  const ec = status.error_code;
  const legacyFailed = ec !== undefined && ec !== null && ec !== 'Success' && ec !== 0 && ec !== '';
  const codeFailed = status.code !== undefined && status.code !== null && Number(status.code) !== 0;
  return legacyFailed || codeFailed;
}

/** gRPC status codes that mean "the call did not get through or the server was busy". */
const TRANSIENT_GRPC = new Set([
  1, // CANCELLED (the channel went away under the call)
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL (grpc-js reports a reset stream from a crashed server as INTERNAL)
  14, // UNAVAILABLE
]);
const AUTH_GRPC = new Set([7, 16]); // PERMISSION_DENIED, UNAUTHENTICATED

/** Legacy `error_code` names Milvus uses for conditions that pass with time. */
const TRANSIENT_ERROR_CODES = new Set([
  'RateLimit',
  'ConnectFailed',
  'NotReadyServe',
  'NotReadyCoordActivating',
  'NotShardLeader',
  'NoReplicaAvailable',
  'ForceDeny',
  'MemoryQuotaExhausted',
  'DiskQuotaExhausted',
  'TimeTickLongDelay',
]);
/** Milvus (merr) codes: service not ready, unavailable, too many requests, rate limit, resource insufficient. */
const TRANSIENT_MILVUS_CODES = new Set([1, 2, 4, 8, 12]);
const TRANSIENT_TEXT =
  /rate ?limit|too many (concurrent )?requests|not ready|unavailable|timed? ?out|deadline exceeded|ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|connection (refused|reset|closed)|no connection established|RST_STREAM|server (is )?(shutting down|restarting)|temporarily|try again/i;
const COLLECTION_MISSING_TEXT = /collection.*(not (exist|found)|doesn'?t exist)|can'?t find collection|CollectionNotExists/i;
const NOT_LOADED_TEXT = /not loaded|collection not loaded|load.*first/i;
/** Milvus Lite 3.x (3.2.2) when two flushes ran at once: its writes are not safe on several threads. */
const LITE_CONCURRENT_TEXT = /current_seq is monotonic/i;
const AUTH_TEXT = /unauthenticated|permission denied|auth(entication|orization)? fail|invalid token|token.*invalid/i;

function asStatus(value: unknown): MilvusStatus | null {
  if (value === null || typeof value !== 'object') return null;
  const o = value as Record<string, unknown>;
  const inner = o['status'];
  if (inner && typeof inner === 'object' && ('error_code' in inner || 'code' in inner)) return inner as MilvusStatus;
  if ('error_code' in o || 'reason' in o) return o as MilvusStatus;
  return null;
}

export interface FailureContext {
  /** What was being done, for the message: `upsert into "docs"`. */
  what: string;
  /** The code for a permanent failure: RECORD_REJECTED for data writes, something job-level elsewhere. */
  permanent: ErrorCode;
  collection?: string;
}

/** A job-level operation on a collection: a permanent failure says the target cannot do what the job needs. */
export function onCollection(collection: string, what: string): FailureContext {
  return { what, permanent: 'TARGET_UNSUPPORTED', collection };
}

/** Classify a failed status or thrown value into an EtlError (an EtlError passes through unchanged). */
export function toEtlError(failure: unknown, ctx: FailureContext): EtlError {
  if (failure instanceof EtlError) return failure;
  const status = failure instanceof Error ? null : asStatus(failure);
  const grpcCode = failure instanceof Error ? (failure as Error & { code?: unknown }).code : undefined;
  const text = status ? `${status.reason ?? ''}` : errorMessage(failure);
  const codes = status ? ` (error_code ${String(status.error_code)}, code ${String(status.code)})` : typeof grpcCode === 'number' ? ` (gRPC ${grpcCode})` : '';
  const message = `${ctx.what} failed: ${text || 'no reason given'}${codes}`;
  const details: Record<string, unknown> = {};
  if (status) Object.assign(details, { errorCode: status.error_code, milvusCode: status.code });
  if (typeof grpcCode === 'number') details['grpcCode'] = grpcCode;

  if (LITE_CONCURRENT_TEXT.test(text)) {
    // Not a passing condition: the server handles requests at once with no lock around its
    // writes, and may already have dropped acknowledged rows. Retrying would hide that.
    return new EtlError('TARGET_UNSUPPORTED', message, {
      retriable: false,
      cause: failure,
      details,
      hint: 'this Milvus Lite server takes writes on several threads at once and loses them under concurrent writers: restart it with `--max-workers 1` (as `p2m stack up` does), then resume the job',
    });
  }
  const transient =
    (typeof grpcCode === 'number' && TRANSIENT_GRPC.has(grpcCode)) ||
    (status !== null &&
      (status.retriable === true ||
        (typeof status.error_code === 'string' && TRANSIENT_ERROR_CODES.has(status.error_code)) ||
        // Codes are read with the legacy name beside them: Milvus Lite reuses small numbers for its own errors.
        (TRANSIENT_MILVUS_CODES.has(Number(status.code)) && status.error_code !== 'UnexpectedError' && typeof status.error_code !== 'number'))) ||
    TRANSIENT_TEXT.test(text);
  if (transient) {
    const rateLimited = /rate ?limit|too many/i.test(text) || status?.error_code === 'RateLimit' || Number(status?.code) === 8 || grpcCode === 8;
    return new EtlError(rateLimited ? 'RATE_LIMITED' : 'TARGET_UNAVAILABLE', message, {
      retriable: true,
      cause: failure,
      details,
      hint: 'Milvus is unreachable or busy; the write is retried with backoff',
    });
  }
  if ((typeof grpcCode === 'number' && AUTH_GRPC.has(grpcCode)) || AUTH_TEXT.test(text)) {
    return new EtlError('TARGET_UNAVAILABLE', message, {
      retriable: false,
      cause: failure,
      details,
      hint: 'check the Milvus / Zilliz Cloud token (target.token) and its privileges',
    });
  }
  if (Number(status?.code) === 100 || status?.error_code === 'CollectionNotExists' || COLLECTION_MISSING_TEXT.test(text)) {
    return new EtlError('TARGET_UNAVAILABLE', message, {
      retriable: false,
      cause: failure,
      details,
      hint: `the collection${ctx.collection ? ` "${ctx.collection}"` : ''} does not exist (was it dropped?); create it again by resuming the job or replay into a new collection`,
    });
  }
  if (Number(status?.code) === 101 || NOT_LOADED_TEXT.test(text)) {
    return new EtlError(ctx.permanent === 'RECORD_REJECTED' ? 'INTERNAL' : ctx.permanent, message, {
      retriable: false,
      cause: failure,
      details,
      hint: 'the collection must be indexed and loaded before it can be queried',
    });
  }
  // An SDK bug on an unexpected answer (e.g. `Cannot read properties of undefined`) is not the data's fault.
  if (failure instanceof TypeError) return new EtlError('INTERNAL', message, { retriable: false, cause: failure, details });
  return new EtlError(ctx.permanent, message, { retriable: false, cause: failure, details });
}

/** Throw the classified error when a response's status reports a failure; return the response otherwise. */
export function checked<T>(response: T, ctx: FailureContext): T {
  const status = asStatus(response);
  if (statusFailed(status)) throw toEtlError(status, ctx);
  return response;
}

/**
 * One call on a channel of p2m's own (writes, flushes, queries): a failure to make or send it is
 * classified as `conn.call` classifies the SDK's, and the answer's status is checked.
 */
export async function checkedCall<T>(ctx: FailureContext, send: () => Promise<T>): Promise<T> {
  let answer: T;
  try {
    answer = await send();
  } catch (err) {
    throw toEtlError(err, ctx);
  }
  return checked(answer, ctx);
}
