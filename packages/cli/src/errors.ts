import { EtlError, errorMessage } from '@p2m/core';

/** One line, no stack trace: what went wrong and, where known, what to do. */
export function formatCliError(err: unknown): string {
  if (err instanceof EtlError) return `p2m: ${err.message}${err.hint ? ` — ${err.hint}` : ''}`;
  if (err instanceof Error) return `p2m: ${err.message}`;
  return `p2m: ${errorMessage(err)}`;
}
