/**
 * What every RESP command sees, and the helpers they share. A command is a name, a Redis-style
 * arity (n: exactly n words including the name; -n: at least n) and a function from arguments to
 * a {@link Reply}. Commands are thin: each is one or a few broker calls and a reply shape; queue
 * rules live in the broker and the core, never here.
 */
import type { Broker } from '../../broker/broker.js';
import type { Clock } from '../../clock.js';
import { QueueError } from '../../errors.js';
import { checkTopic } from '../../protocol.js';
import type { Proto, Reply } from './writer.js';
import type { StreamLeases } from './stream-leases.js';
import type { Role } from '../shared/tokens.js';

/** One client connection's state. */
export interface RespConnection {
  readonly id: number;
  proto: Proto;
  authenticated: boolean;
  /** Authenticated with the read-only token: commands flagged `write` get -NOPERM. */
  readOnly: boolean;
  name: string | null;
  /** Aborted when the client goes away: long polls claim nothing for it. */
  readonly signal: AbortSignal;
  /** Set by QUIT: close once the replies before it are out. */
  quit: boolean;
  /** Blocking commands (BRPOP, XREADGROUP BLOCK) running: CLIENT LIST shows flag `b`. */
  blocked: number;
  /** The last command's name, for CLIENT LIST. */
  cmd: string;
  readonly addr: string;
}

/** What is shared by all connections of one server. */
export interface RespServerContext {
  readonly broker: Broker;
  readonly clock: Clock;
  /** Lease of a job handed out by XREADGROUP (and renewed by XCLAIM). */
  readonly streamLeaseMs: number;
  /** Lease of a job between the claim and the ack of an RPOP (only matters if the ack fails). */
  readonly popLeaseMs: number;
  /** The lease tokens of stream deliveries, so clients only ever see stream ids. */
  readonly leases: StreamLeases;
  /** The role of a token (constant time): admin, read (read-only token) or null (wrong); null when the broker has no token. */
  readonly roleOf: ((token: string) => Role | null) | null;
  readonly startedAt: number;
  readonly port: () => number;
  readonly connections: () => RespConnection[];
  /** True once the server drains: long polls that come back empty stop waiting. */
  readonly draining: () => boolean;
  /** Stream ids for `XADD key *`: `ms-seq`, increasing on this server. */
  nextStreamId(): string;
}

export interface CommandCall {
  ctx: RespServerContext;
  conn: RespConnection;
  /** Arguments after the command name, decoded as UTF-8. */
  args: string[];
  /** The same as bytes. */
  raw: Buffer[];
}

export interface Command {
  /** Redis arity: positive = exactly this many words with the name; negative = at least -arity. */
  arity: number;
  /** Runs without AUTH (AUTH, HELLO, QUIT). */
  noAuth?: boolean;
  /** COMMAND flags, for clients that look (write, readonly, blocking, fast). */
  flags: string[];
  /** Position of the first key among the words (0: none), the last (-1: the last word), the step. */
  keys?: [number, number, number];
  run(call: CommandCall): Reply | Promise<Reply>;
}

export type CommandTable = Record<string, Command>;

export function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

export function syntaxError(): QueueError {
  return invalid('syntax error');
}

/** A key is a topic: the same names as everywhere else, refused in Redis users' words. */
export function topicOf(key: string): string {
  try {
    return checkTopic(key);
  } catch (err) {
    throw invalid(`bucketq: a key is a topic name: ${(err as QueueError).message}`);
  }
}

/** A non-negative integer argument, with Redis' error text. */
export function intArg(text: string, what = 'value'): number {
  if (!/^-?\d{1,15}$/.test(text)) throw invalid(`${what} is not an integer or out of range`);
  const n = Number(text);
  if (n < 0) throw invalid(`${what} is out of range, must be positive`);
  return n;
}

/** Redis timeouts in seconds, possibly fractional (BRPOP); returns ms. */
export function secondsArg(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw invalid('timeout is not a float or out of range');
  if (n < 0) throw invalid('timeout is negative');
  return Math.round(n * 1000);
}

/** The words of a job's payload as a list value: a string as itself, anything else as its JSON. */
export function payloadText(payload: unknown): string {
  return typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
}

/**
 * A job's payload as stream fields: an object of strings (what XADD makes) as its pairs, anything
 * else (a job pushed over HTTP) as one field `payload` holding its JSON.
 */
export function payloadFields(payload: unknown): string[] {
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const entries = Object.entries(payload as Record<string, unknown>);
    if (entries.every(([, v]) => typeof v === 'string')) return entries.flat() as string[];
  }
  return ['payload', payloadText(payload)];
}
