/**
 * The TLS port closes connections that sit idle (no request in flight) for its idle timeout, as
 * the cleartext port does (h2c.ts sniff timeout, node:http's keep-alive timeout): otherwise a few
 * handshakes that never send a request hold every slot of `maxConnections` and the broker
 * refuses everyone else. A connection with a request in flight (a long poll) is never cut.
 */
import { connect as connectH2 } from 'node:http2';
import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTlsServer } from '../../src/server/tls.js';
import type { DualServer } from '../../src/server/h2c.js';
import { makeCert, type TestCert } from '../security/certs.js';

let cert: TestCert;
let dual: DualServer | null = null;
let release: (() => void) | undefined;
beforeAll(async () => {
  cert = await makeCert();
});
afterAll(() => {
  release?.();
  dual?.destroy();
  dual?.front.close();
});

const closed = (s: TLSSocket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

describe('createTlsServer idle timeout', () => {
  it('closes idle connections (h2 and HTTP/1.1) but not one whose request is in flight', { timeout: 10_000 }, async () => {
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrivals = 0;
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    dual = createTlsServer(
      { cert: cert.cert, key: cert.key },
      (_req, res) => {
        if (++arrivals === 2) arrived();
        void held.then(() => res.end('done'));
      },
      { idleTimeoutMs: 300 },
    );
    await new Promise<void>((resolve) => dual!.front.listen(0, '127.0.0.1', resolve));
    const { port } = dual.front.address() as AddressInfo;
    const open = (alpn: string) =>
      new Promise<TLSSocket>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, ca: cert.cert, ALPNProtocols: [alpn] }, () => resolve(s));
        s.on('error', reject);
        s.resume(); // read (and drop) what the server sends, so its closing is seen
      });
    const answer = new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/slow', ca: cert.cert }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    const h2 = connectH2(`https://127.0.0.1:${port}`, { ca: cert.cert });
    const h2Answer = new Promise<string>((resolve, reject) => {
      const stream = h2.request({ ':path': '/slow' });
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => resolve(body));
      stream.on('error', reject);
      stream.end();
    });
    await inFlight;
    const idleH2 = await open('h2');
    const idleH1 = await open('http/1.1');
    // Both idle connections are closed by the server (nothing on this side closes them)...
    await Promise.all([closed(idleH2), closed(idleH1)]);
    // ...while the requests in flight all along (HTTP/1.1 and HTTP/2) still get their answers.
    release!();
    expect(await answer).toBe('done');
    expect(await h2Answer).toBe('done');
    h2.close();
  });
});
