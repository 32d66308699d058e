/**
 * Secrets (the Pinecone API key, the Milvus token, the controller's own token) never leave the
 * controller in a response or a log line. Two layers: keys that name a secret are dropped from
 * everything sent, and the secret values a request carried are cut out of any string that would
 * echo them (an upstream error message quoting a key, say).
 */

export const SECRET_KEYS: ReadonlySet<string> = new Set(['apiKey', 'token', 'password', 'secret', 'authorization']);

/** pino `redact` paths for the same keys, at the depths a request or an error can nest them. */
export const LOG_REDACT_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'body',
  'req.body',
  ...[...SECRET_KEYS].flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]),
];

/** Values shorter than this are not searched for: cutting "a" out of every string helps no one. */
const MIN_SCRUBBED_LENGTH = 8;
export const REDACTED = '[redacted]';

/** The secret values inside a request body (wherever a secret key appears). */
export function secretValues(value: unknown, found: string[] = [], depth = 0): string[] {
  if (depth > 8 || value === null || typeof value !== 'object') return found;
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(key) && typeof v === 'string' && v.length >= MIN_SCRUBBED_LENGTH) found.push(v);
    else secretValues(v, found, depth + 1);
  }
  return found;
}

export function scrubString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= MIN_SCRUBBED_LENGTH && out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** A copy of `value` without secret keys and with secret values cut out of its strings. */
export function redactSecrets<T>(value: T, secrets: readonly string[] = []): T {
  return walk(value, secrets, 0) as T;
}

function walk(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return secrets.length ? scrubString(value, secrets) : value;
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => walk(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(key)) continue;
    out[key] = walk(v, secrets, depth + 1);
  }
  return out;
}
