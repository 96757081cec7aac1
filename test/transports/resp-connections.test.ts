/**
 * Who may hold a connection of the Redis port (docs/security.md, "Connections"): the AUTH deadline
 * when the broker has a token, the idle timeout (a BLPOP waiting for a job is not idle), the cap on
 * connections waiting to authenticate (the one that waited longest makes room), and connections
 * per client address. Each refusal or cut is counted in bucketq_connections_rejected_total.
 *
 * The timeouts are a few hundred milliseconds here; a connection opened later than another and
 * cut by the same timeout shows that the other has outlived it too, without sleeping.
 */
import { Redis } from 'ioredis';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer, type BrokerServerOptions } from '../../src/server/broker-server.js';
import { makeCert } from '../security/certs.js';
import { ATTACKER, attackerAvailable } from '../security/flood.js';

const TOKEN = 'resp-conn-token';
/** Far below the defaults (10 s, 5 min), far above what one exchange takes. */
const SHORT_MS = 300;
const CUT_WITHIN_MS = 5000;
const attackerAddress = await attackerAvailable();

let server: BrokerServer | null = null;
const sockets: Socket[] = [];
const redises: Redis[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of redises.splice(0)) r.disconnect();
  await server?.close();
  server = null;
});

async function start(resp: BrokerServerOptions['resp'], token?: string, tls?: { tlsCert: string; tlsKey: string }): Promise<number> {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', respListen: '127.0.0.1:0', resp, ...(token ? { token } : {}), ...tls });
  return Number(new URL(server.respUrl!).port);
}

/** A raw connection: what came back so far, `closed` with all of it once the server hung up. */
function raw(port: number, localAddress = '127.0.0.1') {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => {});
  sockets.push(s);
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString()));
  const closed = new Promise<string>((resolve) => s.on('close', () => resolve(got)));
  return {
    socket: s,
    send: (text: string) => s.write(text),
    got: () => got,
    /** Fails past CUT_WITHIN_MS: the server must have cut it by then. */
    cut: () => Promise.race([closed, new Promise<string>((_, reject) => setTimeout(() => reject(new Error(`still open after ${CUT_WITHIN_MS} ms; got ${JSON.stringify(got)}`)), CUT_WITHIN_MS).unref())]),
  };
}

function redis(port: number, password?: string): Redis {
  const r = new Redis({ host: '127.0.0.1', port, ...(password ? { password } : {}), maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  r.on('error', () => {});
  redises.push(r);
  return r;
}

async function rejected(reason: string): Promise<number> {
  const text = await server!.metrics.getSingleMetricAsString('bucketq_connections_rejected_total');
  return Number(new RegExp(`listener="resp",reason="${reason}"} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe('the AUTH deadline (authTimeoutMs)', () => {
  it('cuts a connection that has not authenticated in time, with an error; an authenticated one stays', async () => {
    const port = await start({ authTimeoutMs: SHORT_MS }, TOKEN);
    const client = redis(port, TOKEN);
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    const silent = raw(port);
    expect(await silent.cut()).toBe(`-NOAUTH Authentication required: no AUTH within ${SHORT_MS} ms of connecting; closing the connection\r\n`);
    // NOAUTH to commands before AUTH, then the same cut.
    const rude = raw(port);
    rude.send('PING\r\n');
    expect(await rude.cut()).toMatch(/^-NOAUTH Authentication required\.\r\n-NOAUTH Authentication required: no AUTH within/);
    // Connected before both, authenticated: still served.
    expect(await client.lpush('auth-deadline', 'x')).toBe(1);
    expect(await rejected('auth-timeout')).toBe(2);
  });

  it('over TLS, bounds the handshake the same way', async () => {
    const cert = await makeCert();
    const port = await start({ authTimeoutMs: SHORT_MS }, TOKEN, { tlsCert: cert.cert, tlsKey: cert.key });
    expect(await raw(port).cut()).toBe(''); // no ClientHello: no TLS, so no words either
    expect(await rejected('auth-timeout')).toBe(1);
  });

  it('does not apply without a token (everyone is authenticated)', async () => {
    const port = await start({ authTimeoutMs: SHORT_MS, idleTimeoutMs: 3 * SHORT_MS });
    // The idle timeout (3x longer) is what ends it, silently; no AUTH deadline came first.
    expect(await raw(port).cut()).toBe('');
    expect(await rejected('auth-timeout')).toBe(0);
    expect(await rejected('idle-timeout')).toBeGreaterThanOrEqual(1);
  });
});

describe('the idle timeout (idleTimeoutMs)', () => {
  it('closes an idle connection without a word, but not one whose BLPOP is waiting', async () => {
    const port = await start({ idleTimeoutMs: SHORT_MS });
    const waiting = redis(port);
    await waiting.connect();
    const popped = waiting.blpop('idle-list', 0);
    // Two idle connections, one after the other, each cut after the idle timeout: by the end the
    // BLPOP has waited longer than that, whenever exactly the server received it.
    for (let i = 0; i < 2; i++) {
      const idle = raw(port);
      idle.send('PING\r\n');
      expect(await idle.cut()).toBe('+PONG\r\n');
    }
    const pusher = redis(port);
    await pusher.connect();
    await pusher.lpush('idle-list', 'job');
    expect(await popped).toEqual(['idle-list', 'job']);
    expect(await waiting.ping()).toBe('PONG');
  });

  it('0 turns it off (it does not mean: at once)', async () => {
    const port = await start({ idleTimeoutMs: 0, authTimeoutMs: SHORT_MS }, TOKEN);
    const client = redis(port, TOKEN);
    await client.connect();
    await raw(port).cut(); // cut at its AUTH deadline, SHORT_MS after `client` connected
    expect(await client.ping()).toBe('PONG');
  });
});

describe('connections waiting to authenticate (maxUnauthenticated)', () => {
  /** A raw connection that has sent a command and had its NOAUTH: the server has counted it. */
  async function stranger(port: number) {
    const c = raw(port);
    c.send('PING\r\n');
    await expect.poll(() => c.got()).toContain('NOAUTH');
    return c;
  }

  it('past the cap, a newcomer cuts the one that waited longest', async () => {
    const port = await start({ maxUnauthenticated: 2 }, TOKEN);
    const client = redis(port, TOKEN);
    await client.connect();
    const first = await stranger(port);
    const second = await stranger(port);
    await stranger(port);
    expect(await first.cut()).toMatch(/-ERR bucketq: too many connections are waiting to authenticate; this one waited longest and is closed\r\n$/);
    await stranger(port);
    expect(await second.cut()).toMatch(/waited longest/);
    expect(await client.ping()).toBe('PONG'); // authenticated: never counted among them
    expect(await rejected('unauthenticated-limit')).toBe(2);
  });

  it('with every slot taken, a newcomer cuts the unauthenticated one that waited longest instead of being refused', async () => {
    const port = await start({ maxConnections: 3, maxConnectionsPerAddress: 10, maxUnauthenticated: 2 }, TOKEN);
    const client = redis(port, TOKEN);
    await client.connect();
    const first = await stranger(port);
    const second = await stranger(port);
    const admin = redis(port, TOKEN); // the fourth connection of three
    await admin.connect();
    expect(await admin.ping()).toBe('PONG');
    expect(await first.cut()).toMatch(/waited longest/);
    expect(second.socket.destroyed).toBe(false);
    expect(await client.ping()).toBe('PONG');
    expect(await rejected('unauthenticated-limit')).toBe(1);
    // Only authenticated ones and one stranger left: the next one past the limit is refused as before.
    const third = await stranger(port);
    expect(await second.cut()).toMatch(/waited longest/);
    expect(third.socket.destroyed).toBe(false);
  });
});

describe.runIf(attackerAddress)('connections per client address (maxConnectionsPerAddress)', () => {
  it('past the limit an address gets an error and is closed; other addresses are served', async () => {
    const port = await start({ maxConnectionsPerAddress: 2 });
    const held = [raw(port, ATTACKER), raw(port, ATTACKER)];
    for (const c of held) c.send('PING\r\n');
    for (const c of held) await expect.poll(() => c.got()).toBe('+PONG\r\n');
    expect(await raw(port, ATTACKER).cut()).toBe('-ERR max number of clients reached for this address (2 connections)\r\n');
    const other = redis(port);
    await other.connect();
    expect(await other.ping()).toBe('PONG');
    expect(await rejected('address-limit')).toBe(1);
  });
});
