/**
 * The RESP server in process (memory store, fake clock): RESP3, the limits (pipeline depth,
 * connections, array length), the error table, the stream semantics on top of leases (idle times,
 * XCLAIM of live leases only, expiry and redelivery) and the drain. Time moves only by
 * `clock.advance`; replies are awaited, never slept for.
 */
import { Redis } from 'ioredis';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/clock.js';
import { QueueError } from '../../src/errors.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { respErrorText } from '../../src/transports/shared/index.js';
import { encode } from '../../src/transports/resp/writer.js';

const LEASE_MS = 1000;
let clock: FakeClock;
let server: BrokerServer;
const redises: Redis[] = [];
const sockets: Socket[] = [];

async function start(resp: NonNullable<Parameters<typeof startBrokerServer>[0]>['resp'] = {}): Promise<void> {
  clock = new FakeClock(Date.UTC(2026, 0, 1));
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', respListen: '127.0.0.1:0', resp: { streamLeaseMs: LEASE_MS, ...resp }, brokerOptions: { clock } });
}

function redis(): Redis {
  const r = new Redis(server.respUrl!, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  redises.push(r);
  return r;
}

/** A raw connection: `send` commands, `until` a pattern is in what came back, `closed` when the server hung up. */
function raw() {
  const { port } = new URL(server.respUrl!);
  const s = connect(Number(port), '127.0.0.1');
  sockets.push(s);
  let got = '';
  const waiters: Array<() => void> = [];
  s.on('data', (d) => {
    got += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<string>((resolve) => s.on('close', () => resolve(got)));
  s.on('close', () => {
    for (const w of waiters.splice(0)) w();
  });
  s.on('error', () => {});
  return {
    send: (...commands: string[][]) => s.write(Buffer.concat(commands.map((c) => encode(c)))),
    write: (text: string) => s.write(text),
    async until(re: RegExp): Promise<string> {
      while (!re.test(got)) {
        if (s.destroyed) throw new Error(`closed before ${re}: ${JSON.stringify(got)}`);
        await new Promise<void>((r) => waiters.push(r));
      }
      return got;
    },
    closed,
  };
}

afterEach(async () => {
  for (const r of redises.splice(0)) r.disconnect();
  for (const s of sockets.splice(0)) s.destroy();
  await server.close();
});

describe('protocol', () => {
  // Every connection comes from 127.0.0.1: the per-address share (half, by default) is lifted to the whole limit.
  beforeEach(() => start({ maxPipeline: 3, maxConnections: 3, maxConnectionsPerAddress: 3, reader: { maxArgs: 10 } }));

  it('HELLO 3 switches to RESP3: maps, nulls; HELLO 4 is NOPROTO', async () => {
    const c = raw();
    c.send(['HELLO', '4'], ['HELLO', '3'], ['RPOP', 'empty'], ['XPENDING', 'empty', 'g']);
    const got = await c.until(/_\r\n\*4\r\n:0\r\n_\r\n_\r\n_\r\n$/);
    expect(got.startsWith('-NOPROTO unsupported protocol version\r\n%8\r\n$6\r\nserver\r\n$7\r\nbucketq\r\n')).toBe(true);
  });

  it('answers PING, ECHO, SELECT, CLIENT, COMMAND the way clients expect', async () => {
    const r = redis();
    expect(await r.ping()).toBe('PONG');
    expect(await r.echo('hi')).toBe('hi');
    expect(await r.select(0)).toBe('OK');
    await expect(r.select(1)).rejects.toThrow('ERR DB index is out of range');
    expect(await r.call('CLIENT', 'SETINFO', 'lib-name', 'x')).toBe('OK');
    expect(await r.client('SETNAME', 'me')).toBe('OK');
    expect(await r.client('GETNAME')).toBe('me');
    expect(await r.command('COUNT')).toBeGreaterThan(20);
    expect(await r.command('DOCS')).toEqual([]);
    const [lpush] = (await r.command('INFO', 'lpush')) as unknown[][];
    expect(lpush!.slice(0, 2)).toEqual(['lpush', -3]);
    await expect(r.call('NOPE', 'a', 'b')).rejects.toThrow("ERR unknown command 'NOPE', with args beginning with: 'a' 'b' ");
    await expect(r.call('LLEN')).rejects.toThrow("ERR wrong number of arguments for 'llen' command");
    await expect(r.call('LLEN', 'bad/key')).rejects.toThrow('ERR bucketq: a key is a topic name');
    await expect(r.lpush('..', 'x')).rejects.toThrow('is not allowed');
  });

  it('a connection past the pipeline depth gets an error after its earlier replies and is closed; others are served', async () => {
    const other = redis();
    expect(await other.ping()).toBe('PONG');
    const c = raw();
    c.send(['LLEN', 'a'], ['LLEN', 'a'], ['LLEN', 'a'], ['LLEN', 'a'], ['LLEN', 'a']);
    expect(await c.closed).toBe(':0\r\n:0\r\n:0\r\n-ERR bucketq: more than 3 replies pending on this connection (pipeline too deep); closing\r\n');
    expect(await other.llen('a')).toBe(0);
  });

  it('a frame past a limit is a protocol error and a disconnect', async () => {
    const c = raw();
    c.write(`*11\r\n`);
    expect(await c.closed).toBe('-ERR Protocol error: invalid multibulk length\r\n');
    const d = raw();
    d.write('*1\r\n:1\r\n');
    expect(await d.closed).toBe("-ERR Protocol error: expected '$', got ':'\r\n");
  });

  it('a connection past the client limit is refused; the others go on', async () => {
    const a = redis();
    const b = redis();
    await Promise.all([a.ping(), b.ping()]);
    const c = raw();
    c.send(['PING']);
    await c.until(/PONG/);
    const d = raw();
    expect(await d.closed).toBe('-ERR max number of clients reached\r\n');
    expect(await a.ping()).toBe('PONG');
  });
});

describe('the error table', () => {
  it('maps codes to RESP prefixes; NOT_LEADER names the leader first', () => {
    expect(respErrorText(new QueueError('NOT_LEADER', 'topic t is led elsewhere', { details: { leader: 'http://10.0.0.2:8080' } }))).toBe('NOT_LEADER http://10.0.0.2:8080 topic t is led elsewhere');
    expect(respErrorText(new QueueError('NOT_LEADER', 'led by an embedded broker', { details: { leader: '' } }))).toBe('NOT_LEADER ? led by an embedded broker');
    expect(respErrorText(new QueueError('LEASE_LOST', 'x'))).toBe('LEASE_LOST x');
    expect(respErrorText(new QueueError('INVALID_ARGUMENT', 'bad'))).toBe('ERR bad');
    expect(respErrorText(new QueueError('INTERNAL', 'secret internals'))).toBe('ERR internal error: the broker failed; see its log');
  });
});

describe('streams on top of leases', () => {
  beforeEach(() => start());

  it('XADD: explicit ids are job ids (idempotent), * ids increase, trimming is refused, NOMKSTREAM', async () => {
    const r = redis();
    expect(await r.xadd('s', '5', 'a', '1')).toBe('5-0');
    expect(await r.xadd('s', '5-0', 'a', '2')).toBe('5-0');
    expect(await r.xlen('s')).toBe(1);
    const [x, y] = [await r.xadd('s', '*', 'a', '1'), await r.xadd('s', '*', 'a', '1')];
    expect(x).toBe(`${clock.now()}-0`);
    expect(y).toBe(`${clock.now()}-1`);
    await expect(r.xadd('s', 'MAXLEN', '10', '*', 'a', '1')).rejects.toThrow('not trimmed');
    await expect(r.xadd('s', 'bad', 'a', '1')).rejects.toThrow('Invalid stream ID');
    expect(await r.xadd('never-made', 'NOMKSTREAM', '*', 'a', '1')).toBeNull();
    expect(await r.xdel('s', '5-0', 'nope')).toBe(1);
    const odd = await r.xadd('o', '*', '__proto__', 'p', 'constructor', 'c');
    expect(await r.xreadgroup('GROUP', 'g', 'c', 'STREAMS', 'o', '>')).toEqual([['o', [[odd, ['__proto__', 'p', 'constructor', 'c']]]]]);
  });

  it('idle times, XCLAIM of a live lease only when idle enough, expiry, redelivery, history', async () => {
    const r = redis();
    const id = await r.xadd('s', '*', 'k', 'v');
    expect(await r.xreadgroup('GROUP', 'g', 'c1', 'STREAMS', 's', '>')).toEqual([['s', [[id, ['k', 'v']]]]]);
    expect(await r.xreadgroup('GROUP', 'g', 'c1', 'STREAMS', 's', '0')).toEqual([['s', [[id, ['k', 'v']]]]]);
    await clock.advance(400);
    expect(await r.xpending('s', 'g', 'IDLE', 300, '-', '+', 10)).toEqual([[id, 'c1', 400, 1]]);
    expect(await r.xpending('s', 'g', 'IDLE', 500, '-', '+', 10)).toEqual([]);
    expect(await r.xclaim('s', 'g', 'c2', 500, id!)).toEqual([]);
    expect(await r.xclaim('s', 'g', 'c2', 300, id!, 'JUSTID')).toEqual([id]);
    expect(await r.xpending('s', 'g', '-', '+', 10)).toEqual([[id, 'c2', 0, 1]]);
    // The takeover renewed the lease: c1's original expiry passes and c2 still holds it.
    await clock.advance(LEASE_MS - 100);
    expect(await r.xpending('s', 'g')).toEqual([1, id, id, [['c2', '1']]]);
    await clock.advance(200);
    expect(await r.xpending('s', 'g')).toEqual([0, null, null, null]);
    expect(await r.xautoclaim('s', 'g', 'c3', 0, '0')).toEqual(['0-0', [], []]);
    expect(await r.xack('s', 'g', id!)).toBe(0);
    expect(await r.xreadgroup('GROUP', 'g', 'c3', 'STREAMS', 's', '>')).toEqual([['s', [[id, ['k', 'v']]]]]);
    expect(await r.xpending('s', 'g', '-', '+', 10)).toEqual([[id, 'c3', 0, 2]]);
    expect(await r.xack('s', 'g', id!)).toBe(1);
  });

  it('XREADGROUP BLOCK waits on the clock; NOACK acks at once; XGROUP and XINFO answer', async () => {
    const r = redis();
    expect(await r.xgroup('CREATE', 's', 'g', '$', 'MKSTREAM')).toBe('OK');
    await expect(r.xgroup('CREATE', 's', 'g', '$')).rejects.toThrow('BUSYGROUP');
    const waiting = r.xreadgroup('GROUP', 'g', 'c', 'BLOCK', '5000', 'STREAMS', 's', '>');
    await clock.advance(5000);
    expect(await waiting).toBeNull();
    const id = await r.xadd('s', '*', 'k', 'v');
    expect(await r.xreadgroup('GROUP', 'g', 'c', 'NOACK', 'STREAMS', 's', '>')).toEqual([['s', [[id, ['k', 'v']]]]]);
    expect(await r.xpending('s', 'g')).toEqual([0, null, null, null]);
    const info = (await r.xinfo('STREAM', 's')) as unknown[];
    expect(info.slice(0, 2)).toEqual(['length', 0]);
    expect(info[info.indexOf('completed') + 1]).toBe(1);
  });
});

describe('blocking reads on several keys', () => {
  beforeEach(() => start());

  it('XREADGROUP BLOCK on two keys answers with the one that got a job; BLPOP likewise', async () => {
    const r = redis();
    const reading = r.xreadgroup('GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 'a', 'b', '>', '>');
    const other = redis();
    await waitBlocked(other, 'xreadgroup');
    const id = await other.xadd('b', '*', 'k', 'v');
    expect(await reading).toEqual([['b', [[id, ['k', 'v']]]]]);
    const popping = r.blpop('x', 'y', 0);
    await waitBlocked(other, 'blpop');
    await other.rpush('y', 'v');
    expect(await popping).toEqual(['y', 'v']);
    expect(await other.llen('x')).toBe(0);
  });
});

async function waitBlocked(r: Redis, cmd: string): Promise<void> {
  while (!((await r.client('LIST')) as string).split('\n').some((l) => l.includes('flags=b') && l.includes(`cmd=${cmd}`)));
}

describe('drain', () => {
  beforeEach(() => start());

  it('close() answers every command of a pipeline in flight, then closes the connection', async () => {
    const c = raw();
    const pushes = Array.from({ length: 50 }, (_, i) => ['LPUSH', 'd', `v${i}`]);
    c.send(...pushes);
    await c.until(/^:/);
    const closing = server.close();
    const got = await c.closed;
    await closing;
    expect(got.match(/:\d+\r\n/g)).toHaveLength(50);
  });
});
