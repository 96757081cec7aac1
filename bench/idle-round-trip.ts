/**
 * What one round trip on loopback costs when the machine is idle between requests, as in W4 (a
 * push into a quiet queue), beside the same requests back to back: the floor under W4 that no
 * change inside the broker can go below. Each row's server runs in a process of its own.
 *
 *   npx tsx bench/idle-round-trip.ts                 # 300 round trips per row, 20 ms apart, then back to back
 *   npx tsx bench/idle-round-trip.ts --gap-ms 5 --trips 1000
 *
 * Rows:
 *   tcp echo          one byte over a kept TCP connection to a Node echo server (no HTTP)
 *   redis PING        ioredis's PING to a throwaway redis-server (BullMQ's transport; skipped
 *                     when redis-server is not installed)
 *   node:http GET     a kept-alive GET to a bare node:http server answering a small JSON
 *   bucketq GET       GET /v1/topics/:topic (its counts) from a `bucketq broker` on memory:// (no commit)
 *   bucketq push      POST /v1/topics/:topic/jobs of one job, memory:// (a commit that writes nothing durable)
 *
 * W4 is two such legs (the push's request, then the parked claim's answer) plus the commit. On
 * the 2-core VM of docs/benchmarks.md an idle node:http round trip took about three times a TCP
 * echo's: the wake-up of an idle process, and the HTTP code run cold.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { startBroker } from './peers/bucketq.js';
import { startRedis } from './peers/redis-server.js';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/idle-round-trip.ts [options]

Loopback round trips on an idle machine (one every --gap-ms), then back to back: TCP echo, Redis
PING (when redis-server is installed), a bare node:http GET, and a bucketq broker's GET and push on
memory://. p50 ms of each.

  --gap-ms N      the pause before each idle round trip (default 20)
  --trips N       round trips per row and column, at least 10 (default 300)
  -h, --help      this text
`;
const { values: args, integer, positive } = benchArgs('idle-round-trip', HELP, {
  'gap-ms': { type: 'string', default: '20' },
  trips: { type: 'string', default: '300' },
  serve: { type: 'string' },
});

if (args.serve !== undefined) {
  // A child: the bare servers, each answering as little as it can.
  const server =
    args.serve === 'tcp'
      ? net.createServer((c) => c.on('data', (d) => c.write(d)))
      : http.createServer((req, res) => {
          req.resume();
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': '11' });
            res.end('{"ok":true}');
          });
        });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
} else {
  await main(positive(args['gap-ms'], 'gap-ms'), integer(args.trips, 'trips', 10));
}

type Trip = () => Promise<unknown>;

async function timed(trip: Trip, gapMs: number, trips: number): Promise<number> {
  for (let i = 0; i < 20; i++) await trip(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < trips; i++) {
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    const t = performance.now();
    await trip();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)]!;
}

async function row(name: string, trip: Trip, gapMs: number, trips: number): Promise<void> {
  const idle = await timed(trip, gapMs, trips);
  const busy = await timed(trip, 0, trips);
  process.stdout.write(`${name.padEnd(16)} idle p50 ${idle.toFixed(3)} ms   back to back p50 ${busy.toFixed(3)} ms\n`);
}

async function child(kind: 'tcp' | 'http'): Promise<{ port: number; stop(): void }> {
  const proc = fork(import.meta.filename, ['--serve', kind], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as number));
    proc.once('exit', (code) => reject(new Error(`the ${kind} server exited (${code})`)));
  });
  return { port, stop: () => proc.kill() };
}

function httpTrip(agent: http.Agent, url: URL, method: 'GET' | 'POST', body?: string): Trip {
  return () =>
    new Promise<void>((resolve, reject) => {
      const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
      const req = http.request(url, { method, agent, headers }, (res) => {
        if (res.statusCode === undefined || res.statusCode >= 300) reject(new Error(`${method} ${url.pathname}: ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
}

async function main(gapMs: number, trips: number): Promise<void> {
  process.stdout.write(`bucketq idle-round-trip — node ${process.version}, ${trips} round trips per row, ${gapMs} ms apart, then back to back\n`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  const tcp = await child('tcp');
  const socket = net.connect(tcp.port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  await row('tcp echo', () => new Promise((r) => (socket.once('data', r), socket.write('x'))), gapMs, trips);
  socket.destroy();
  tcp.stop();

  const redis = await startRedis();
  if (typeof redis === 'string') process.stdout.write(`redis PING       skipped: ${redis}\n`);
  else {
    const { Redis } = await import('ioredis');
    const client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
    await client.connect();
    await row('redis PING', () => client.ping(), gapMs, trips);
    client.disconnect();
    await redis.stop();
  }

  const bare = await child('http');
  await row('node:http GET', httpTrip(agent, new URL(`http://127.0.0.1:${bare.port}/`), 'GET'), gapMs, trips);
  bare.stop();

  const broker = await startBroker('memory://');
  try {
    const push = httpTrip(agent, new URL('/v1/topics/idle/jobs', broker.url), 'POST', '{"payload":{"n":1}}');
    await push(); // the topic exists before it is read
    await row('bucketq GET', httpTrip(agent, new URL('/v1/topics/idle', broker.url), 'GET'), gapMs, trips);
    await row('bucketq push', push, gapMs, trips);
  } finally {
    agent.destroy();
    await broker.stop();
  }
}
