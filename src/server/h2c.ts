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
 */
import type { Server as HttpServer } from 'node:http';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** A connection that sends nothing is closed after this long (node:http's default headersTimeout). */
const SNIFF_TIMEOUT_MS = 60_000;

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

/** An HTTP/2 session with no stream open is closed after this long (node:http2 has no such timeout). */
export const H2_IDLE_TIMEOUT_MS = 60_000;

/**
 * Tracks the HTTP/2 sessions of a server (cleartext here, TLS in tls.ts) and closes idle ones:
 * they would otherwise hold their connection (and a maxConnections slot) forever. A session with
 * a stream open (a long poll, a ClaimStream) stays; its timer fires again once all went quiet.
 * `draining()` says whether a new session must be closed at once.
 */
export function trackHttp2Sessions(server: { on(event: 'session', listener: (s: ServerHttp2Session) => void): unknown }, idleTimeoutMs: number, draining: () => boolean): Set<ServerHttp2Session> {
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s: ServerHttp2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    let streams = 0;
    s.on('stream', (stream) => {
      streams++;
      stream.once('close', () => streams--);
    });
    s.setTimeout(idleTimeoutMs);
    s.on('timeout', () => {
      if (streams === 0) s.destroy(); // on(), not setTimeout's once(): it may fire again
    });
    if (draining()) s.close();
  });
  return sessions;
}

export function createDualServer(http1: HttpServer, http2: Http2Server, o: { idleTimeoutMs?: number } = {}): DualServer {
  const idleTimeoutMs = o.idleTimeoutMs ?? H2_IDLE_TIMEOUT_MS;
  const sniffing = new Set<Socket>();
  let draining = false;
  const sessions = trackHttp2Sessions(http2, idleTimeoutMs, () => draining);
  const front = createServer((socket) => {
    sniffing.add(socket);
    let seen: Buffer = Buffer.alloc(0);
    socket.setTimeout(SNIFF_TIMEOUT_MS, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const maybeH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (maybeH2 && seen.length < PREFACE.length) return; // a prefix of the preface: wait for more
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError); // the receiving server handles them from now on
      sniffing.delete(socket);
      socket.setTimeout(0);
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
    const onClose = () => sniffing.delete(socket);
    // Without a listener, a reset before the first byte would be an uncaught 'error' event.
    const onError = () => socket.destroy();
    socket.on('data', onData).once('close', onClose).on('error', onError);
  });
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
