/** Flag parsing shared by CLI commands: node:util parseArgs, with every mistake as a UsageError. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatDuration, parseDuration } from '../duration.js';
import { UsageError } from './command.js';
import { didYouMean } from './did-you-mean.js';

type Options = NonNullable<ParseArgsConfig['options']>;
export type ParsedFlags<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;

/** parseArgs in strict mode; unknown flags, missing values and the like become UsageErrors. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = false): ParsedFlags<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: allowPositionals as true });
  } catch (err) {
    // node's advice on positionals is dropped; its other messages may span lines, and a usage error is one.
    const message = (err as Error).message.replace(/\.?\s*To specify a positional argument.*$/s, '').replace(/\s*\n\s*/g, ' ');
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message);
    const hint = unknown ? didYouMean(unknown[1]!, Object.keys(options), (n) => `--${n}`) : '';
    throw new UsageError(`${message}${hint}`);
  }
}

/** A flag or variable's value, or undefined when it is absent or empty (`--url ''`, `BUCKETQ_TOKEN=`). */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** A whole number of at least `min` (milliseconds, counts). */
export function intFlag(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A byte size: `1048576`, `512K`, `16MiB`, `1g` (units are powers of 1024). */
export function sizeFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} must be a size such as 1048576, 512K or 16MiB, got ${JSON.stringify(value)}`);
  return n;
}

/** What one-line notices on stderr start with (main.ts sets it to `bucketq COMMAND`). */
let noticePrefix = 'bucketq';
export function setNoticePrefix(prefix: string): void {
  noticePrefix = prefix;
}

/** A one-line notice on stderr (a deprecated form that still works). */
export function notice(message: string): void {
  process.stderr.write(`${noticePrefix}: note: ${message}\n`);
}

export interface DurationBounds {
  /** Least value in ms (default 0). */
  min?: number;
  /** Greatest value in ms (default ten years). */
  max?: number;
  /**
   * The flag took seconds before durations had units: a bare number still means seconds there,
   * with a notice, rather than silently becoming milliseconds.
   */
  bareSeconds?: boolean;
}

/** A duration flag (docs/cli.md, "Durations"), in milliseconds. */
export function durationFlag(value: string | undefined, flag: string, bounds: DurationBounds = {}): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDuration(value);
  if (parsed === null) {
    const bare = bounds.bareSeconds ? 'a bare number is seconds here, for now' : 'a bare number is milliseconds';
    throw new UsageError(`--${flag} must be a duration such as 500ms, 30s, 2m or 1h (${bare}), got ${JSON.stringify(value)}`);
  }
  let ms = parsed.ms;
  if (parsed.bare && bounds.bareSeconds) {
    ms = Math.round(Number(value.trim()) * 1000);
    notice(`--${flag} ${value.trim()} is read as seconds, as before; write --${flag} ${value.trim()}s (a bare number will mean milliseconds, as on every other duration flag)`);
  }
  return inRange(ms, flag, value, bounds);
}

function inRange(ms: number, flag: string, value: string, bounds: DurationBounds): number {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? 10 * 365 * 86_400_000;
  if (ms < min || ms > max) throw new UsageError(`--${flag} must be from ${formatDuration(min)} to ${formatDuration(max)}, got ${JSON.stringify(value)}`);
  return ms;
}

/**
 * A duration flag with a deprecated, seconds-only alias (`--lease-seconds 30` for `--lease-for
 * 30s`): the alias still works, with a notice; both at once is a usage error.
 */
export function durationWithAlias(values: Record<string, unknown>, flag: string, alias: string, bounds: DurationBounds = {}): number | undefined {
  const now = values[flag] as string | undefined;
  const old = values[alias] as string | undefined;
  if (old === undefined) return durationFlag(now, flag, bounds);
  if (now !== undefined) throw new UsageError(`--${alias} is the old name of --${flag}: give only --${flag}`);
  const ms = /^\d+(\.\d+)?$/.test(old.trim()) ? Math.round(Number(old) * 1000) : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`--${alias} must be a number of seconds, got ${JSON.stringify(old)} (or use --${flag} with a unit, e.g. 30s)`);
  notice(`--${alias} is deprecated: use --${flag} ${old.trim()}s`);
  return inRange(ms, alias, old, bounds);
}
