/**
 * One port for HTTP/1.1 and cleartext HTTP/2 (src/server/h2c.ts): both are served on one
 * listener, keep-alive HTTP/1.1 connections stay HTTP/1.1, and connections that fail or close
 * before saying anything cost nothing (no crash, nothing left open).
 */
import { createServer, get, Agent } from 'node:http';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDualServer, type DualServer } from '../../src/server/h2c.js';

let dual: DualServer | undefined;
afterEach(async () => {
  dual?.destroy();
  await new Promise<void>((resolve) => dual?.front.close(() => resolve()) ?? resolve());
  dual = undefined;
});

async function start(): Promise<number> {
  const h1 = createServer((req, res) => res.end(`h1 ${req.url}`));
  const h2 = createH2Server((req, res) => res.end(`h2 ${req.url}`));
  dual = createDualServer(h1, h2);
  await new Promise<void>((resolve) => dual!.front.listen(0, '127.0.0.1', resolve));
  return (dual.front.address() as AddressInfo).port;
}

function h1get(port: number, path: string, agent: Agent): Promise<{ text: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ text, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

describe('h2c idle sessions', () => {
  it('are closed after the idle timeout, but not one with a stream in flight', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const h1 = createServer((_req, res) => res.end('h1'));
    const h2 = createH2Server((_req, res) => {
      arrived();
      void held.then(() => res.end('done'));
    });
    dual = createDualServer(h1, h2, { idleTimeoutMs: 300 });
    await new Promise<void>((resolve) => dual!.front.listen(0, '127.0.0.1', resolve));
    const port = (dual.front.address() as AddressInfo).port;
    const busy = h2connect(`http://127.0.0.1:${port}`);
    const answer = new Promise<string>((resolve, reject) => {
      const s = busy.request({ ':path': '/slow' });
      let t = '';
      s.on('data', (d: Buffer) => (t += d.toString()));
      s.on('end', () => resolve(t));
      s.on('error', reject);
    });
    await inFlight;
    // The preface and an empty SETTINGS frame, then nothing: an idle HTTP/2 session.
    const idle = connect(port, '127.0.0.1');
    idle.on('error', () => {});
    idle.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    idle.resume();
    await new Promise<void>((resolve) => idle.once('close', () => resolve()));
    release();
    expect(await answer).toBe('done');
    busy.close();
  });
});

describe('h2c served sessions', () => {
  it('are closed once idle past the timeout after their last stream, however often the client PINGs', async () => {
    const h1 = createServer((_req, res) => res.end('h1'));
    const h2 = createH2Server((_req, res) => res.end('done'));
    dual = createDualServer(h1, h2, { idleTimeoutMs: 300 });
    await new Promise<void>((resolve) => dual!.front.listen(0, '127.0.0.1', resolve));
    const port = (dual.front.address() as AddressInfo).port;
    const session = h2connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const text = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': '/once' });
      let t = '';
      s.on('data', (d: Buffer) => (t += d.toString()));
      s.on('end', () => resolve(t));
      s.on('error', reject);
    });
    expect(text).toBe('done');
    const pings = setInterval(() => !session.destroyed && session.ping(() => {}), 50);
    let goaway = false;
    session.once('goaway', () => (goaway = true));
    try {
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the idle session was not closed within 5 s')), 5000))]);
    } finally {
      clearInterval(pings);
    }
    expect(goaway).toBe(true); // closed gracefully: the client knows nothing of its was dropped
  });
});

describe('HTTP/1.1 and h2c on one port', () => {
  it('serves both, HTTP/1.1 with keep-alive', async () => {
    const port = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await h1get(port, '/a', agent)).toEqual({ text: 'h1 /a', reused: false });
    expect(await h1get(port, '/b', agent)).toEqual({ text: 'h1 /b', reused: true });
    agent.destroy();
    const session = h2connect(`http://127.0.0.1:${port}`);
    for (const path of ['/x', '/y']) {
      const text = await new Promise<string>((resolve, reject) => {
        const s = session.request({ ':path': path });
        let t = '';
        s.on('data', (d: Buffer) => (t += d.toString()));
        s.on('end', () => resolve(t));
        s.on('error', reject);
      });
      expect(text).toBe(`h2 ${path}`);
    }
    session.close();
  });

  it('survives connections reset or closed before their first byte, and after a partial preface', async () => {
    const port = await start();
    const closed = (write?: string, reset = false) =>
      new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          if (write) s.write(write);
          if (reset) s.resetAndDestroy();
          else s.end();
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    await closed(undefined, true);
    await closed('PRI * HT', true);
    await closed('PRI * HT');
    await closed();
    const agent = new Agent({ keepAlive: false });
    expect((await h1get(port, '/still', agent)).text).toBe('h1 /still');
  });
});
