// Pagination tokens: opaque to clients, base64 of a small JSON state (the last id returned).

import { badRequest } from './errors.ts';

export function encodeToken(state: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(state)).toString('base64');
}

export function decodeToken(token: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw badRequest(`Invalid pagination token: ${JSON.stringify(token)}`);
}
