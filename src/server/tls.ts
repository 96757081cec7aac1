/**
 * TLS for the broker's port and its Redis port. `--tls-cert FILE --tls-key FILE` (options
 * `tlsCert`/`tlsKey`): each is either PEM text (it contains `-----BEGIN`) or a path to a PEM file,
 * read once at start (no reload: restart the broker to change the certificate).
 *
 * With TLS the main port is a node:http2 secure server with `allowHTTP1`: ALPN picks HTTP/2 (gRPC,
 * browsers) or HTTP/1.1 (node:https clients, curl --http1.1) per connection, and every route is
 * served on both: the JSON API, the event stream, Connect, gRPC-Web and gRPC. There is no
 * preface sniffing as on the cleartext port (h2c.ts): ALPN already says which protocol comes.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { QueueError } from '../errors.js';
import { AddressCounts, handshakeDeadline } from '../transports/shared/index.js';
import { DEFAULT_HEADERS_TIMEOUT_MS, httpTimeouts, trackHttp2Sessions, type ConnectionLimits, type DualServer } from './h2c.js';

export interface TlsMaterial {
  cert: string;
  key: string;
}

/** PEM text as given, or the contents of the file it names. */
function pem(value: string, what: 'tlsCert' | 'tlsKey'): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    const flag = what === 'tlsCert' ? '--tls-cert' : '--tls-key';
    throw new QueueError('INVALID_ARGUMENT', `${flag}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

/** The certificate and key, both or neither; null without TLS. */
export function loadTls(cert: string | undefined, key: string | undefined): TlsMaterial | null {
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) throw new QueueError('INVALID_ARGUMENT', 'TLS needs both a certificate (--tls-cert) and its private key (--tls-key)');
  const material = { cert: pem(cert, 'tlsCert'), key: pem(key, 'tlsKey') };
  if (!material.cert.includes('-----BEGIN')) throw new QueueError('INVALID_ARGUMENT', '--tls-cert is not a PEM certificate');
  if (!material.key.includes('-----BEGIN')) throw new QueueError('INVALID_ARGUMENT', '--tls-key is not a PEM private key');
  return material;
}

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

/**
 * A connection with no request in flight is closed after this long (node:http's default
 * headersTimeout, as the cleartext port's sniff timeout). node:http2's server applies no
 * keep-alive timeout, also not to its HTTP/1.1 connections: without this, connections that made
 * one request and then sit idle would hold slots of `maxConnections` for good.
 */
export const TLS_IDLE_TIMEOUT_MS = 60_000;

/**
 * The TLS counterpart of createDualServer: one secure server for HTTP/1.1 and HTTP/2, with the
 * same drain (GOAWAY to every HTTP/2 session) and destroy (every connection still open), and the
 * same connection limits: connections per address (counted on the TCP connection, before the
 * handshake), and a complete request head within `headersTimeoutMs`: the handshake by then
 * (handshakeDeadline), then node:http's headersTimeout on HTTP/1.1 (which the HTTP/2 server
 * applies to its HTTP/1.1 connections too) or the first HTTP/2 request.
 */
export function createTlsServer(tls: TlsMaterial, listener: (req: AnyRequest, res: AnyResponse) => void, o: ConnectionLimits = {}): DualServer {
  const idleTimeoutMs = o.idleTimeoutMs ?? TLS_IDLE_TIMEOUT_MS;
  const headersTimeoutMs = o.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const perAddress = o.maxPerAddress !== undefined ? new AddressCounts(o.maxPerAddress) : null;
  let sessions = new Set<ServerHttp2Session>();
  const sockets = new Set<TLSSocket>();
  /** HTTP/1.1 requests in flight per connection: its idle timer only closes it at 0. */
  const requests = new WeakMap<TLSSocket, number>();
  let draining = false;
  let server: ReturnType<typeof createSecureServer>;
  try {
    server = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, (req, res) => {
      if (req.httpVersionMajor < 2) {
        // The timer runs only while idle: node:http's own 'timeout' handler destroys the socket too.
        const socket = req.socket as TLSSocket;
        requests.set(socket, (requests.get(socket) ?? 0) + 1);
        socket.setTimeout(0);
        res.once('close', () => {
          const n = requests.get(socket)! - 1;
          requests.set(socket, n);
          if (n === 0 && !socket.destroyed) socket.setTimeout(idleTimeoutMs);
        });
      }
      listener(req, res);
    });
  } catch (err) {
    throw new QueueError('INVALID_ARGUMENT', `the TLS certificate or key is not usable: ${(err as Error).message}`, { cause: err });
  }
  // node:http's header timeout for the HTTP/1.1 connections: the HTTP/2 server reads these fields
  // (set before listen()) when it hands such a connection to node:http.
  Object.assign(server, httpTimeouts(headersTimeoutMs));
  sessions = trackHttp2Sessions(server, { idleTimeoutMs, firstRequestMs: headersTimeoutMs, draining: () => draining, onRejected: o.onRejected }); // HTTP/2: the session's own timers
  server.on('connection', (raw: Socket) => {
    if (perAddress && !perAddress.admit(raw)) {
      o.onRejected?.('address-limit', raw.remoteAddress);
      raw.destroy(); // before the handshake: closed at once, unanswered
    }
  });
  handshakeDeadline(server, headersTimeoutMs, 'headers-timeout', o.onRejected);
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (socket.alpnProtocol === 'h2') return; // the session's timers (above)
    socket.setTimeout(idleTimeoutMs, () => {
      if ((requests.get(socket) ?? 0) === 0) socket.destroy();
    });
  });
  // A failed handshake (a cleartext client, a wrong CA on the client side) concerns that connection only.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  server.on('drop', (data?: { remoteAddress?: string }) => o.onRejected?.('max-connections', data?.remoteAddress));
  return {
    front: server,
    drain() {
      draining = true;
      for (const s of sessions) s.close();
    },
    destroy() {
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
    },
  };
}
