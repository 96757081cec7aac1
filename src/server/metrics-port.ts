/**
 * `metricsListen`: a second, metrics-only HTTP port with no authentication, for Prometheus setups
 * that scrape without credentials (bind it to a private interface). It serves GET /metrics and
 * GET /readyz and nothing else: no API route, no job data. It stays up through a drain, so the
 * drain itself can be watched, and closes last.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueueError } from '../errors.js';
import { listenUrl, type ListenAddress } from './address.js';
import { opsRoute, type OpsHandler } from './ops-http.js';

export interface MetricsPort {
  url: string;
  close(): Promise<void>;
}

export function listenMetricsPort(address: ListenAddress, handler: OpsHandler): Promise<MetricsPort> {
  const server: Server = createServer((req, res) => {
    if (opsRoute(req.url ?? '/') !== null) return handler(req, res);
    const json = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'this port serves GET /metrics and GET /readyz only' } });
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(json)) });
    res.end(json);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
      reject(new QueueError('UNAVAILABLE', `cannot listen on ${address.host}:${address.port} for metrics: ${why}`, { cause: err }));
    });
    server.listen({ host: address.host, port: address.port }, () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: listenUrl(address, port),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
