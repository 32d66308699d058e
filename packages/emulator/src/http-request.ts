// Reading requests: bodies (with a size cap), JSON, the API key.

import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest } from './errors.ts';

/** Hard cap on any request body; upserts are held to Pinecone's 2 MB separately. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, `Request body of ${declared} bytes is too large`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `Request body of more than ${MAX_BODY_BYTES} bytes is too large`);
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Parses a JSON body; an empty body counts as `{}` (several SDK calls send none). */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`The request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function apiKeyOf(req: IncomingMessage): string | undefined {
  const value = req.headers['api-key'];
  return Array.isArray(value) ? value[0] : value;
}
