/**
 * Strangers cannot lock the Redis port (docs/security.md, "Connections"): 1,000 sockets from one
 * address that never send AUTH once filled the client limit for good, and every real client got
 * `max number of clients reached`. Now at most a tenth of the limit waits to authenticate (each
 * newcomer cuts the one that waited longest), an address holds at most half the limit, and a
 * client with the token, connecting while the attack holds its connections, is served within a
 * second. The broker runs with its default limits, but with an AUTH deadline far longer than the
 * test, so that a slow machine's 1,000 connects cannot outlast it and cut the attack before it is
 * measured (the deadline is tested in test/transports/resp-connections.test.ts).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryStore } from '../../src/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { ATTACKER, Attack, attackerAvailable } from './flood.js';

const TOKEN = 'resp-flood-token';
const READ_TOKEN = 'resp-flood-read';
const attackerAddress = await attackerAvailable();

let server: BrokerServer;
let port: number;
const attack = new Attack();
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', respListen: '127.0.0.1:0', token: TOKEN, readToken: READ_TOKEN, resp: { authTimeoutMs: 120_000 } });
  port = Number(new URL(server.respUrl!).port);
});

afterAll(async () => {
  attack.stop();
  for (const c of clients) c.disconnect();
  await server?.close();
});

/** Connects with `password` from 127.0.0.1 and runs `use`; all of it must be done within a second. */
async function withinASecond<T>(password: string, use: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  clients.push(r);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within a second')), 1000)));
  try {
    return await Promise.race([r.connect().then(() => use(r)), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe.runIf(attackerAddress)('a RESP connection flood that never authenticates', () => {
  it('leaves clients with the token (admin and read-only) served within a second', { timeout: 120_000 }, async () => {
    await attack.connect(port, 1000, ATTACKER);
    // What the attack keeps: as many connections as may wait to authenticate (a tenth of 1,000).
    await vi.waitFor(() => expect(attack.open, `attack sockets open (of ${attack.sockets.length} tried)`).toBe(100), { timeout: 60_000, interval: 50 });

    expect(await withinASecond(TOKEN, (r) => r.lpush('flood', 'job'))).toBe(1);
    expect(await withinASecond(READ_TOKEN, (r) => r.llen('flood'))).toBe(1);
    expect(await clients[0]!.rpop('flood')).toBe('job'); // the first client, still connected
    expect(attack.open).toBeGreaterThanOrEqual(98); // the attack was on: the two newcomers cut at most two of its connections

    const metrics = await server.metrics.getSingleMetricAsString('bucketq_connections_rejected_total');
    const count = (reason: string) => Number(new RegExp(`listener="resp",reason="${reason}"} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count('unauthenticated-limit') + count('address-limit')).toBeGreaterThanOrEqual(900);
  });
});
