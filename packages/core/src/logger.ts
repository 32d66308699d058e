import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

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

/** JSON lines to stdout, or to `destination` (the CLI writes its logs to a file). */
export function createLogger(name: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    name,
    level: process.env.P2M_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}

export type { Logger };
