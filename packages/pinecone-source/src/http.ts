import { errorMessage } from '@p2m/core';

/**
 * The fetch the SDK runs on. It exists so failures keep their facts: the SDK's error classes drop the
 * HTTP status (a 429 becomes a generic "unmapped" error with the status only in its message), so a
 * non-2xx answer is thrown here as a `PineconeHttpFailure` and reaches us as the SDK error's `cause`.
 * It also bounds every request with a timeout, which the SDK does not do.
 */

const BODY_LIMIT = 500;

/** A non-2xx answer. Not named `status`: the SDK's own retry wrapper would swallow it on sight. */
export class PineconeHttpFailure extends Error {
  readonly httpStatus: number;
  readonly url: string;
  readonly body: string;
  readonly retryAfterMs: number | undefined;

  constructor(httpStatus: number, url: string, body: string, retryAfterMs: number | undefined) {
    super(`HTTP ${httpStatus} from ${url}`);
    this.name = 'PineconeHttpFailure';
    this.httpStatus = httpStatus;
    this.url = url;
    this.body = body;
    this.retryAfterMs = retryAfterMs;
  }
}

export class PineconeRequestTimeout extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number, url: string) {
    super(`no answer from ${url} within ${timeoutMs} ms`);
    this.name = 'PineconeRequestTimeout';
    this.timeoutMs = timeoutMs;
  }
}

/** The request never got an answer: connection refused or reset, DNS, TLS. */
export class PineconeNetworkFailure extends Error {
  constructor(url: string, cause: unknown) {
    super(`could not reach ${url}: ${describeNetworkCause(cause)}`, { cause });
    this.name = 'PineconeNetworkFailure';
  }
}

function describeNetworkCause(cause: unknown): string {
  const parts: string[] = [];
  let current: unknown = cause;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const e = current as { message?: unknown; code?: unknown; cause?: unknown };
    if (typeof e.code === 'string') parts.push(e.code);
    else if (typeof e.message === 'string' && e.message) parts.push(e.message);
    current = e.cause;
  }
  return parts.length ? [...new Set(parts)].join(': ') : errorMessage(cause);
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

type FetchInput = Parameters<typeof fetch>[0];

function urlOf(input: FetchInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

/** Strip the query: ids and namespaces are the user's data and do not belong in error messages. */
function redact(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function statusPreservingFetch(base: typeof fetch, timeoutMs: number): typeof fetch {
  return async (input: FetchInput, init?: RequestInit): Promise<Response> => {
    const url = redact(urlOf(input));
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await base(input, { ...init, signal });
    } catch (err) {
      if (timeout.aborted) throw new PineconeRequestTimeout(timeoutMs, url);
      throw new PineconeNetworkFailure(url, err);
    }
    if (response.status >= 200 && response.status < 300) return response;
    const body = await response.text().then(
      (text) => text.slice(0, BODY_LIMIT),
      () => '',
    );
    throw new PineconeHttpFailure(response.status, url, body, parseRetryAfter(response.headers.get('retry-after')));
  };
}
