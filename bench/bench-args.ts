/**
 * The command line of a benchmark run with `npm run bench…`: `--help` (or `-h`) prints its usage
 * and exits 0; an unknown option (with a "did you mean"), a missing value or a bad number is one
 * line on stderr (`bench:scale: --jobs must be …`) and exit code 2, before anything is started.
 * The parsing and its messages are the CLI's (src/cli/args.ts): this turns its UsageError into
 * that line.
 */
import type { ParseArgsConfig } from 'node:util';
import { intFlag, parseFlags, type ParsedFlags } from '../src/cli/args.js';
import { UsageError } from '../src/cli/command.js';

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP_OPTION = { help: { type: 'boolean', short: 'h', default: false } } as const;

export interface BenchCommandLine<O extends Options> {
  values: ParsedFlags<O & typeof HELP_OPTION>['values'];
  /** The arguments that are not options (only with `positionals: true`; otherwise one is refused). */
  positionals: string[];
  /** Refuses the command line: `name: message` on stderr, exit code 2. */
  usage(message: string): never;
  /** `text` as a whole number of at least `min` (the value of `--flag`), or usage(). */
  integer(text: string, flag: string, min?: number): number;
  /** `text` as a number above 0 (or 0 itself, with `zero`), decimals allowed (seconds, milliseconds), or usage(). */
  positive(text: string, flag: string, zero?: boolean): number;
}

/** Parses the command line of benchmark `name` (as in `npm run NAME`); `help` is what --help prints. */
export function benchArgs<const O extends Options>(name: string, help: string, options: O, { argv = process.argv.slice(2), positionals = false } = {}): BenchCommandLine<O> {
  const usage = (message: string): never => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(2);
  };
  /** A UsageError's message as the line, anything else thrown as it was. */
  const refused = <T>(run: () => T, hint = ''): T => {
    try {
      return run();
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return usage(`${err.message}${hint}`);
    }
  };
  const parsed = refused(() => parseFlags(argv, { ...options, ...HELP_OPTION }, positionals), ' (see --help)');
  const values = parsed.values;
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help.endsWith('\n') ? help : `${help}\n`);
    process.exit(0);
  }
  const positive = (text: string, flag: string, zero = false): number => {
    const n = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : NaN;
    return n > 0 || (zero && n === 0) ? n : usage(`--${flag} must be a number ${zero ? 'of at least 0' : 'above 0'}, got ${JSON.stringify(text)}`);
  };
  return { values, positionals: parsed.positionals, usage, integer: (text, flag, min = 1) => refused(() => intFlag(text, flag, min)!), positive };
}
