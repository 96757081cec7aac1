/**
 * The package as a user gets it. A copy of the sources is packed with `npm pack` (so `prepack`
 * empties dist/ and `prepare` builds it, as `npm publish` would; the copy keeps this from touching
 * the checkout's dist/, which other tests serve the dashboard from), the tarball is installed into
 * a scratch project as `npm install bucketq` would install it, and then, from that project only:
 * the embedded quick start, `require('bucketq')` from CommonJS, a consumer type-checked with
 * `tsc --strict`, `npx bucketq --help`, and `bucketq broker` serving the dashboard. The copy
 * itself, built by `prepare` as `npm install` in a checkout builds it, runs `npx bucketq --help` too.
 *
 * The install reads npm's shared cache (`--offline`); only a cache that lacks some runtime
 * dependency's metadata (a fresh machine) makes it fetch from the registry, once.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..');
/** What the build reads (scripts/prepare.mjs): the rest of the repository plays no part in the package. */
const BUILD_INPUTS = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'bin', 'proto', 'scripts', 'src'];
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

const tmp = mkdtempSync(path.join(tmpdir(), 'bucketq-pack-'));
const app = path.join(tmp, 'app');
let packed: { filename: string; files: Array<{ path: string }>; entryCount: number; size: number };
let broker: ChildProcess | undefined;
let typecheck: ReturnType<typeof runAsync>;

/** npm's own settings of the run that started vitest (npm_config_*, npm_command) stay out of the npm run here. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && !k.startsWith('BUCKETQ_')) env[k] = v;
  return env;
}

function run(cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Like run(), without blocking: for the type check, which takes seconds and runs beside the other tests. */
function runAsync(cmd: string, args: string[], cwd: string): Promise<Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr'>> {
  const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })));
}

function ok(r: Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr'>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Starts `tsc --strict` on a consumer of the installed package (ESM and CommonJS), without
 * skipLibCheck, so errors in the shipped declarations count too.
 */
function startTypecheck() {
  writeFileSync(
    path.join(app, 'consumer.ts'),
    `import { createQueue, createWorker, isQueueError, type PushResult, type WorkerJob } from 'bucketq';
import { createClient, type Client } from 'bucketq/client';
import { createMemoryStore, type StorageDriver } from 'bucketq/storage';
import { createBroker } from 'bucketq/broker';
import { startBrokerServer, type BrokerServer } from 'bucketq/server';
import { apply } from 'bucketq/core';

interface Email { to: string }
const store: StorageDriver = createMemoryStore();
const emails = createQueue<Email>({ store, topic: 'emails' });
const pushed: PushResult = await emails.push({ to: 'ada@example.com' }, { delayMs: 1000 });
// @ts-expect-error: the payload type is enforced
await emails.push({ to: 42 });
const worker = createWorker(emails, async (job: WorkerJob<Email>, signal: AbortSignal) => ({ to: job.payload.to, aborted: signal.aborted }));
await worker.close();
const client: Client = createClient({ url: 'http://127.0.0.1:1', topic: 'emails' });
try { await emails.get('missing'); } catch (err) { if (isQueueError(err, 'NOT_FOUND')) console.log(err.code); }
const startServer: (o: { port: number }) => Promise<BrokerServer> = (o) => startBrokerServer({ listen: '127.0.0.1:' + o.port, store: 'memory://' });
export { pushed, client, createBroker, apply, startServer };
`,
  );
  writeFileSync(
    path.join(app, 'consumer.cts'),
    `import bucketq = require('bucketq');
export const queue = bucketq.createQueue<{ n: number }>({ store: 'memory://', topic: 't' });
`,
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      },
      files: ['consumer.ts', 'consumer.cts'],
    }),
  );
  return runAsync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
}

beforeAll(() => {
  const src = path.join(tmp, 'src');
  for (const input of BUILD_INPUTS) if (existsSync(path.join(ROOT, input))) cpSync(path.join(ROOT, input), path.join(src, input), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  const [result] = JSON.parse(ok(run('npm', ['pack', '--json', '--pack-destination', tmp], src), 'npm pack')) as [typeof packed];
  packed = result!;

  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  const install = (cache: string) => run('npm', ['install', cache, '--no-audit', '--no-fund', '--loglevel=error', path.join(tmp, packed.filename)], app);
  const offline = install('--offline');
  if (offline.status !== 0) ok(install('--prefer-offline'), 'npm install of the tarball');
  typecheck = startTypecheck();
}, 300_000);

afterAll(async () => {
  await typecheck;
  if (broker && broker.exitCode === null && broker.signalCode === null) {
    const exited = new Promise((resolve) => broker!.once('exit', resolve));
    broker.kill('SIGKILL');
    await exited;
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships what runs and nothing else', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/bucketq.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/dashboard/index.html', 'dist/dashboard/manifest.json']) {
      expect(files).toContain(f);
    }
    const manifest = JSON.parse(readFileSync(path.join(app, 'node_modules', 'bucketq', 'dist', 'dashboard', 'manifest.json'), 'utf8')) as { js: string };
    expect(files).toContain(`dist/dashboard/assets/${manifest.js}`);
    expect(files.filter((f) => !/^(dist|bin|proto)\/|^(package\.json|README\.md|LICENSE)$/.test(f))).toEqual([]);
    // No TypeScript sources, tests or maps: src/ is not shipped, so a map would point at nothing.
    expect(files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.map') || /(^|\/)(test|bench|chaos|examples)\//.test(f))).toEqual([]);
    expect(packed.size).toBeLessThan(2_000_000);
  });

  it('installs only its runtime dependencies: no dev tools, benchmark peers, emulators or cloud SDKs', () => {
    const installed = readdirSync(path.join(app, 'node_modules')).flatMap((d) =>
      d.startsWith('@') ? readdirSync(path.join(app, 'node_modules', d)).map((s) => `${d}/${s}`) : [d],
    );
    for (const dep of Object.keys(pkg.dependencies)) expect(installed).toContain(dep);
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => !(d in pkg.dependencies) && !(d in pkg.peerDependencies));
    expect(installed.filter((d) => devOnly.includes(d))).toEqual([]);
    for (const sdk of ['@aws-sdk/client-s3', '@azure/storage-blob', '@azure/identity', '@google-cloud/storage']) expect(installed).not.toContain(sdk);
  });

  it('runs the embedded quick start from an ES module', () => {
    writeFileSync(
      path.join(app, 'quickstart.mjs'),
      `import { createQueue, createWorker } from 'bucketq';
const emails = createQueue({ store: 'file:' + process.argv[2], topic: 'emails' });
await emails.push({ to: 'ada@example.com' });
await emails.push({ to: 'vip@example.com' }, { priority: 10, id: 'welcome-42' });
const sent = [];
const worker = createWorker(emails, async (job) => (sent.push(job.payload.to), { sent: true }), { concurrency: 4 });
await new Promise((resolve) => worker.on('completed', () => sent.length === 2 && resolve()));
await worker.close();
const stats = await emails.stats();
await emails.close();
console.log(JSON.stringify({ sent, completed: stats.counters.completed }));
`,
    );
    const out = ok(run(process.execPath, ['quickstart.mjs', path.join(tmp, 'store')], app), 'the quick start');
    expect(JSON.parse(out)).toEqual({ sent: ['vip@example.com', 'ada@example.com'], completed: 2 });
  });

  it('loads with require() from CommonJS', () => {
    writeFileSync(
      path.join(app, 'require.cjs'),
      `const { createQueue, QueueError } = require('bucketq');
const { createMemoryStore } = require('bucketq/storage');
const { createClient } = require('bucketq/client');
const { version } = require('bucketq/package.json');
console.log([typeof createQueue, typeof QueueError, typeof createMemoryStore, typeof createClient, typeof version].join(' '));
`,
    );
    const r = run(process.execPath, ['require.cjs'], app);
    expect(ok(r, 'require')).toBe('function function function function string\n');
    expect(r.stderr).toBe(''); // not even an ExperimentalWarning
  });

  it('type-checks a consumer with tsc --strict against the installed declarations (ESM and CommonJS)', async () => {
    ok(await typecheck, 'tsc --strict');
  });

  it('`npx bucketq --help` runs the installed command', () => {
    const out = ok(run('npx', ['--offline', 'bucketq', '--help'], app), 'npx bucketq --help');
    expect(out.split('\n')[0]).toMatch(/^bucketq - .*queue/);
  });

  it('`npx bucketq --help` runs in a checkout after its install built dist/ (the README\'s form)', () => {
    // The copy npm pack ran `prepare` in is such a checkout: its own bin, nothing in node_modules/.bin.
    // A cache of its own: npx links the checkout into the cache's _npx/ directory.
    const checkout = path.join(tmp, 'src');
    expect(existsSync(path.join(checkout, 'dist', 'cli', 'main.js'))).toBe(true);
    const out = ok(run('npx', ['--offline', '--cache', path.join(tmp, 'npx-cache'), 'bucketq', '--help'], checkout), 'npx bucketq --help in a checkout');
    expect(out.split('\n')[0]).toMatch(/^bucketq - .*queue/);
  }, 180_000); // npx links the checkout into its cache first: half a minute on a loaded machine

  it('`bucketq broker` serves the dashboard that ships in the package', async () => {
    broker = spawn(path.join(app, 'node_modules', '.bin', 'bucketq'), ['broker', '--store', 'memory://', '--listen', '127.0.0.1:0'], { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<string>((resolve) => broker!.once('exit', (code, signal) => resolve(`broker exited (${code ?? signal}) before listening`)));
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: broker!.stdout! }).on('line', (line) => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) resolve(m[1]!);
      });
      void exited.then((why) => reject(new Error(why)));
    });
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const script = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
    expect(script).toMatch(/^\/dashboard\/assets\/main-\w+\.js$/);
    const asset = await fetch(`${url}${script}`);
    expect(asset.status).toBe(200);
    expect((await asset.text()).length).toBeGreaterThan(10_000);
    expect(existsSync(path.join(app, 'node_modules', 'bucketq', 'dist', 'dashboard', 'index.html'))).toBe(true);
    // SIGKILL: a memory store has nothing to save, and a SIGTERM drain would wait out fetch's keep-alive connection.
    const stopped = new Promise((resolve) => broker!.once('exit', resolve));
    broker.kill('SIGKILL');
    await stopped;
  });
});
