// Errors the handlers throw, and how each plane spells them on the wire.
//
// Control plane: `{"error":{"code","message"},"status"}` (ErrorResponse).
// Data plane (vector and namespace operations): gRPC-style `rpcStatus` `{code,message,details}`.
// Requests refused by the authentication / rate-limiting layer come as plain text in the 2026-07
// specs ("Unauthorized", "Invalid API key"); older specs declare JSON for those too.

import type { ServerResponse } from 'node:http';
import type { ApiVersion } from './api-version.ts';

export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);

const GRPC_CODE: Record<number, number> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 5, // NOT_FOUND
  409: 6, // ALREADY_EXISTS
  412: 9, // FAILED_PRECONDITION
  413: 3,
  429: 8, // RESOURCE_EXHAUSTED
  500: 13, // INTERNAL
  501: 12, // UNIMPLEMENTED
  503: 14, // UNAVAILABLE
};

function controlCode(status: number, version: ApiVersion): string {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 402:
      return 'PAYMENT_REQUIRED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ALREADY_EXISTS';
    case 412:
      return 'FAILED_PRECONDITION';
    case 422:
      return 'UNPROCESSABLE_ENTITY';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 503:
      return version >= '2026-07' ? 'SERVICE_UNAVAILABLE' : 'UNAVAILABLE';
    default:
      return status >= 500 ? 'UNKNOWN' : 'INVALID_ARGUMENT';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendControlError(res: ServerResponse, version: ApiVersion, err: ApiError, headers: Record<string, string> = {}): void {
  if (err.status === 401 && version >= '2026-07') return sendText(res, 401, 'Invalid API key', headers);
  sendJson(res, err.status, { error: { code: controlCode(err.status, version), message: err.message }, status: err.status }, headers);
}

export function sendDataError(res: ServerResponse, version: ApiVersion, err: ApiError, headers: Record<string, string> = {}): void {
  if (version >= '2026-07' && (err.status === 401 || err.status === 429)) {
    return sendText(res, err.status, err.status === 401 ? 'Unauthorized' : err.message, headers);
  }
  sendJson(res, err.status, { code: GRPC_CODE[err.status] ?? 2, message: err.message, details: [] }, headers);
}
