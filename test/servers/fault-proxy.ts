/**
 * An HTTP proxy in front of a real server that lets a test decide, per request, what the client
 * sees: the real answer, a 500 after the request was forwarded (so it took effect), a connection
 * dropped after forwarding, or no answer at all. Headers are forwarded untouched, so SigV4
 * signatures (which cover Host) stay valid.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';

export type ProxyAction = 'pass' | 'forward-then-500' | 'forward-then-drop' | 'hang' | 'refuse-500';

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface FaultProxy {
  endpoint: string;
  /** Every request seen, in order. */
  seen: ProxiedRequest[];
  /** Decides each request's fate (default: pass). */
  decide: (req: ProxiedRequest) => ProxyAction;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const proxy: FaultProxy = { endpoint: '', seen: [], decide: () => 'pass', close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers };
      proxy.seen.push(seen);
      const action = proxy.decide(seen);
      if (action === 'hang') return; // the client's own timeout must end it
      if (action === 'refuse-500') {
        res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>injected, not forwarded</Message></Error>');
        return;
      }
      const out = request({ host: upstream.hostname, port: upstream.port, method: seen.method, path: seen.path, headers: req.headers }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          if (action === 'forward-then-drop') return res.socket?.destroy();
          if (action === 'forward-then-500') {
            res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>injected after forwarding</Message></Error>');
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers).end(Buffer.concat(body));
        });
      });
      out.on('error', () => res.socket?.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
