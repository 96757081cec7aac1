/**
 * The Redis protocol transport: `createRespServer(broker, options)` is a node:net server speaking
 * RESP2 (RESP3 after `HELLO 3`) whose keys are topics. Lists are at-most-once queues, streams
 * with consumer groups at-least-once (see commands/lists.ts, commands/streams.ts).
 *
 * Pipelining: commands are read and started in order as they arrive, so a pipeline of pushes
 * lands in one group commit; replies are written in order, each when it and all before it are
 * done. Connection commands (AUTH, HELLO, SELECT, CLIENT) run synchronously, so a command after
 * AUTH in the same pipeline already sees its result.
 *
 * Limits: array length, bulk and command size and line length (reader.ts), replies pending
 * per connection (pipeline depth) and connections. A client past one of them gets an error reply
 * and is disconnected once its earlier replies are out; other clients are not affected. The bytes
 * of commands count against the broker's budget of request bytes in flight (shared/body-budget.ts) from
 * the moment a bulk string's length is announced until the command's reply: a command that does
 * not fit gets -UNAVAILABLE before its bulk is read, and the connection is closed (the stream cannot
 * be resynchronised without reading it).
 *
 * Text: every argument must be valid UTF-8 (but ECHO's, answered as bytes): keys are topics, ids and
 * group names are compared as text, and a payload is stored as a JSON string, which cannot hold
 * other bytes. Decoding would silently turn them into U+FFFD; such a command is refused instead.
 *
 * Connections (docs/security.md, "Connections"): at most `maxConnections`, `maxConnectionsPerAddress`
 * from one address; with a token, a connection must authenticate within `authTimeoutMs`, and those
 * still waiting to are capped so they cannot crowd out authenticated clients
 * (connection-limits.ts); a connection idle for `idleTimeoutMs` is closed without a word, as
 * Redis's own `timeout` does (a reply nobody asked for would be an error in most clients). A command
 * waiting for its reply, such as BLPOP or XREADGROUP BLOCK, is not idle.
 *
 * Drain: `drain()` stops accepting connections and answers later commands with UNAVAILABLE;
 * `idle()` resolves when every started command has its reply written; `close()` then ends every
 * connection. The broker server does them in that order around `broker.stop()`, which answers
 * parked long polls (BRPOP, XREADGROUP BLOCK) with nothing.
 */
import { isUtf8 } from 'node:buffer';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Broker } from '../../broker/broker.js';
import { systemClock, type Clock } from '../../clock.js';
import { isQueueError, QueueError } from '../../errors.js';
import { asQueueError, respErrorText } from '../shared/error-codes.js';
import { cut, defaultPerAddress, handshakeDeadline, type OnConnectionRejected } from '../shared/connections.js';
import { RespConnectionLimits, type Kick } from './connection-limits.js';
import type { CommandTable, RespConnection, RespServerContext } from './command.js';
import { BUCKETQ_COMMANDS } from './commands/bucketq.js';
import { LIST_COMMANDS } from './commands/lists.js';
import { PENDING_COMMANDS } from './commands/pending.js';
import { serverCommands } from './commands/server.js';
import { STREAM_COMMANDS } from './commands/streams.js';
import { isProtocolError, RespReader, type RespReaderLimits } from './reader.js';
import { StreamLeases } from './stream-leases.js';
import { encode, errorReply, type Reply } from './writer.js';
import { roleChecker } from '../shared/tokens.js';
import { BodyBudget, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT } from '../shared/body-budget.js';

export interface RespServerOptions {
  /** When set, every command but AUTH, HELLO and QUIT needs `AUTH [user] token` first. */
  token?: string | undefined;
  /** A second token (with `token`) that may run only commands not flagged `write` (LLEN, XLEN, XINFO, XPENDING, INFO, ...); others get -NOPERM. */
  readToken?: string | undefined;
  /** Lease of jobs handed out by XREADGROUP (default 30 s). */
  streamLeaseMs?: number;
  /** Replies pending per connection before it is cut (default 10,000). */
  maxPipeline?: number;
  /** Open connections at most (default 1,000). */
  maxConnections?: number;
  /** Open connections from one client address at most (default: half of `maxConnections`). */
  maxConnectionsPerAddress?: number;
  /**
   * With a token: connections not authenticated yet at most (default: a tenth of `maxConnections`).
   * A newcomer past it cuts the one that has waited longest (see connection-limits.ts).
   */
  maxUnauthenticated?: number;
  /** With a token: a connection that has not authenticated this long after connecting gets an error and is closed (default 10 s). */
  authTimeoutMs?: number;
  /** A connection that sends nothing for this long with no command running is closed (default 5 min; 0: never). */
  idleTimeoutMs?: number;
  /** Told of every connection refused or cut by these limits. */
  onRejected?: OnConnectionRejected;
  /** PEM certificate and key: speak RESP over TLS (rediss://) instead of cleartext. */
  tls?: { cert: string; key: string } | undefined;
  /** Reader bounds (args per command, bulk size, command size, line length). */
  reader?: Partial<RespReaderLimits>;
  /** Request bytes held at once, shared with the broker's other wires (default: 64 MiB of its own). */
  bodyBudget?: BodyBudget | undefined;
  clock?: Clock;
  /** Unexpected failures (bugs), answered as `-ERR internal error` without their details. */
  onError?: (err: unknown, command: string) => void;
}

export interface RespServer {
  readonly server: Server;
  readonly connections: number;
  listen(host: string, port: number): Promise<number>;
  drain(): void;
  idle(): Promise<void>;
  /** Ends every connection and stops listening. */
  close(): Promise<void>;
}

export const RESP_DEFAULTS = { streamLeaseMs: 30_000, popLeaseMs: 30_000, maxPipeline: 10_000, maxConnections: 1000, authTimeoutMs: 10_000, idleTimeoutMs: 300_000 };

/** Bytes a connection may send before it has authenticated (AUTH and HELLO are a few dozen). */
const UNAUTHENTICATED_MAX_BYTES = 64 * 1024;

function unknownCommand(args: string[]): string {
  const shown = args.slice(1, 20).map((a) => `'${a.slice(0, 128)}' `).join('');
  return `ERR unknown command '${args[0]!.slice(0, 128)}', with args beginning with: ${shown}`;
}

interface Slot {
  bytes: Buffer | null;
  /** The command's argument bytes, held against the budget until its reply. */
  size: number;
}

export function createRespServer(broker: Broker, options: RespServerOptions = {}): RespServer {
  const clock = options.clock ?? systemClock;
  const maxPipeline = options.maxPipeline ?? RESP_DEFAULTS.maxPipeline;
  const maxConnections = options.maxConnections ?? RESP_DEFAULTS.maxConnections;
  const roleOf = roleChecker({ token: options.token, readToken: options.readToken });
  const authTimeoutMs = options.authTimeoutMs ?? RESP_DEFAULTS.authTimeoutMs;
  const idleTimeoutMs = options.idleTimeoutMs ?? RESP_DEFAULTS.idleTimeoutMs;
  const limits = new RespConnectionLimits({
    maxConnections,
    maxPerAddress: options.maxConnectionsPerAddress ?? defaultPerAddress(maxConnections),
    maxUnauthenticated: roleOf ? (options.maxUnauthenticated ?? Math.max(1, Math.floor(maxConnections / 10))) : null,
  });
  const budget = options.bodyBudget ?? new BodyBudget(DEFAULT_MAX_BODY_BYTES_IN_FLIGHT);
  const sockets = new Map<Socket, RespConnection>();
  let nextConnId = 1;
  let draining = false;
  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];
  let lastMs = 0;
  let seq = 0;
  let port = 0;

  const commands: CommandTable = { ...LIST_COMMANDS, ...STREAM_COMMANDS, ...PENDING_COMMANDS, ...BUCKETQ_COMMANDS };
  Object.assign(commands, serverCommands(() => commands));

  const ctx: RespServerContext = {
    broker,
    clock,
    streamLeaseMs: options.streamLeaseMs ?? RESP_DEFAULTS.streamLeaseMs,
    popLeaseMs: RESP_DEFAULTS.popLeaseMs,
    leases: new StreamLeases(() => clock.now()),
    roleOf,
    startedAt: clock.now(),
    port: () => port,
    connections: () => [...sockets.values()],
    draining: () => draining,
    nextStreamId() {
      const ms = Math.max(clock.now(), lastMs);
      seq = ms === lastMs ? seq + 1 : 0;
      lastMs = ms;
      return `${ms}-${seq}`;
    },
  };

  function settledOne(): void {
    inFlight--;
    if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
  }

  function serve(socket: Socket): void {
    socket.on('error', () => {});
    if (draining) return cut(socket, '-UNAVAILABLE the broker is shutting down\r\n');
    const refused = limits.admit(socket, sockets.size);
    if (refused) {
      options.onRejected?.(refused.reason, socket.remoteAddress);
      return cut(socket, `-${refused.text}\r\n`);
    }
    socket.setNoDelay(true);
    const aborter = new AbortController();
    const addr = `${socket.remoteAddress}:${socket.remotePort}`;
    const conn: RespConnection = { id: nextConnId++, proto: 2, authenticated: roleOf === null, readOnly: false, name: null, signal: aborter.signal, quit: false, blocked: 0, cmd: 'NULL', addr };
    sockets.set(socket, conn);
    const reader = new RespReader(options.reader);
    const slots: Slot[] = [];
    /** No more commands: the last reply is queued; end once it is written. */
    let closing = false;
    /** This connection's share of the budget: commands awaiting their replies, and the one being read. */
    const hold = budget.hold();
    let pendingBytes = 0;

    const flush = () => {
      const out: Buffer[] = [];
      while (slots.length > 0 && slots[0]!.bytes) out.push(slots.shift()!.bytes!);
      if (out.length > 0 && !socket.destroyed) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      if (closing && slots.length === 0 && !socket.destroyed) cut(socket);
    };
    const reply = (slot: Slot, r: Reply) => {
      slot.bytes = encode(r, conn.proto);
      if (slot.size > 0) {
        pendingBytes -= slot.size;
        slot.size = 0;
        hold.resize(pendingBytes + reader.announcedBytes); // smaller: always succeeds
      }
      flush();
    };
    const fail = (slot: Slot, err: unknown, name: string) => {
      const q = asQueueError(err);
      if (!isQueueError(err) || q.code === 'INTERNAL') options.onError?.(err, name);
      reply(slot, errorReply(respErrorText(q)));
    };
    const finalError = (text: string) => {
      closing = true;
      socket.pause();
      const slot: Slot = { bytes: null, size: 0 };
      slots.push(slot); // last in line: after the replies of the commands before it
      reply(slot, errorReply(text));
    };
    const kick: Kick = (reason, text) => {
      if (closing) return;
      options.onRejected?.(reason, socket.remoteAddress);
      finalError(text);
    };
    let authTimer: NodeJS.Timeout | null = null;
    if (!conn.authenticated) {
      limits.waitForAuth(socket, kick);
      authTimer = setTimeout(() => {
        limits.done(socket);
        kick('auth-timeout', `NOAUTH Authentication required: no AUTH within ${authTimeoutMs} ms of connecting; closing the connection`);
      }, authTimeoutMs);
    }
    const authenticated = () => {
      clearTimeout(authTimer!);
      authTimer = null;
      limits.done(socket);
    };
    if (idleTimeoutMs > 0) {
      socket.setTimeout(idleTimeoutMs);
      // Fires again after the next activity and another idle period, so a long BLPOP is looked at again once answered.
      socket.on('timeout', () => {
        if (slots.length > 0 || closing || authTimer) return; // a command waiting for its reply; a connection under its AUTH deadline
        options.onRejected?.('idle-timeout', socket.remoteAddress);
        closing = true;
        socket.destroy(); // without a word (see the module comment); a command arriving just now is not run, so resending it is safe
      });
    }

    /** Whether the budget has room for the commands read and the bulk announced; if not, the connection's last reply says so. */
    const fits = (size: number): boolean => {
      const want = pendingBytes + size + reader.announcedBytes;
      // Before AUTH a client may send AUTH and HELLO: a stranger does not get to hold the budget.
      if (!conn.authenticated && want > UNAUTHENTICATED_MAX_BYTES) {
        finalError('NOAUTH Authentication required.');
        return false;
      }
      if (hold.resize(want)) return true;
      finalError(respErrorText(budget.overloaded()));
      return false;
    };

    const run = (words: Buffer[]) => {
      let size = 0;
      for (const w of words) size += w.length;
      if (!fits(size)) return;
      const args = words.map((w) => w.toString('utf8'));
      const slot: Slot = { bytes: null, size };
      pendingBytes += size;
      if (slots.length >= maxPipeline) {
        slots.push(slot);
        closing = true;
        socket.pause();
        return reply(slot, errorReply(`ERR bucketq: more than ${maxPipeline} replies pending on this connection (pipeline too deep); closing`));
      }
      slots.push(slot);
      const name = args[0]!.toLowerCase();
      const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
      // Before AUTH nothing but NOAUTH, unknown commands included (as Redis): no probing of what exists.
      if (!conn.authenticated && !cmd?.noAuth) return reply(slot, errorReply('NOAUTH Authentication required.'));
      if (!cmd) return reply(slot, errorReply(unknownCommand(args)));
      if (conn.readOnly && cmd.flags.includes('write')) return reply(slot, errorReply(`NOPERM this connection authenticated with the read-only token and cannot run the '${name}' command`));
      if ((cmd.arity > 0 && args.length !== cmd.arity) || args.length < -cmd.arity) return reply(slot, errorReply(`ERR wrong number of arguments for '${name}' command`));
      if (name !== 'echo') {
        const bad = words.findIndex((w) => !isUtf8(w));
        if (bad >= 0) return reply(slot, errorReply(`ERR bucketq: argument ${bad} of '${name}' is not valid UTF-8 (keys, ids and values are text here)`));
      }
      if (draining && name !== 'quit') return reply(slot, errorReply('UNAVAILABLE the broker is shutting down; retry on another broker'));
      conn.cmd = name;
      let result: Reply | Promise<Reply>;
      try {
        result = cmd.run({ ctx, conn, args: args.slice(1), raw: words.slice(1) });
      } catch (err) {
        return fail(slot, err, name);
      }
      if (authTimer && conn.authenticated) authenticated(); // AUTH or HELLO ... AUTH, run synchronously
      if (conn.quit) {
        closing = true;
        socket.pause();
      }
      if (!(result instanceof Promise)) return reply(slot, result);
      inFlight++;
      const blocking = cmd.flags.includes('blocking');
      if (blocking) conn.blocked++;
      result
        .then((r) => reply(slot, r), (err: unknown) => fail(slot, err, name))
        .finally(() => {
          if (blocking) conn.blocked--;
          settledOne();
        });
    };

    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      reader.feed(chunk);
      try {
        for (let args = reader.next(); args && !closing; args = closing ? null : reader.next()) run(args);
        // A bulk announced but not all here yet: its bytes are asked for before they pile up.
        if (!closing) fits(0);
      } catch (err) {
        if (isProtocolError(err)) return finalError(`ERR ${(err as QueueError).message}`);
        options.onError?.(err, 'read'); // a bug: this connection ends, the server goes on
        finalError('ERR internal error: the broker failed; see its log');
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(authTimer ?? undefined);
      limits.done(socket);
      sockets.delete(socket);
      hold.release();
      aborter.abort(new QueueError('CLOSED', 'the client went away'));
    });
  }

  const server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, serve) : createServer(serve);
  // The AUTH deadline starts once the handshake is done; the handshake has one of the same length.
  if (options.tls) handshakeDeadline(server as TlsServer, authTimeoutMs, 'auth-timeout', options.onRejected);
  server.on('error', () => {});
  // A failed handshake (a cleartext client, a client that does not trust the certificate) ends that connection only.
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());

  return {
    server,
    get connections() {
      return sockets.size;
    },
    listen(host, p) {
      return new Promise((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
          reject(new QueueError('UNAVAILABLE', `cannot listen on ${host}:${p} (RESP): ${why}`, { cause: err }));
        };
        server.once('error', onError);
        server.listen({ host, port: p }, () => {
          server.off('error', onError);
          const a = server.address();
          port = typeof a === 'object' && a ? a.port : p;
          resolve(port);
        });
      });
    },
    drain() {
      draining = true;
      if (server.listening) server.close();
    },
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async close() {
      draining = true;
      if (server.listening) server.close();
      // Every reply is out (idle()): end each connection; one whose client does not close its side soon is cut.
      const timer = setTimeout(() => {
        for (const s of sockets.keys()) s.destroy();
      }, 1000);
      await Promise.all(
        [...sockets.keys()].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.once('close', () => resolve());
              s.end();
            }),
        ),
      );
      clearTimeout(timer);
    },
  };
}
