/**
 * Memory of a broker process under a burst of large authenticated pushes (issue 13, item 6):
 * N concurrent pushes of one payload of SIZE MiB each (default 40 × 9 MiB), all at once, each on
 * its own connection. Reports the broker's memory (process.memoryUsage(): rss, V8 heap used and
 * total, external buffers) before, at its peak during the burst (sampled every 50 ms), just after,
 * 10 s later with nothing happening, and after a forced full GC; then how the pushes were answered (201, 503 with Retry-After, other),
 * retries the refused ones as a client would (after Retry-After) until every job is in, and checks
 * that the topic holds exactly the jobs that were acknowledged: nothing accepted is lost.
 *
 *   npx tsx bench/body-burst.ts
 *   npx tsx bench/body-burst.ts --pushes 40 --mib 9 --budget-mib 64   # --budget-mib: --max-body-bytes-in-flight
 */
import { fork } from 'node:child_process';
import { request, Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { benchArgs } from './bench-args.js';

const HELP = `npx tsx bench/body-burst.ts [options]

A broker process's memory under a burst of large authenticated pushes, all at once, each on its
own connection; then the refused ones retried until every job is in, and the topic checked.

  --pushes N        concurrent pushes (default 40)
  --mib N           each push's payload, MiB (default 9)
  --budget-mib N    the broker's --max-body-bytes-in-flight, MiB (default: the broker's)
  -h, --help        this text
`;
const { values: args, integer } = benchArgs('body-burst', HELP, { pushes: { type: 'string', default: '40' }, mib: { type: 'string', default: '9' }, 'budget-mib': { type: 'string' } });
const PUSHES = integer(args.pushes, 'pushes');
const MIB = integer(args.mib, 'mib');
const TOKEN = 'burst-token';
const MiB = 1024 * 1024;

const dir = await mkdtemp(join(tmpdir(), 'bucketq-burst-'));
const options = {
  store: `file:${dir}`,
  listen: '127.0.0.1:0',
  token: TOKEN,
  ...(args['budget-mib'] !== undefined ? { maxBodyBytesInFlight: integer(args['budget-mib'], 'budget-mib') * MiB } : {}),
};
const child = fork(resolve(import.meta.dirname, 'body-burst-broker.ts'), [JSON.stringify(options)], {
  execArgv: ['--expose-gc', '--import', 'tsx'],
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
});
const url = await new Promise<string>((ok) => createInterface({ input: child.stdout! }).once('line', ok));

type Mem = NodeJS.MemoryUsage;
let nextId = 0;
const waiting = new Map<number, (m: Mem) => void>();
child.on('message', (m: { id: number; mem: Mem }) => waiting.get(m.id)?.(m.mem));
const ask = (op: 'mem' | 'gc') =>
  new Promise<Mem>((ok) => {
    const id = nextId++;
    waiting.set(id, ok);
    child.send({ id, op });
  });
const mb = (n: number) => `${(n / MiB).toFixed(0)} MB`;
const show = (label: string, m: Mem) => console.log(`| ${label} | ${mb(m.rss)} | ${mb(m.heapUsed)} | ${mb(m.heapTotal)} | ${mb(m.external)} | ${mb(m.arrayBuffers)} |`);

const payload = 'x'.repeat(MIB * MiB - 20);
const agent = new Agent({ keepAlive: false, maxSockets: PUSHES });
function push(id: string): Promise<{ status: number; retryAfter?: string; error?: string }> {
  const body = Buffer.from(JSON.stringify({ id, payload }));
  return new Promise((ok) => {
    const req = request(`${url}/v1/topics/burst/jobs`, { method: 'POST', agent, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => ok({ status: res.statusCode!, ...(res.headers['retry-after'] ? { retryAfter: res.headers['retry-after'] } : {}) }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => ok({ status: 0, error: err.code ?? err.message }));
    req.end(body);
  });
}

console.log(`${PUSHES} concurrent pushes of ${MIB} MiB, broker ${options.maxBodyBytesInFlight !== undefined ? `--max-body-bytes-in-flight ${args['budget-mib']}MiB` : 'defaults'}, node ${process.version}`);
console.log('| broker memory | rss | heap used | heap total | external | array buffers |');
console.log('|---|---|---|---|---|---|');
show('before', await ask('gc'));

let peak: Mem | null = null;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    const m = await ask('mem');
    if (!peak || m.rss > peak.rss) peak = m;
    await new Promise((r) => setTimeout(r, 50));
  }
})();
const started = Date.now();
const ids = Array.from({ length: PUSHES }, (_, i) => `job-${i}`);
const first = await Promise.all(ids.map(push));
const burstMs = Date.now() - started;
sampling = false;
await sampler;
show('peak during the burst', peak!);
show('just after the burst', await ask('mem'));
await new Promise((r) => setTimeout(r, 10_000));
show('10 s later, idle', await ask('mem'));
show('then after a full GC', await ask('gc'));

const tally = new Map<string, number>();
for (const r of first) {
  const k = r.status === 0 ? `error ${r.error}` : r.retryAfter ? `${r.status} (Retry-After ${r.retryAfter})` : String(r.status);
  tally.set(k, (tally.get(k) ?? 0) + 1);
}
console.log(`\nburst answered in ${burstMs} ms: ${[...tally].map(([k, n]) => `${n} × ${k}`).join(', ')}`);

// Retry what was refused, as a client does (every push carries its id, so a retry cannot duplicate).
let left = ids.filter((_, i) => first[i]!.status !== 201 && first[i]!.status !== 200);
let rounds = 0;
while (left.length > 0 && rounds < 50) {
  rounds++;
  await new Promise((r) => setTimeout(r, 1000));
  const out = await Promise.all(left.map(push));
  left = left.filter((_, i) => out[i]!.status !== 201 && out[i]!.status !== 200);
}
show('after the retries, full GC', await ask('gc'));
const stats = await fetch(`${url}/v1/topics/burst`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.json() as Promise<{ pending: number }>);
console.log(`\nretried the refused in ${rounds} round(s); ${left.length} still refused; the topic holds ${stats.pending} pending jobs of ${PUSHES} pushed (${stats.pending === PUSHES - left.length ? 'none lost, none doubled' : 'MISMATCH'})`);

child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await rm(dir, { recursive: true, force: true });
