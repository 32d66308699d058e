import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * pino JSON logs. Secrets are redacted by path wherever they could appear, as a second line of
 * defence: the code never logs a spec or a request body in the first place.
 */
export const REDACT_PATHS = [
  'apiKey',
  'token',
  '*.apiKey',
  '*.token',
  '*.*.apiKey',
  '*.*.token',
  'req.headers.authorization',
  'req.headers["api-key"]',
  'headers.authorization',
  'secrets',
  '*.secrets',
];

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino({
    name,
    level: process.env.P2M_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
  });
}

export type { Logger };
