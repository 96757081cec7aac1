/**
 * The Redis protocol against a real `bucketq broker --resp-listen` process, driven by clients
 * bucketq did not write: Debian's redis-cli (installed by test/servers/redis-cli.ts when missing)
 * and ioredis. Lists (push, pop, a BRPOP released by an LPUSH from another connection), the
 * streams scenario (consumer group, XPENDING, redelivery after a lease expires, XAUTOCLAIM, dead
 * after maxAttempts expiries), an ioredis pipeline, AUTH required and refused, drain on SIGTERM.
 *
 * Synchronisation is by replies: a blocked client is seen in CLIENT LIST (flag b) before the push
 * that releases it; lease expiry is awaited by XREADGROUP BLOCK, never by sleeping.
 */
import { Redis } from 'ioredis';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';
import { ensureRedisCli, redisCli } from '../servers/redis-cli.js';

const TOKEN = 's3cret-token';
const LEASE_MS = 1000;

let broker: BrokerProcess;
let dir: string;
let host = '';
let port = '';
let respUrl = '';
const clients: Redis[] = [];

function client(options: { password?: string; connectionName?: string } = { password: TOKEN }): Redis {
  const r = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  r.on('error', () => {}); // failures are asserted on the commands
  clients.push(r);
  return r;
}

/** Resolves once some connection is blocked in a blocking command (CLIENT LIST flag b). */
async function blockedClient(r: Redis, cmd: string): Promise<void> {
  for (;;) {
    const list = (await r.client('LIST')) as string;
    if (list.split('\n').some((l) => l.includes('flags=b') && l.includes(`cmd=${cmd}`))) return;
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bucketq-resp-'));
  broker = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--resp-listen', '127.0.0.1:0', '--resp-lease-ms', String(LEASE_MS)], { BUCKETQ_TOKEN: TOKEN });
  respUrl = /redis protocol on (\S+)/.exec((await broker.line(/redis protocol on /)).line)![1]!;
  ({ hostname: host, port } = new URL(respUrl));
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  if (broker && broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
  await broker?.exited;
  await rm(dir, { recursive: true, force: true });
});

describe('redis-cli', () => {
  let missing: string | null = null;
  beforeAll(async () => {
    missing = await ensureRedisCli();
    if (missing) console.log(`skipping the redis-cli tests: ${missing}`);
  }, 180_000);
  const cli = (args: string[], auth = true) => redisCli(['-h', host, '-p', port, ...(auth ? ['-a', TOKEN, '--no-auth-warning'] : []), ...args]);

  it('needs AUTH, refuses a wrong token', async (t) => {
    if (missing) return t.skip(missing);
    expect((await cli(['LPUSH', 'cli-q', 'x'], false)).stdout).toContain('NOAUTH Authentication required.');
    const wrong = await redisCli(['-h', host, '-p', port, '-a', 'wrong', '--no-auth-warning', 'PING']);
    expect(wrong.stdout + wrong.stderr).toContain('WRONGPASS');
    expect((await cli(['PING'])).stdout).toBe('PONG\n');
  });

  it('pushes and pops a list', async (t) => {
    if (missing) return t.skip(missing);
    expect((await cli(['LPUSH', 'cli-q', 'a', 'b', '{"n":1}'])).stdout).toBe('3\n');
    expect((await cli(['LLEN', 'cli-q'])).stdout).toBe('3\n');
    expect((await cli(['RPOP', 'cli-q'])).stdout).toBe('a\n');
    expect((await cli(['RPOP', 'cli-q', '5'])).stdout).toBe('b\n{"n":1}\n');
    expect((await cli(['RPOP', 'cli-q'])).stdout).toBe('\n');
    expect((await cli(['LLEN', 'cli-q'])).stdout).toBe('0\n');
  });

  it('mass-inserts with --pipe, and speaks RESP3 with -3', async (t) => {
    if (missing) return t.skip(missing);
    const commands = Array.from({ length: 1000 }, (_, i) => `*3\r\n$5\r\nRPUSH\r\n$8\r\ncli-pipe\r\n$${String(i).length}\r\n${i}\r\n`).join('');
    const piped = await redisCli(['-h', host, '-p', port, '-a', TOKEN, '--no-auth-warning', '--pipe'], commands);
    expect(piped.stdout).toContain('errors: 0, replies: 1000');
    expect((await cli(['LLEN', 'cli-pipe'])).stdout).toBe('1000\n');
    expect((await cli(['-3', 'HELLO', '3'])).stdout).toContain('proto 3');
    expect((await cli(['-3', 'RPOP', 'cli-nothing'])).stdout).toBe('\n');
  });

  it('a BRPOP is released by an LPUSH from another connection', async (t) => {
    if (missing) return t.skip(missing);
    const popping = cli(['BRPOP', 'cli-wait', '20']);
    const watcher = client();
    await blockedClient(watcher, 'brpop');
    // LPUSH answers the pending count after its commit: 1, or 0 if the BRPOP took the job first.
    expect((await cli(['LPUSH', 'cli-wait', 'hello'])).stdout).toMatch(/^[01]\n$/);
    expect((await popping).stdout).toBe('cli-wait\nhello\n');
  });

  it('runs a consumer group: XADD, XREADGROUP, XPENDING, XACK', async (t) => {
    if (missing) return t.skip(missing);
    expect((await cli(['XGROUP', 'CREATE', 'cli-s', 'g', '$', 'MKSTREAM'])).stdout).toBe('OK\n');
    const id = (await cli(['XADD', 'cli-s', '*', 'to', 'ada'])).stdout.trim();
    expect(id).toMatch(/^\d+-\d+$/);
    expect((await cli(['XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', '1', 'STREAMS', 'cli-s', '>'])).stdout).toBe(`cli-s\n${id}\nto\nada\n`);
    expect((await cli(['XPENDING', 'cli-s', 'g'])).stdout).toBe(`1\n${id}\n${id}\nc1\n1\n`);
    expect((await cli(['XACK', 'cli-s', 'g', id])).stdout).toBe('1\n');
    expect((await cli(['XACK', 'cli-s', 'g', id])).stdout).toBe('0\n');
    expect((await cli(['XLEN', 'cli-s'])).stdout).toBe('0\n');
  });

  it('answers unknown commands and wrong arity the way Redis does, and INFO', async (t) => {
    if (missing) return t.skip(missing);
    expect((await cli(['FOO', 'bar'])).stdout).toContain("ERR unknown command 'FOO', with args beginning with: 'bar' ");
    expect((await cli(['LPUSH', 'x'])).stdout).toContain("ERR wrong number of arguments for 'lpush' command");
    expect((await cli(['SELECT', '1'])).stdout).toContain('ERR DB index is out of range');
    const info = (await cli(['INFO'])).stdout;
    expect(info).toContain('redis_mode:standalone');
    expect(info).toMatch(/cli-q:pending=0,delayed=0,claimed=0,dead=0,completed=3/);
  });
});

describe('ioredis', () => {
  it('pushes and pops, and a pipeline of many commands lands in order', async () => {
    const r = client();
    expect(await r.lpush('io-q', 'one', 'two')).toBe(2);
    expect(await r.rpop('io-q')).toBe('one');
    const p = r.pipeline();
    for (let i = 0; i < 300; i++) p.rpush('io-p', `v${i}`);
    p.llen('io-p');
    p.rpop('io-p', 300);
    const results = (await p.exec())!;
    expect(results.every(([err]) => err === null)).toBe(true);
    expect(results[300]![1]).toBe(300);
    expect(results[301]![1]).toEqual(Array.from({ length: 300 }, (_, i) => `v${i}`));
    expect(await r.rpop('io-q')).toBe('two');
  });

  it('a BRPOP on one connection is released by an LPUSH on another', async () => {
    const a = client();
    const b = client();
    const popping = a.brpop('io-wait', 'io-other', 20);
    await blockedClient(b, 'brpop');
    await b.lpush('io-other', 'ping');
    expect(await popping).toEqual(['io-other', 'ping']);
  });

  it('needs AUTH and refuses a wrong token', async () => {
    await expect(client({}).lpush('io-q', 'x')).rejects.toThrow('NOAUTH Authentication required.');
    await expect(client({ password: 'nope' }).ping()).rejects.toThrow(/WRONGPASS/);
    expect(await client({ password: TOKEN, connectionName: 'named' }).client('GETNAME')).toBe('named');
  });

  it('streams: read, pending, ack; redelivery to another consumer after the lease expires; XAUTOCLAIM', async () => {
    const r = client();
    const ids = [await r.xadd('io-s', '*', 'n', '1'), await r.xadd('io-s', '*', 'n', '2')];
    const read = (await r.xreadgroup('GROUP', 'g', 'c1', 'COUNT', '10', 'STREAMS', 'io-s', '>')) as Array<[string, Array<[string, string[]]>]>;
    expect(read).toEqual([['io-s', [[ids[0], ['n', '1']], [ids[1], ['n', '2']]]]]);
    expect(await r.xpending('io-s', 'g')).toEqual([2, ids[0], ids[1], [['c1', '2']]]);
    expect(await r.xack('io-s', 'g', ids[0]!, 'no-such-id')).toBe(1);
    const [id, consumer, , deliveries] = ((await r.xpending('io-s', 'g', 'IDLE', 0, '-', '+', 10, 'c1')) as Array<[string, string, number, number]>)[0]!;
    expect([id, consumer, deliveries]).toEqual([ids[1], 'c1', 1]);
    // c1 never acks: once its lease has expired the job is delivered to c2 (BLOCK waits for that).
    const again = (await client().xreadgroup('GROUP', 'g', 'c2', 'BLOCK', String(LEASE_MS * 10), 'STREAMS', 'io-s', '>')) as Array<[string, Array<[string, string[]]>]>;
    expect(again).toEqual([['io-s', [[ids[1], ['n', '2']]]]]);
    expect(await r.xpending('io-s', 'g', '-', '+', 10)).toEqual([[ids[1], 'c2', expect.any(Number), 2]]);
    // c3 takes the live lease over from c2 and acks it.
    const [cursor, claimed] = (await r.xautoclaim('io-s', 'g', 'c3', 0, '0-0', 'COUNT', 10)) as [string, Array<[string, string[]]>];
    expect(cursor).toBe('0-0');
    expect(claimed).toEqual([[ids[1], ['n', '2']]]);
    expect(await r.xpending('io-s', 'g')).toEqual([1, ids[1], ids[1], [['c3', '1']]]);
    expect(await r.xack('io-s', 'g', ids[1]!)).toBe(1);
    expect(await r.xlen('io-s')).toBe(0);
  });

  it('the scenario of every transport: push, claim, heartbeat, ack, nack to dead, retry', async () => {
    const http = api(broker.url, TOKEN);
    expect((await http('PATCH', '/v1/topics/io-flow', { maxAttempts: 2 })).status).toBe(200);
    const r = client();
    const read = async (consumer: string) => ((await r.xreadgroup('GROUP', 'g', consumer, 'COUNT', '1', 'STREAMS', 'io-flow', '>')) as Array<[string, Array<[string, string[]]>]> | null)?.[0]?.[1] ?? [];
    const ok = await r.xadd('io-flow', '*', 'job', 'ok');
    const bad = await r.xadd('io-flow', '*', 'job', 'bad');
    expect(await read('w1')).toEqual([[ok, ['job', 'ok']]]);
    expect(await r.xclaim('io-flow', 'g', 'w1', 0, ok!, 'JUSTID')).toEqual([ok]); // heartbeat: the lease is renewed
    expect(await r.xack('io-flow', 'g', ok!)).toBe(1);
    expect(await read('w1')).toEqual([[bad, ['job', 'bad']]]);
    expect(await r.call('BQ.NACK', 'io-flow', 'g', bad!, 'DELAY', '0', 'ERROR', 'boom')).toBe('pending');
    expect(await read('w2')).toEqual([[bad, ['job', 'bad']]]);
    expect(await r.call('BQ.NACK', 'io-flow', 'g', bad!, 'ERROR', 'boom again')).toBe('dead');
    await expect(r.call('BQ.NACK', 'io-flow', 'g', bad!)).rejects.toThrow(/^LEASE_LOST /);
    const dead = (await http('GET', `/v1/topics/io-flow/jobs/${bad}`)).body;
    expect([dead.state, dead.lastError]).toEqual(['dead', 'boom again']);
    expect(await r.call('BQ.RETRY', 'io-flow', bad!)).toBe('pending');
    expect(await read('w3')).toEqual([[bad, ['job', 'bad']]]);
    expect(await r.xack('io-flow', 'g', bad!)).toBe(1);
    expect(await r.xlen('io-flow')).toBe(0);
  });

  it('streams: a job whose lease expires maxAttempts times is dead', async () => {
    const http = api(broker.url, TOKEN);
    expect((await http('PATCH', '/v1/topics/io-dead', { maxAttempts: 2 })).status).toBe(200);
    const r = client();
    const id = await r.xadd('io-dead', '*', 'job', 'fails');
    const block = String(LEASE_MS * 10);
    expect(await r.xreadgroup('GROUP', 'g', 'c1', 'STREAMS', 'io-dead', '>')).toEqual([['io-dead', [[id, ['job', 'fails']]]]]);
    expect(await client().xreadgroup('GROUP', 'g', 'c2', 'BLOCK', block, 'STREAMS', 'io-dead', '>')).toEqual([['io-dead', [[id, ['job', 'fails']]]]]);
    // The second expiry dead-letters it: a third consumer waits past it and gets nothing.
    expect(await client().xreadgroup('GROUP', 'g', 'c3', 'BLOCK', String(LEASE_MS * 3), 'STREAMS', 'io-dead', '>')).toBeNull();
    const info = (await r.xinfo('STREAM', 'io-dead')) as unknown[];
    expect(info[info.indexOf('dead') + 1]).toBe(1);
    expect((await http('GET', `/v1/topics/io-dead/jobs/${id}`)).body.state).toBe('dead');
  });
});

describe('drain', () => {
  it('SIGTERM answers a waiting BRPOP with nil, closes the connection and exits 0', async () => {
    const r = client();
    const popping = r.brpop('drain-wait', 0);
    await blockedClient(client(), 'brpop');
    broker.child.kill('SIGTERM');
    expect(await popping).toBeNull();
    expect((await broker.exited).code).toBe(0);
    // Nothing listens any more.
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(Number(port), host).on('error', () => resolve(true)).on('connect', () => {
        s.destroy();
        resolve(false);
      });
    });
    expect(refused).toBe(true);
  });
});
