/** Flag parsing shared by CLI commands: node:util parseArgs, with every mistake as a UsageError. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.js';
import { didYouMean } from './did-you-mean.js';

type Options = NonNullable<ParseArgsConfig['options']>;
export type ParsedFlags<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;

/** parseArgs in strict mode; unknown flags, missing values and the like become UsageErrors. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = false): ParsedFlags<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: allowPositionals as true });
  } catch (err) {
    const message = (err as Error).message.replace(/\s*To specify a positional argument.*$/s, '');
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message);
    const hint = unknown ? didYouMean(unknown[1]!, Object.keys(options), (n) => `--${n}`) : '';
    throw new UsageError(`${message}${hint}`);
  }
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
