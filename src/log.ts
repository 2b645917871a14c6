import { type Logger, pino } from 'pino';
import { scrubSecrets } from './config/secret.js';

/**
 * Structured JSON logs. Secrets are kept out three times over: `Secret` values print as
 * `[secret]`, these paths are censored wherever they appear in a log object, and every known
 * secret value (configured or minted) is masked in the finished line.
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
      hooks: {
        // On the finished JSON line rather than on the arguments: the message, its interpolated
        // values, an error's message, stack and causes, and any nested field are all covered
        // here, for Bolt's lines too (bolt-logger.ts logs through this logger).
        streamWrite: scrubSecrets,
      },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
}

export type { Logger };
