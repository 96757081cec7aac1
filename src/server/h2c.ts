/**
 * One port for HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge, which is how gRPC
 * clients speak to a plaintext server): a net.Server that looks at the first bytes of each
 * connection and hands the socket to the node:http server, or, when they are the HTTP/2
 * connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`), to a node:http2 server. Without TLS there
 * is no ALPN to choose by, and `http2.createServer({allowHTTP1})` falls back to HTTP/1 only on TLS.
 *
 * The bytes read are put back (unshift) before the hand-over, so either server parses the
 * connection from its first byte. The HTTP/1 server never listens itself: it is told it is
 * listening, which starts its connection tracking (request and header timeouts,
 * closeAllConnections) exactly as when it owns the port.
 *
 * Connection limits (docs/security.md, "Connections"): a client address holds at most
 * `maxPerAddress` connections (counted from the first byte of the TCP connection, before the
 * sniff); a connection must send a complete request head within `headersTimeoutMs`: here the
 * first bytes (an absolute deadline, so a preface sent byte by byte does not stretch it), then
 * node:http's headersTimeout (set by the caller on the HTTP/1 server) or the first HTTP/2 request
 * (trackHttp2Sessions).
 */
import type { Server as HttpServer } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { AddressCounts, type OnConnectionRejected } from '../transports/shared/index.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The time to send a complete request head, by default (node:http's own default is 60 s). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;

export interface DualServer {
  /** The listening server (its close() waits for every connection of either protocol). */
  front: Server;
  /**
   * Drain: every HTTP/2 session, open or opened later, is closed gracefully: GOAWAY tells the
   * client which streams were not processed (it retries them elsewhere, no ambiguity), streams in
   * flight finish, then the connection closes.
   */
  drain(): void;
  /** Destroys what is left: HTTP/2 sessions and connections that never sent a byte. */
  destroy(): void;
}

/**
 * node:http's timeouts for a given header timeout: the whole request (body included) may take
 * node's default 300 s but never less than its head; the timeouts are checked every second
 * (node's default is every 30 s, which let a slowloris wave hold its connections 30 s past the
 * bound), more often for a shorter bound.
 */
export function httpTimeouts(headersTimeoutMs: number): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  return {
    headersTimeout: headersTimeoutMs,
    requestTimeout: Math.max(300_000, headersTimeoutMs),
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
  };
}

/** What limits the connections of the HTTP port, on either front (this file's or tls.ts). */
export interface ConnectionLimits {
  /** An HTTP/2 session with no stream open is closed after this long (default H2_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** Time from connecting to a complete request head (default DEFAULT_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
  /** Connections per client address (default: unlimited; the broker server passes its own). */
  maxPerAddress?: number;
  /** Told of every connection refused or cut by these limits (and by the port's maxConnections). */
  onRejected?: OnConnectionRejected;
}

/** An HTTP/2 session with no stream open is closed after this long (node:http2 has no such timeout). */
export const H2_IDLE_TIMEOUT_MS = 60_000;

export interface Http2SessionLimits {
  idleTimeoutMs: number;
  /** A session that has not opened its first stream (a complete request head) by then is destroyed. */
  firstRequestMs: number;
  /** Whether a new session must be closed at once. */
  draining(): boolean;
  onRejected?: OnConnectionRejected | undefined;
}

/**
 * Tracks the HTTP/2 sessions of a server (cleartext here, TLS in tls.ts) and closes those that
 * hold a connection without using it: one that sends no request within `firstRequestMs` is
 * destroyed; one with no stream open for `idleTimeoutMs` is closed with a GOAWAY (the client knows
 * nothing of its was dropped). Both are timers of this file, not the socket's inactivity timeout:
 * PING frames or a header block sent a byte at a time do not keep a session that serves nothing.
 * A session with a stream open (a long poll, a ClaimStream) stays; its idle timer starts again
 * once its last stream closed.
 */
export function trackHttp2Sessions(server: { on(event: 'session', listener: (s: ServerHttp2Session) => void): unknown }, limits: Http2SessionLimits): Set<ServerHttp2Session> {
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s: ServerHttp2Session) => {
    sessions.add(s);
    let streams = 0;
    let served = false;
    let timer = setTimeout(() => {
      limits.onRejected?.('headers-timeout', s.socket?.remoteAddress);
      s.destroy();
    }, Math.min(limits.firstRequestMs, limits.idleTimeoutMs));
    s.once('close', () => {
      sessions.delete(s);
      clearTimeout(timer);
    });
    s.on('stream', (stream) => {
      streams++;
      if (!served) {
        // From the first request on, one timer for the session's life: it does nothing while a
        // stream is open, and each time the last one closes it starts again (refresh(), no new timer).
        served = true;
        clearTimeout(timer);
        timer = setTimeout(() => streams === 0 && s.close(), limits.idleTimeoutMs);
      }
      stream.once('close', () => {
        if (--streams === 0 && !s.destroyed) timer.refresh(); // the idle time counts from the last stream's end
      });
    });
    if (limits.draining()) s.close();
  });
  return sessions;
}

export function createDualServer(http1: HttpServer, http2: Http2Server, o: ConnectionLimits = {}): DualServer {
  const headersTimeoutMs = o.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const perAddress = o.maxPerAddress !== undefined ? new AddressCounts(o.maxPerAddress) : null;
  const sniffing = new Set<Socket>();
  let draining = false;
  const sessions = trackHttp2Sessions(http2, { idleTimeoutMs: o.idleTimeoutMs ?? H2_IDLE_TIMEOUT_MS, firstRequestMs: headersTimeoutMs, draining: () => draining, onRejected: o.onRejected });
  const front = createServer((socket) => {
    if (perAddress && !perAddress.admit(socket)) {
      o.onRejected?.('address-limit', socket.remoteAddress);
      socket.on('error', () => {});
      socket.destroy(); // as past maxConnections: closed at once, unanswered
      return;
    }
    sniffing.add(socket);
    let seen: Buffer = Buffer.alloc(0);
    const deadline = setTimeout(() => {
      o.onRejected?.('headers-timeout', socket.remoteAddress);
      socket.destroy();
    }, headersTimeoutMs);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const maybeH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (maybeH2 && seen.length < PREFACE.length) return; // a prefix of the preface: wait for more
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError); // the receiving server handles them from now on
      sniffing.delete(socket);
      clearTimeout(deadline);
      socket.pause();
      socket.unshift(seen);
      if (maybeH2) {
        // node:http2 reads what is buffered on the socket itself (socket.read(), next tick).
        http2.emit('connection', socket);
      } else {
        http1.emit('connection', socket);
        // node:http parses new bytes from the handle; the put-back ones flow as 'data' once resumed.
        socket.resume();
      }
    };
    const onClose = () => {
      sniffing.delete(socket);
      clearTimeout(deadline);
    };
    // Without a listener, a reset before the first byte would be an uncaught 'error' event.
    const onError = () => socket.destroy();
    socket.on('data', onData).once('close', onClose).on('error', onError);
  });
  // Past maxConnections node closes a new connection before any listener sees it: counted here.
  front.on('drop', (data?: { remoteAddress?: string }) => o.onRejected?.('max-connections', data?.remoteAddress));
  front.once('listening', () => http1.emit('listening'));
  return {
    front,
    drain() {
      draining = true;
      for (const s of sessions) s.close();
    },
    destroy() {
      for (const s of sessions) s.destroy();
      for (const s of sniffing) s.destroy();
    },
  };
}
