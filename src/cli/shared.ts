/**
 * What the client commands share: the global flags (where the brokers are, the token, the output
 * format), the client built from them, and output: human text on a terminal, one JSON document per
 * result when stdout is not a terminal or with `--json` (`--human` forces text into a pipe).
 * Failures are thrown; main.ts prints them as one line on stderr.
 */
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { createClient, type ClientOptions } from '../client/client.js';
import { QueueError } from '../errors.js';
import type { ConnectionOptions } from '../client/connection.js';
import { checkMaxAttempts, checkTopic } from '../protocol.js';
import type { Queue } from '../api.js';
import { durationFlag, durationWithAlias, nonEmpty, parseFlags, type ParsedFlags } from './args.js';
import { UsageError } from './command.js';
import { tokenFrom } from './token-source.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
const DEFAULT_TIMEOUT_S = 10;
/** A broker that has not accepted a connection (and finished TLS) within this long is not there. */
export const CONNECT_TIMEOUT_MS = 2000;

export const GLOBAL_FLAGS = {
  url: { type: 'string' },
  store: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  human: { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/** The GLOBAL OPTIONS section of every client command's manual. */
export const GLOBAL_USAGE = `GLOBAL OPTIONS
    --url URL
        A broker (default $BUCKETQ_URL, else ${DEFAULT_URL} when no store is given either).
        Requests for a topic another broker leads are sent on to that one.

    --store URL
        The store the brokers use (default $BUCKETQ_STORE), e.g. file:/var/lib/bucketq. The
        leader of each topic is read from the topic's queue.json, and found again there when it
        changes. With --url too, the URL is used while the store names no broker.

    --token TOKEN
        The brokers' bearer token (default $BUCKETQ_TOKEN; prefer it, or --token-file, as
        arguments are visible to other users).

    --token-file PATH
        Read the token from a file holding it alone (default $BUCKETQ_TOKEN_FILE).

    --ca FILE
        PEM CA certificate(s) to trust for https:// brokers, e.g. a self-signed broker's own
        certificate (default: the system's CAs; NODE_EXTRA_CA_CERTS adds to them).

    --timeout D
        Keep retrying a call that fails for a transient reason (a leader change, a broker
        restarting) for up to D, a duration (default ${DEFAULT_TIMEOUT_S}s). When no broker can be reached at all
        before one has answered (connection refused, unknown host, no connection within
        ${CONNECT_TIMEOUT_MS / 1000} s), the command fails at once: "no broker at URL (connection refused)".

    --json
        Print results as JSON (the default when stdout is not a terminal).

    --human
        Print results as text even when stdout is not a terminal.

    -h, --help
        This manual.`;

export const ENVIRONMENT_USAGE = `ENVIRONMENT
    BUCKETQ_URL, BUCKETQ_STORE, BUCKETQ_TOKEN    defaults of --url, --store and --token.
    BUCKETQ_TOKEN_FILE                           default of --token-file (not with BUCKETQ_TOKEN).`;

export const EXIT_USAGE = `EXIT STATUS
    0 on success; 2 on bad arguments or input (INVALID_ARGUMENT); 1 on any other failure, which
    is printed as one line on stderr: "bucketq COMMAND: MESSAGE (CODE)".`;

type Options = NonNullable<ParseArgsConfig['options']>;
type WithGlobals<O extends Options> = O & typeof GLOBAL_FLAGS;

export interface Context {
  /** JSON output (a pipe, or --json) rather than text. */
  json: boolean;
  connection: ConnectionOptions;
}

/** Parses a command's flags together with the global ones. */
export function parse<O extends Options>(argv: string[], options: O, env: NodeJS.ProcessEnv): { flags: ParsedFlags<WithGlobals<O>>; ctx: Context } {
  const flags = parseFlags(argv, { ...options, ...GLOBAL_FLAGS } as WithGlobals<O>, true);
  const v = flags.values as Record<string, string | boolean | undefined>;
  if (v.json && v.human) throw new UsageError('--json and --human exclude each other');
  const json = v.json === true ? true : v.human === true ? false : !process.stdout.isTTY;
  return { flags, ctx: { json, connection: connectionOf(v, env) } };
}

function caFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--ca: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE')) throw new UsageError(`--ca: ${path} holds no PEM certificate`);
  return text;
}

function connectionOf(v: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): ConnectionOptions {
  const url = nonEmpty(v.url as string | undefined) ?? nonEmpty(env.BUCKETQ_URL);
  const store = nonEmpty(v.store as string | undefined) ?? nonEmpty(env.BUCKETQ_STORE);
  const token = tokenFrom({ flag: 'token', value: nonEmpty(v.token as string | undefined), file: v['token-file'] as string | undefined, env });
  const deadlineMs = durationFlag(v.timeout as string | undefined, 'timeout', { bareSeconds: true }) ?? DEFAULT_TIMEOUT_S * 1000;
  const ca = caFile(nonEmpty(v.ca as string | undefined));
  return {
    ...(ca !== undefined ? { ca } : {}),
    ...(url !== undefined || store === undefined ? { url: url ?? DEFAULT_URL } : {}),
    ...(store !== undefined ? { store } : {}),
    ...(token !== undefined ? { token } : {}),
    retry: { deadlineMs },
    // Nothing listening is the likely cause: say so now rather than after the retry deadline.
    failFastUnreachable: true,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
  };
}

/** A client of `topic` with the global flags' connection. */
export function clientFor<T = unknown>(ctx: Context, topic: string, extra: Pick<ClientOptions, 'leaseMs' | 'onRetry'> = {}): Queue<T> {
  return createClient<T>({ ...ctx.connection, topic, ...extra });
}

/** Runs `fn` with a client and closes it after. */
export async function withClient<R>(ctx: Context, topic: string, fn: (q: Queue) => Promise<R>): Promise<R> {
  const q = clientFor(ctx, topic);
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

/** withClient for ack, nack and heartbeat: a LEASE_LOST says which of --worker and --lease does not match. */
export function withLeaseClient<R>(ctx: Context, topic: string, handle: { id: string; workerId: string }, fn: (q: Queue) => Promise<R>): Promise<R> {
  return withClient(ctx, topic, async (q) => {
    try {
      return await fn(q);
    } catch (err) {
      throw await explainLeaseLost(q, handle, err);
    }
  });
}

/** The positional arguments, exactly `names` of them (`[NAME]` marks an optional one). */
export function positionals(given: string[], names: string[]): Array<string | undefined> {
  const required = names.filter((n) => !n.startsWith('[')).length;
  if (given.length < required) throw new UsageError(`missing ${names.slice(given.length).filter((n) => !n.startsWith('[')).join(' and ')}`);
  if (given.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(given[names.length])}`);
  return names.map((_, i) => given[i]);
}

/** A topic argument, checked here so a bad one is a usage error before anything is sent. */
export function topicArg(value: string): string {
  try {
    return checkTopic(value);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** `--max-attempts N`: the protocol's rule for a job's maxAttempts, checked here so a bad one is a usage error before anything is sent. */
export function maxAttemptsFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^-?\d{1,16}$/.test(value.trim()) ? Number(value) : value;
  try {
    return checkMaxAttempts(n, '--max-attempts');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The job lease flag of claim, heartbeat and work, with its old name, which took seconds. */
export const LEASE_FOR_FLAGS = {
  'lease-for': { type: 'string' },
  'lease-seconds': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const LEASE_FOR_USAGE = `    --lease-for D
        The job lease, a duration from 1s to 1h (default 30s). (--lease-seconds S, its old
        name, still works, with a notice.)`;

/** --lease-for (or the deprecated --lease-seconds) in milliseconds. */
export function leaseForFlag(values: Record<string, unknown>): number | undefined {
  return durationWithAlias(values, 'lease-for', 'lease-seconds', { min: 1000, max: 3_600_000 });
}

/** A JSON argument (payload, result). */
export function jsonArg(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Prints a result: JSON on one line, or the human text. */
export function print(ctx: Context, value: unknown, human: () => string): void {
  const text = ctx.json ? JSON.stringify(value) : human();
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** An aligned text table; numeric columns are right-aligned. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/** `512 B`, `3.4 KiB`, `1.2 MiB`. */
export function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** `1.2s`, `3m05s`, `2h10m`, `4d3h`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/** A payload or result shortened to one line of at most `max` characters. */
export function preview(value: unknown, max = 60): string {
  const text = value === undefined ? '' : JSON.stringify(value) ?? String(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Text shortened to one line of at most `max` characters. */
export function previewText(text: string, max = 200): string {
  const line = text.replace(/\s*\n\s*/g, ' ⏎ ');
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The leader of a topic as one phrase: `b-x at http://… (epoch 2, lease 8.1s left)`. */
export function leaderText(lease: { id: string; url: string; epoch: number; leaseUntil: number } | null | undefined, now = Date.now()): string {
  if (!lease) return 'none';
  const left = lease.leaseUntil - now;
  // A clean shutdown releases the lease by setting it to 0: say so, not "expired 20,000 days ago".
  const state = lease.leaseUntil === 0 ? 'lease released' : left > 0 ? `lease ${duration(left)} left` : `lease expired ${duration(-left)} ago`;
  return `${lease.id}${lease.url ? ` at ${lease.url}` : ' (embedded)'} (epoch ${lease.epoch}, ${state})`;
}

/** The flags that name a lease: ack, nack and heartbeat take them. */
export const LEASE_FLAGS = {
  worker: { type: 'string' },
  lease: { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const LEASE_USAGE = `    --worker ID
        The worker id the job was claimed with (required).

    --lease L
        The lease token the claim returned (required).`;

/** `{id, workerId, lease}` from the ID argument and the lease flags. */
export function leaseHandle(id: string, values: { worker?: string | undefined; lease?: string | undefined }): { id: string; workerId: string; lease: string } {
  if (values.worker === undefined || values.worker === '') throw new UsageError('--worker ID is required: the worker id the job was claimed with');
  if (values.lease === undefined || values.lease === '') throw new UsageError('--lease L is required: the lease token from the claim');
  return { id, workerId: values.worker, lease: values.lease };
}

/**
 * LEASE_LOST "leased by another claim" (the broker's word for both a foreign worker id and a
 * wrong lease token), reworded to say which of --worker and --lease does not match, from one
 * look at the job. Any other error comes back as it was.
 */
export async function explainLeaseLost(q: Queue, handle: { id: string; workerId: string }, err: unknown): Promise<unknown> {
  if (!(err instanceof QueueError) || err.code !== 'LEASE_LOST' || !/is leased by another claim/.test(err.message) || err.details?.retried) return err;
  const id = handle.id;
  let holder: string | undefined;
  try {
    holder = (await q.get(id)).lease?.worker;
  } catch {
    holder = undefined;
  }
  const message =
    holder === undefined
      ? `job ${id}: --worker and --lease do not match its current claim (the lease may have expired and the job been claimed again)`
      : holder === handle.workerId
        ? `job ${id}: the lease token does not match its current claim by worker ${holder} (the lease may have expired and the job been claimed again); give the lease of the latest claim with --lease`
        : `job ${id} is claimed by worker ${holder}, not ${handle.workerId} (--worker); the lease may have expired and another worker claimed it`;
  return new QueueError('LEASE_LOST', message, { cause: err, ...(err.details ? { details: err.details } : {}) });
}

/** An epoch-ms time as ISO text with how far away it is. */
export function when(at: number, now = Date.now()): string {
  const d = at - now;
  return `${new Date(at).toISOString()} (${d >= 0 ? `in ${duration(d)}` : `${duration(-d)} ago`})`;
}
