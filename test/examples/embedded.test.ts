/**
 * `npm run example:embedded` (examples/embedded/main.ts) as a child process, the way a user
 * meets it: on its own store it runs to the end, saying what it does at each step; pointed at the
 * store of a running `bucketq broker` it fails at once, in one line that names the broker's URL
 * and what to do instead (it used to wait three leases, silent, and die with a stack trace).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { brokerPerTest } from '../broker-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'embedded', 'main.ts');
/** tsx by path: the example runs from a scratch directory, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the example in `cwd`; kills it and says so if it has not ended within `limitMs`. */
function runExample(cwd: string, env: NodeJS.ProcessEnv, limitMs: number): Promise<ExampleRun> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BUCKETQ_')) clean[k] = v;
  const child = spawn(process.execPath, ['--import', TSX, EXAMPLE], { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    stderr += `\n[test] still running after ${limitMs} ms: killed`;
    child.kill('SIGKILL');
  }, limitMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('npm run example:embedded', () => {
  let cwd = '';
  beforeEach(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'bucketq-example-'));
  });
  afterEach(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('runs on a store of its own (not npm start\'s ./bucketq-data), one line per step', async () => {
    const run = await runExample(cwd, {}, 50_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/opened topic emails in file:\.\/bucketq-data\/examples; pushing 5 jobs/);
    expect(lines.filter((l) => l.includes('✓'))).toHaveLength(5);
    expect(lines.at(-1)).toMatch(/closed cleanly$/);
  });

  const broker = brokerPerTest('bucketq-example-broker-');

  it('on the topic a running broker leads: fails at once, one line naming its URL and what to do', async () => {
    // A lease far longer than the test: an example that waited for it would be killed below.
    const b = await broker.start(['--store', `file:${broker.dir}`, '--listen', '127.0.0.1:0', '--lease-ms', '600000']);
    const client = createClient({ url: b.url, topic: 'emails' });
    await client.push({ to: 'someone@example.com' });
    await client.close();

    const run = await runExample(cwd, { BUCKETQ_STORE: `file:${broker.dir}` }, 20_000);
    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `example:embedded: topic emails is led by broker ${/bucketq broker (\S+) listening/.exec(b.stdout[0]!)![1]} at ${b.url}: an embedded queue cannot share a topic with a running broker; use createClient({ url: '${b.url}', topic: 'emails' }) to go through it, give this queue another store, or stop that broker (NOT_LEADER)`,
    ]);
    expect(run.stdout).toMatch(/opened topic emails in file:/);
  });
});
