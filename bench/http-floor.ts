/**
 * How far one push request is from Node's own floor: W1i's shape (16 keep-alive connections, one
 * job per POST, as fast as answers come) against (a) a broker server on `memory://` in this
 * process and (b) a bare node:http server that reads the body, parses it and answers a small
 * JSON, the least any JSON-over-HTTP server does. The clients run in a child; the figure is this
 * process's CPU per request (user + system), so (a) − (b) is what bucketq adds to a push.
 *
 *   npx tsx bench/http-floor.ts [--requests 20000] [--only bare|bucketq]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/http-floor.ts [options]

One push request per job over 16 keep-alive connections (the clients in a child process), against
a bare node:http server that parses the body and answers, then against a bucketq broker on
memory:// in this process: requests/s and this process's CPU per request.

  --requests N    requests per server (default 20000)
  --only bare|bucketq
                  one server only
  -h, --help      this text
`;
const { values: args, usage, integer } = benchArgs('http-floor', HELP, { requests: { type: 'string', default: '20000' }, only: { type: 'string' }, client: { type: 'string' } });
const N = integer(args.requests, 'requests');
if (args.only !== undefined && args.only !== 'bare' && args.only !== 'bucketq') usage(`--only takes bare or bucketq; got ${JSON.stringify(args.only)}`);
const CONNECTIONS = 16;

if (args.client !== undefined) {
  // The child: 16 connections, each posting one job at a time.
  const url = new URL(args.client);
  const agents = Array.from({ length: CONNECTIONS }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  let sent = 0;
  const post = (agent: http.Agent, body: string) =>
    new Promise<void>((resolve, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = http.request({ host: url.hostname, port: url.port, path: '/v1/topics/floor/jobs', method: 'POST', agent, headers }, (res) => {
        if (res.statusCode !== 201) reject(new Error(`status ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end(body);
    });
  const run = async (count: number) => {
    sent = 0;
    await Promise.all(agents.map(async (a) => {
      while (sent < count) await post(a, `{"payload":{"n":${++sent}}}`);
    }));
  };
  await run(2000); // warm-up
  process.send!('start');
  await run(N);
  process.send!('end');
  process.exit(0);
}

async function bare(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payload: { n: number } };
      const json = JSON.stringify({ id: `j${body.payload.n}`, created: true });
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(json)) });
      res.end(json);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

async function bucketq(): Promise<{ url: string; close(): Promise<void> }> {
  const { startBrokerServer } = await import('../src/server/index.js');
  const server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
  return { url: server.url, close: () => server.close() };
}

async function measure(name: 'bare' | 'bucketq'): Promise<void> {
  const server = name === 'bare' ? await bare() : await bucketq();
  const child = fork(import.meta.filename, ['--client', server.url, '--requests', String(N)], { execArgv: ['--import', 'tsx'] });
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the client exited with ${code}`))));
    child.on('message', (m) => {
      if (m === 'start') {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
        return;
      }
      const cpu = process.cpuUsage(cpu0);
      const s = (performance.now() - t0) / 1000;
      process.stdout.write(`${name.padEnd(8)} ${(N / s).toFixed(0)} requests/s, server CPU ${((cpu.user + cpu.system) / N).toFixed(1)} µs a request (user ${(cpu.user / N).toFixed(1)}, system ${(cpu.system / N).toFixed(1)})\n`);
    });
  });
  await server.close();
}

process.stdout.write(`http-floor: ${N} push requests over ${CONNECTIONS} keep-alive connections, one job each — node ${process.version}\n`);
for (const name of ['bare', 'bucketq'] as const) if (args.only === undefined || args.only === name) await measure(name);
