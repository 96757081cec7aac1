/**
 * Where a token comes from on the command line: `--token TOKEN`, `--token-file PATH`, then the
 * environment's BUCKETQ_TOKEN or BUCKETQ_TOKEN_FILE (the same for the broker's read-only token).
 * A file is how secret stores hand secrets over (Kubernetes and Docker secrets mounted as files,
 * systemd's LoadCredential=): the token never appears in a process listing or in the environment
 * of every child. The file holds the token alone; one trailing newline is dropped, since editors
 * and `echo` add it. It is read once, when the command starts: a rotated secret takes a restart.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { nonEmpty } from './args.js';
import { UsageError } from './command.js';

/** A token file larger than this is not a token (a path to the wrong file, a certificate). */
const MAX_TOKEN_FILE_BYTES = 4096;

export interface TokenSources {
  /** The flag's name without dashes: `token` or `read-token`. */
  flag: 'token' | 'read-token';
  /** `--token` as parsed (undefined when absent), and `--token-file` (undefined or '' when absent). */
  value: string | undefined;
  file: string | undefined;
  env: NodeJS.ProcessEnv;
}

/** The token the flags or the environment give, or undefined; a UsageError for two sources at once or an unusable file. */
export function tokenFrom(o: TokenSources): string | undefined {
  const envName = o.flag === 'token' ? 'BUCKETQ_TOKEN' : 'BUCKETQ_READ_TOKEN';
  if (o.file === '') throw new UsageError(`--${o.flag}-file must not be empty`);
  const file = o.file;
  if (o.value !== undefined && file !== undefined) throw new UsageError(`give --${o.flag} or --${o.flag}-file, not both`);
  if (o.value !== undefined) return o.value; // as given: the caller says what an empty one means
  if (file !== undefined) return readTokenFile(file, `--${o.flag}-file`);
  const envValue = nonEmpty(o.env[envName]);
  const envFile = nonEmpty(o.env[`${envName}_FILE`]);
  if (envValue !== undefined && envFile !== undefined) throw new UsageError(`${envName} and ${envName}_FILE are both set: unset one`);
  if (envValue !== undefined) return envValue;
  return envFile !== undefined ? readTokenFile(envFile, `${envName}_FILE`) : undefined;
}

/** Whether any source of the token is given (the CLI's failure lines say "wrong" rather than "missing"). */
export function tokenGiven(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const flag = (name: string) => args.some((a) => a === name || a.startsWith(`${name}=`));
  return flag('--token') || flag('--token-file') || nonEmpty(env.BUCKETQ_TOKEN) !== undefined || nonEmpty(env.BUCKETQ_TOKEN_FILE) !== undefined;
}

function readTokenFile(path: string, source: string): string {
  // At most one byte past the bound, whatever the file is: a FIFO or a device has no size to check first.
  const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new UsageError(`${source}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (n > MAX_TOKEN_FILE_BYTES) throw new UsageError(`${source}: ${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes, which no token is`);
  const token = buf.toString('utf8', 0, n).replace(/\r?\n$/, '');
  if (token.trim() === '') throw new UsageError(`${source}: ${path} is empty`);
  if (/[\r\n]/.test(token)) throw new UsageError(`${source}: ${path} holds more than one line; it must hold the token alone`);
  // Said without the token: a space or a byte-order mark around it would be sent and refused as a wrong token.
  if (token !== token.trim() || token.startsWith('\ufeff')) throw new UsageError(`${source}: ${path} has spaces or a byte-order mark around the token; it must hold the token alone`);
  return token;
}
