/**
 * Structured logs of a broker. A BrokerServer takes any object with pino's calling convention
 * (`logger.info({fields}, 'message')`: pino itself, or a wrapper around another library) and is
 * silent by default, as an embedded library should be. `bucketq broker` makes a pino logger that
 * writes JSON lines to stdout (see createJsonLogger).
 *
 * No secret is ever logged: tokens are never passed to the logger, store URLs go through
 * redactStoreUrl (storage/redact-url.ts), and the pino logger redacts fields named
 * like secrets as a second guard.
 */
import { pino } from 'pino';
import { QueueError } from '../errors.js';

export interface Logger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const nothing = (): void => {};
export const silentLogger: Logger = { error: nothing, warn: nothing, info: nothing, debug: nothing };

export function parseLogLevel(value: string, where: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new QueueError('INVALID_ARGUMENT', `${where} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
}

/** Field paths the pino logger censors whatever the caller logs (a guard; bucketq never logs them). */
const REDACT_PATHS = ['token', 'readToken', 'authorization', 'password', 'secret', '*.token', '*.readToken', '*.authorization', '*.password', '*.secret', 'headers.authorization', 'req.headers.authorization'];

/**
 * A pino logger writing one JSON object per line through `write` (the CLI passes
 * process.stdout's, so log lines and the human lines keep their order on one stream).
 */
export function createJsonLogger(level: LogLevel, write: (line: string) => void): pino.Logger {
  return pino(
    {
      level,
      base: { name: 'bucketq' },
      // Level names and ISO times read better in a terminal and every collector parses them.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    { write },
  );
}

/** An error as log fields: code and message, never a cause chain that might carry request data. */
export function errorFields(err: unknown): { code: string; message: string } {
  if (err instanceof QueueError) return { code: err.code, message: err.message };
  return { code: 'UNKNOWN', message: err instanceof Error ? err.message : String(err) };
}
