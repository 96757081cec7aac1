/**
 * Connection limits shared by the HTTP port (server/h2c.ts, server/tls.ts) and the Redis port
 * (resp/server.ts): the count of open connections per client address, the reasons a connection is
 * refused or cut, and a way to cut one that does not depend on the client closing its side.
 *
 * Counting costs a Map update when a connection opens and when it closes, nothing per request.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/**
 * Why a connection was refused or cut (the `reason` label of bucketq_connections_rejected_total):
 * - `max-connections`: the port's connection limit was reached;
 * - `address-limit`: the client's address holds its share of connections already;
 * - `headers-timeout` (HTTP): no complete request head in time: a socket that sends nothing, a
 *   slow header line after line, a TLS handshake that does not finish, an HTTP/2 session without a request;
 * - `auth-timeout` (RESP): no AUTH in time while the broker has a token;
 * - `unauthenticated-limit` (RESP): the oldest connection still waiting to authenticate, cut to make room;
 * - `idle-timeout` (RESP): nothing sent and no command running for the idle timeout.
 */
export type ConnectionRejectReason = 'max-connections' | 'address-limit' | 'headers-timeout' | 'auth-timeout' | 'unauthenticated-limit' | 'idle-timeout';

/** Told of every refused or cut connection, with the client's address when known. */
export type OnConnectionRejected = (reason: ConnectionRejectReason, address: string | undefined) => void;

/** A client address may hold this share of a port's connections by default: the rest stays open to everyone else. */
export function defaultPerAddress(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 2));
}

/** How long a cut connection may take to read its last words before it is destroyed. */
const CUT_GRACE_MS = 1000;

/**
 * Ends `socket` (after writing `last`, if given) and destroys it a moment later whatever the client
 * does: end() alone leaves the socket open until the client closes its side, which a hostile
 * client never does.
 */
export function cut(socket: Duplex, last?: string): void {
  if (socket.destroyed) return;
  if (last === undefined) socket.end();
  else socket.end(last);
  const timer = setTimeout(() => socket.destroy(), CUT_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Open connections per client address, at most `max` each. */
export class AddressCounts {
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts `socket` in until it closes; false (and not counted) when its address is at the limit. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const n = this.counts.get(address) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(address, n + 1);
    socket.once('close', () => {
      const left = this.counts.get(address)! - 1;
      if (left === 0) this.counts.delete(address);
      else this.counts.set(address, left);
    });
    return true;
  }

  /** Open connections from `address` (for tests and stats). */
  of(address: string): number {
    return this.counts.get(address) ?? 0;
  }
}

/** What handshakeDeadline needs of a TLS server (node:tls's, node:http2's secure one). */
interface TlsServerEvents {
  on(event: 'connection', listener: (raw: Socket) => void): unknown;
  on(event: 'secureConnection', listener: (socket: TLSSocket) => void): unknown;
}

/**
 * Cuts a TLS connection whose handshake has not finished `ms` after it connected (counted as `reason`). node's own
 * handshakeTimeout is an inactivity timer, which a client sending its hello a byte at a time
 * never trips. Deadlines are found again by "address:port": the TLS socket of a raw connection is
 * not reachable from it without node's internals. A connection destroyed by an earlier
 * 'connection' listener (a refusal) is skipped.
 */
export function handshakeDeadline(server: TlsServerEvents, ms: number, reason: ConnectionRejectReason, onRejected?: OnConnectionRejected): void {
  const pending = new Map<string, NodeJS.Timeout>();
  server.on('connection', (raw) => {
    if (raw.destroyed) return;
    const key = `${raw.remoteAddress}:${raw.remotePort}`;
    const deadline = setTimeout(() => {
      onRejected?.(reason, raw.remoteAddress);
      raw.destroy();
    }, ms);
    pending.set(key, deadline);
    raw.once('close', () => {
      clearTimeout(deadline);
      if (pending.get(key) === deadline) pending.delete(key);
    });
  });
  server.on('secureConnection', (socket) => {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    clearTimeout(pending.get(key));
    pending.delete(key);
  });
}
