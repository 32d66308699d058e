import { EtlError, errorMessage } from '@p2m/core';
import { PineconeHttpFailure, PineconeNetworkFailure, PineconeRequestTimeout } from './http.ts';

/**
 * Every failure of the Pinecone SDK becomes one `EtlError` whose `retriable` flag the runtimes act on:
 * 429 → RATE_LIMITED and 5xx / timeouts / dropped connections → TRANSIENT (retried with backoff),
 * 401/403 → SOURCE_UNAUTHORIZED, 404 → SOURCE_INDEX_NOT_FOUND, other 4xx → permanent.
 */

export type SourceOperation = 'describe_index' | 'describe_index_stats' | 'list_namespaces' | 'list' | 'fetch';

export interface FailureContext {
  index: string;
  operation: SourceOperation;
  namespace?: string | undefined;
}

const UNAUTHORIZED_HINT = 'check source.apiKey: it must be a valid API key of the Pinecone project that owns the index';

/** Walk `cause` links (the SDK wraps our fetch's errors once or twice). */
function findCause<T>(err: unknown, match: (e: unknown) => e is T): T | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    if (match(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const isHttpFailure = (e: unknown): e is PineconeHttpFailure => e instanceof PineconeHttpFailure;
const isTimeout = (e: unknown): e is Error => e instanceof PineconeRequestTimeout || (e instanceof Error && e.name === 'TimeoutError');
const isNetworkFailure = (e: unknown): e is PineconeNetworkFailure => e instanceof PineconeNetworkFailure;

/** Pinecone's own words from an error body: control plane `{error:{message}}`, data plane `{message}`, or plain text. */
export function bodyMessage(body: string): string {
  const text = body.trim();
  if (!text) return '';
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown }; message?: unknown };
    const message = parsed.error?.message ?? parsed.message;
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON: a plain-text body (401 and 429 often are)
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function where(ctx: FailureContext): string {
  const ns = ctx.namespace === undefined ? '' : ` namespace "${ctx.namespace === '' ? '__default__' : ctx.namespace}"`;
  return `${ctx.operation} on index "${ctx.index}"${ns}`;
}

export function httpStatusError(status: number, body: string, ctx: FailureContext, retryAfterMs?: number, cause?: unknown): EtlError {
  const said = bodyMessage(body);
  const suffix = said ? `: ${said}` : '';
  const details = { status, operation: ctx.operation, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  if (status === 401) {
    return new EtlError('SOURCE_UNAUTHORIZED', `the Pinecone API key was refused (HTTP 401 on ${where(ctx)})`, {
      retriable: false,
      hint: UNAUTHORIZED_HINT,
      field: 'source.apiKey',
      cause,
      details,
    });
  }
  if (status === 403) {
    return new EtlError('SOURCE_UNAUTHORIZED', `the Pinecone API key is not allowed to run ${where(ctx)} (HTTP 403)${suffix}`, {
      retriable: false,
      hint: UNAUTHORIZED_HINT,
      field: 'source.apiKey',
      cause,
      details,
    });
  }
  if (status === 404) {
    return new EtlError('SOURCE_INDEX_NOT_FOUND', `Pinecone index "${ctx.index}" was not found (HTTP 404 on ${ctx.operation})${suffix}`, {
      retriable: false,
      hint: 'check source.index (and source.controllerHostUrl when using a local emulator); index names are lowercase',
      field: 'source.index',
      cause,
      details,
    });
  }
  if (status === 429) {
    return new EtlError('RATE_LIMITED', `Pinecone rate-limited ${where(ctx)} (HTTP 429)${suffix}`, { retriable: true, cause, details });
  }
  if (status === 408 || status >= 500) {
    return new EtlError('TRANSIENT', `Pinecone answered HTTP ${status} to ${where(ctx)}${suffix}`, { retriable: true, cause, details });
  }
  return new EtlError('SOURCE_UNSUPPORTED', `Pinecone refused ${where(ctx)} (HTTP ${status})${suffix}`, { retriable: false, cause, details });
}

/** SDK error classes matched by name, so a second copy of the SDK in node_modules cannot defeat `instanceof`. */
function fromSdkError(err: Error, ctx: FailureContext): EtlError | undefined {
  switch (err.name) {
    case 'PineconeAuthorizationError':
      return httpStatusError(401, '', ctx, undefined, err);
    case 'PineconeNotFoundError':
      return httpStatusError(404, '', ctx, undefined, err);
    case 'PineconeInternalServerError':
    case 'PineconeUnavailableError':
    case 'PineconeMaxRetriesExceededError':
    case 'PineconeConnectionError':
      return new EtlError('TRANSIENT', `Pinecone failed ${where(ctx)}: ${err.message}`, { retriable: true, cause: err });
    case 'PineconeUnmappedHttpError': {
      const status = /Status: (\d{3})/.exec(err.message)?.[1];
      return status ? httpStatusError(Number(status), err.message, ctx, undefined, err) : undefined;
    }
    case 'PineconeBadRequestError':
    case 'PineconeArgumentError':
      return new EtlError('SOURCE_UNSUPPORTED', `Pinecone refused ${where(ctx)}: ${err.message}`, { retriable: false, cause: err });
    default:
      return undefined;
  }
}

export function toEtlError(err: unknown, ctx: FailureContext): EtlError {
  if (err instanceof EtlError) return err;
  const http = findCause(err, isHttpFailure);
  if (http) return httpStatusError(http.httpStatus, http.body, ctx, http.retryAfterMs, err);
  const timeout = findCause(err, isTimeout);
  if (timeout) return new EtlError('TRANSIENT', `Pinecone timed out on ${where(ctx)}: ${timeout.message}`, { retriable: true, cause: err });
  const network = findCause(err, isNetworkFailure);
  if (network) return new EtlError('TRANSIENT', `Pinecone unreachable for ${where(ctx)}: ${network.message}`, { retriable: true, cause: err });
  if (err instanceof Error) {
    const mapped = fromSdkError(err, ctx);
    if (mapped) return mapped;
  }
  const message = errorMessage(err);
  return new EtlError('INTERNAL', `unexpected failure of ${where(ctx)}: ${message}`, { retriable: false, cause: err });
}
