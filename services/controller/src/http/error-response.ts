import type { z } from 'zod';
import { EtlError, SpecError, type FieldIssue } from '@p2m/core';
import { httpStatusFor } from './status-codes.ts';
import type { ErrorResponse } from './api-schemas.ts';

/**
 * Every error the API answers with has one shape, `{ error: { code, message, hint?, issues? } }`.
 * Codes are core's ErrorCodes plus the few that only HTTP has (UNAUTHORIZED, NOT_FOUND,
 * PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE). Anything unexpected is a 500 that says nothing of
 * its internals; the log line carries them, joined by the request id.
 */

export interface HttpError {
  status: number;
  body: ErrorResponse;
}

/**
 * zod issues as field paths a person can act on. zod reports an unknown key on its parent object;
 * the API names the key itself (`target.colection: unknown field`), which is what the user typed.
 */
export function fieldIssues(error: z.ZodError, prefix: string[] = []): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = [...prefix, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: [...base, key].join('.'), message: `unknown field "${key}"` });
      continue;
    }
    const required = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
    issues.push({
      path: base.length ? base.join('.') : '(body)',
      message: required ? `is required (${issue.expected})` : issue.message,
    });
  }
  return issues;
}

const FASTIFY_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'SPEC_INVALID', message: 'the Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'SPEC_INVALID', message: 'the request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'SPEC_INVALID', message: 'the request body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'the Content-Type header is malformed' },
};

export function toHttpError(err: unknown, requestId: string): HttpError {
  if (err instanceof SpecError) {
    return {
      status: 400,
      body: { error: { code: 'SPEC_INVALID', message: err.message, hint: err.hint, issues: err.issues } },
    };
  }
  if (err instanceof EtlError) {
    const status = httpStatusFor(err.code);
    if (status >= 500 && status !== 503) return internal(requestId);
    const issues = err.field !== undefined && status < 500 ? [{ path: err.field, message: err.message }] : undefined;
    return { status, body: { error: { code: err.code, message: err.message, hint: err.hint, issues } } };
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const known = FASTIFY_ERRORS[code];
    if (known) {
      const issues = known.code === 'SPEC_INVALID' ? [{ path: '(body)', message: known.message }] : undefined;
      return { status: known.status, body: { error: { code: known.code, message: known.message, issues } } };
    }
  }
  // Other 4xx that fastify raises itself (malformed URL, bad header) are the client's and safe to name.
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return { status: statusCode, body: { error: { code: 'BAD_REQUEST', message: 'the request is malformed' } } };
  }
  return internal(requestId);
}

function internal(requestId: string): HttpError {
  return {
    status: 500,
    body: {
      error: {
        code: 'INTERNAL',
        message: 'the controller failed to handle the request',
        hint: `see the controller log for request ${requestId}`,
        requestId,
      },
    },
  };
}

export function unauthorized(): HttpError {
  return {
    status: 401,
    body: {
      error: {
        code: 'UNAUTHORIZED',
        message: 'missing or invalid API token',
        hint: 'send "Authorization: Bearer <P2M_API_TOKEN>" (npx p2m stack up writes the token to .p2m/stack.env)',
      },
    },
  };
}

export function notFound(method: string, url: string): HttpError {
  const path = url.split('?')[0] ?? url;
  return {
    status: 404,
    body: { error: { code: 'NOT_FOUND', message: `no route ${method} ${path}`, hint: 'GET /openapi.json lists the routes' } },
  };
}
