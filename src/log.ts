import { type Logger, pino } from 'pino';

/**
 * Structured JSON logs. Secrets are kept out twice over: `Secret` values print as `[secret]`, and
 * these paths are censored wherever they appear in a log object.
 */
export const REDACT_PATHS = [
  'password',
  'token',
  'jwt',
  'refresh_token',
  'apiKey',
  'sk',
  'authorization',
  'headers.authorization',
  'headers["x-auth-token"]',
  'headers["x-subject-token"]',
  '*.password',
  '*.token',
  '*.jwt',
  '*.refresh_token',
  '*.apiKey',
  '*.authorization',
  '*.signature',
];

export interface LogOptions {
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to scan every line for secrets. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'opsbot' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

export type { Logger };
