/**
 * The request side of RESP: turns the bytes of a TCP connection into commands (arrays of strings).
 *
 * Why not a package: `redis-parser` (3.0.0, 2017, a dependency of ioredis) parses *replies* for a
 * client. It has no limits (a `$2000000000` header makes it wait for 2 GB), no inline commands
 * and a callback API. A server only ever reads arrays of bulk strings (plus inline commands typed
 * in telnet), which fits in this file with the bounds we need.
 *
 * Incremental: `feed(chunk)` as bytes arrive, then `next()` until it returns null. A frame split
 * over any number of TCP chunks is resumed where it stopped (the array in progress is kept), and a
 * large bulk string is not re-copied per chunk: its chunks are joined once, when all have arrived.
 *
 * Bounded: a header or inline line longer than `maxLineBytes`, more than `maxArgs` elements, a
 * bulk longer than `maxBulkBytes` or a command larger than `maxCommandBytes` in total is a protocol
 * error. After a protocol error the stream cannot be resynchronised: the server answers it and
 * closes the connection, as Redis does.
 */
import { QueueError } from '../../errors.js';

export interface RespReaderLimits {
  /** Elements of one command array (default 100,000). */
  maxArgs: number;
  /** Bytes of one bulk string (default 16 MiB). */
  maxBulkBytes: number;
  /** Bytes of one command in total (default 64 MiB). */
  maxCommandBytes: number;
  /** Bytes of one header or inline command line (default 64 KiB). */
  maxLineBytes: number;
}

export const DEFAULT_READER_LIMITS: RespReaderLimits = {
  maxArgs: 100_000,
  maxBulkBytes: 16 * 1024 * 1024,
  maxCommandBytes: 64 * 1024 * 1024,
  maxLineBytes: 64 * 1024,
};

const CR = 13;
const LF = 10;

function protocolError(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', `Protocol error: ${message}`, { details: { protocol: true } });
}

/** Whether an error came from the reader (the connection must then be closed). */
export function isProtocolError(err: unknown): boolean {
  return err instanceof QueueError && err.details?.protocol === true;
}

export class RespReader {
  private readonly limits: RespReaderLimits;
  /** Unparsed bytes from `pos` on, then `pending` chunks not yet joined to it. */
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The array being read: elements still to come and those read. */
  private array: { remaining: number; args: Buffer[]; bytes: number } | null = null;
  /** Length of the bulk whose header was read, or -1. */
  private bulkLen = -1;

  constructor(limits: Partial<RespReaderLimits> = {}) {
    this.limits = { ...DEFAULT_READER_LIMITS, ...limits };
  }

  /** Bytes held, parsed or not: bounded by the limits plus one chunk. */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.pendingBytes + (this.array?.bytes ?? 0);
  }

  /**
   * Bytes of the bulk strings of the command being read: those read and the announced length of
   * one still arriving. Known before that bulk's bytes are, so a server can refuse them first.
   */
  get announcedBytes(): number {
    return this.array ? this.array.bytes + Math.max(this.bulkLen, 0) : 0;
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /**
   * The next complete command as its raw words (the server decodes them as UTF-8; ECHO answers the
   * bytes), or null when more bytes are needed. Throws a protocol error.
   */
  next(): Buffer[] | null {
    for (;;) {
      if (!this.array) {
        this.join();
        if (this.pos >= this.buf.length) return null;
        if (this.buf[this.pos] !== 0x2a /* '*' */) {
          const inline = this.inline();
          if (inline === null) return null;
          if (inline.length > 0) return inline;
          continue; // an empty line: Redis ignores it
        }
        const line = this.line();
        if (line === null) return null;
        const n = this.int(line.subarray(1), 'multibulk length');
        if (n > this.limits.maxArgs) throw protocolError('invalid multibulk length');
        if (n <= 0) continue; // *0 and *-1: nothing to run
        this.array = { remaining: n, args: [], bytes: 0 };
      }
      const a = this.array;
      while (a.remaining > 0) {
        if (this.bulkLen < 0) {
          this.join();
          if (this.pos >= this.buf.length) return null;
          if (this.buf[this.pos] !== 0x24 /* '$' */) throw protocolError(`expected '$', got '${String.fromCharCode(this.buf[this.pos]!)}'`);
          const line = this.line();
          if (line === null) return null;
          const len = this.int(line.subarray(1), 'bulk length');
          if (len < 0 || len > this.limits.maxBulkBytes) throw protocolError('invalid bulk length');
          if (a.bytes + len > this.limits.maxCommandBytes) throw protocolError('command too large');
          this.bulkLen = len;
        }
        // Wait for the whole bulk and its CRLF before joining the chunks: one copy, not one per chunk.
        if (this.buf.length - this.pos + this.pendingBytes < this.bulkLen + 2) return null;
        this.join();
        const end = this.pos + this.bulkLen;
        if (this.buf[end] !== CR || this.buf[end + 1] !== LF) throw protocolError('bulk string not followed by CRLF');
        a.args.push(this.buf.subarray(this.pos, end));
        a.bytes += this.bulkLen;
        this.pos = end + 2;
        this.bulkLen = -1;
        a.remaining--;
      }
      this.array = null;
      return a.args;
    }
  }

  /** Moves pending chunks into `buf`, dropping what was parsed. */
  private join(): void {
    if (this.pending.length === 0) return;
    const rest = this.buf.subarray(this.pos);
    this.buf = rest.length === 0 && this.pending.length === 1 ? this.pending[0]! : Buffer.concat([rest, ...this.pending]);
    this.pos = 0;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** A CRLF-terminated line at `pos` (without the CRLF), consumed; null if incomplete. */
  private line(): Buffer | null {
    this.join();
    const lf = this.buf.indexOf(LF, this.pos);
    if (lf < 0) {
      if (this.buf.length - this.pos > this.limits.maxLineBytes) throw protocolError('too big header or inline request');
      return null;
    }
    if (lf - this.pos > this.limits.maxLineBytes) throw protocolError('too big header or inline request');
    const end = lf > this.pos && this.buf[lf - 1] === CR ? lf - 1 : lf;
    const line = this.buf.subarray(this.pos, end);
    this.pos = lf + 1;
    return line;
  }

  /** An inline command (`PING`, `SET a b` typed in telnet): words split on blanks, quotes kept simple. */
  private inline(): Buffer[] | null {
    const line = this.line();
    if (line === null) return null;
    const text = line.toString('utf8');
    const words: string[] = [];
    const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m[1] !== undefined) words.push(m[1].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c)));
      else words.push(m[2] ?? m[3]!);
    }
    if (words.length > this.limits.maxArgs) throw protocolError('invalid multibulk length');
    return words.map((w) => Buffer.from(w, 'utf8'));
  }

  private int(bytes: Buffer, what: string): number {
    const text = bytes.toString('latin1');
    if (!/^-?\d{1,15}$/.test(text)) throw protocolError(`invalid ${what}`);
    return Number(text);
  }
}
