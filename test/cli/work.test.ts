/**
 * `bucketq work TOPIC -- COMMAND` as a child process against a real broker: exit 0 acks with
 * stdout as the result, non-zero nacks with the end of stderr until the job is dead, SIGTERM lets
 * a running command finish (a second one kills it), a command that cannot start stops the worker.
 * Synchronisation is by output lines and sockets, never by sleeping.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { bucketq, json, start, type Running } from './cli-helpers.js';

let broker: BrokerServer;
let env: NodeJS.ProcessEnv;
const running: Running[] = [];

beforeAll(async () => {
  broker = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
  env = { BUCKETQ_URL: broker.url };
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    r.child.kill('SIGKILL');
    await r.exited;
  }
});

afterAll(async () => {
  await broker?.close();
});

function work(args: string[]): Running {
  const r = start(['work', ...args], { env });
  running.push(r);
  return r;
}

/** Node one-liners run as the job command. */
const ECHO_DOUBLE = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const p=JSON.parse(s);if(typeof p==='string'){process.stdout.write('plain '+p+'\\n');return;}process.stdout.write(JSON.stringify({doubled:p.n*2,job:process.env.BUCKETQ_JOB_ID,attempt:process.env.BUCKETQ_ATTEMPT}));});`;
const FAIL_LOUDLY = `process.stderr.write('x'.repeat(5000)+'\\nthe last words of '+process.env.BUCKETQ_JOB_ID+'\\n');process.exit(3);`;

describe('bucketq work', () => {
  it('runs the command per job: exit 0 acks with stdout (JSON or text) as the result', async () => {
    json(await bucketq(['push', 'ok', '--jobs'], { env, input: '{"id":"a","payload":{"n":1}}\n{"id":"b","payload":{"n":21}}\n{"id":"c","payload":"hi"}\n' }));
    const w = work(['ok', '--concurrency', '2', '--prefetch', '1', '--json', '--', process.execPath, '-e', ECHO_DOUBLE]);
    expect(await w.event((e) => e.event === 'started')).toMatchObject({ topic: 'ok', concurrency: 2, prefetch: 1 });
    const results = await Promise.all(['a', 'b', 'c'].map((id) => w.event((e) => e.event === 'completed' && e.id === id)));
    expect(results.map((e) => e.result)).toEqual([{ doubled: 2, job: 'a', attempt: '1' }, { doubled: 42, job: 'b', attempt: '1' }, 'plain hi']);
    const q = createClient({ url: broker.url, topic: 'ok' });
    expect(await q.stats()).toMatchObject({ pending: 0, claimed: 0, counters: { completed: 3 } });
    await q.close();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.lines.map((l) => JSON.parse(l).event).slice(-2)).toEqual(['draining', 'stopped']);
  });

  it('non-zero exit nacks with the end of stderr; the job is dead after maxAttempts', async () => {
    json(await bucketq(['push', 'bad', '--jobs'], { env, input: '{"id":"f","payload":1,"maxAttempts":2,"backoff":{"type":"fixed","delayMs":0}}\n' }));
    const w = work(['bad', '--json', '--', process.execPath, '-e', FAIL_LOUDLY]);
    const first = await w.event((e) => e.event === 'failed' && e.attempt === 1);
    expect(first).toMatchObject({ id: 'f', state: 'pending' });
    const last = await w.event((e) => e.event === 'failed' && e.attempt === 2);
    expect(last).toMatchObject({ id: 'f', state: 'dead' });
    expect(last.error).toMatch(/^exit 3: …/);
    expect(last.error).toMatch(/the last words of f$/);
    expect(last.error.length).toBeLessThan(2100);
    const q = createClient({ url: broker.url, topic: 'bad' });
    expect(await q.get('f')).toMatchObject({ state: 'dead', attempts: 2, lastError: last.error });
    await q.close();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  });

  it('SIGTERM stops claiming and lets the running command finish; its job is acked', async () => {
    // The job command connects here and finishes only when told to: the test knows it is running.
    const { server, connected } = await gate();
    try {
      const port = (server.address() as AddressInfo).port;
      const script = `const s=require('net').connect(${port},'127.0.0.1');let p='';process.stdin.on('data',d=>p+=d);s.on('data',()=>{process.stdout.write(JSON.stringify({finished:JSON.parse(p)}));s.end();});`;
      json(await bucketq(['push', 'slow', '{"n":1}', '--id', 's1'], { env }));
      json(await bucketq(['push', 'slow', '{"n":2}', '--id', 's2'], { env }));
      const w = work(['slow', '--json', '--', process.execPath, '-e', script]);
      const socket = await connected();
      w.child.kill('SIGTERM');
      expect(await w.event((e) => e.event === 'draining')).toMatchObject({ signal: 'SIGTERM', running: 1 });
      socket.write('go\n');
      expect(await w.event((e) => e.event === 'completed')).toMatchObject({ id: 's1', result: { finished: { n: 1 } } });
      expect(await w.exited).toBe(0);
      expect(w.lines.map((l) => JSON.parse(l).event)).toEqual(['started', 'draining', 'completed', 'stopped']);
      // Nothing was claimed after the signal: s2 waits for another worker.
      const q = createClient({ url: broker.url, topic: 'slow' });
      expect(await q.get('s2')).toMatchObject({ state: 'pending', attempts: 0 });
      await q.close();
    } finally {
      server.close();
    }
  });

  it('a second SIGTERM kills the running command; its job is released (pending, the attempt not counted), as --help says', async () => {
    const { server, connected } = await gate();
    try {
      const port = (server.address() as AddressInfo).port;
      const script = `require('net').connect(${port},'127.0.0.1');process.stderr.write('working\\n');`;
      json(await bucketq(['push', 'stuck', '1', '--id', 'k1'], { env }));
      const w = work(['stuck', '--json', '--', process.execPath, '-e', script]);
      await connected();
      w.child.kill('SIGTERM');
      await w.event((e) => e.event === 'draining');
      w.child.kill('SIGTERM');
      const released = await w.event((e) => e.event === 'released');
      expect(released).toMatchObject({ id: 'k1', attempt: 1, reason: 'stopped by bucketq work (killed by SIGKILL: working)' });
      expect(await w.exited).toBe(0);
      expect(w.lines.map((l) => JSON.parse(l).event)).toEqual(['started', 'draining', 'killing', 'released', 'stopped']);
      const q = createClient({ url: broker.url, topic: 'stuck' });
      expect(await q.get('k1')).toMatchObject({ state: 'pending', attempts: 0 });
      await q.close();
    } finally {
      server.close();
    }
  });

  it('--drain-timeout: a command still running then gets SIGTERM and its job is released', async () => {
    const { server, connected } = await gate();
    try {
      const port = (server.address() as AddressInfo).port;
      const script = `require('net').connect(${port},'127.0.0.1');process.on('SIGTERM',()=>{process.stderr.write('told to stop\\n');process.exit(143);});`;
      json(await bucketq(['push', 'slow-drain', '1', '--id', 'd1'], { env }));
      const w = work(['slow-drain', '--json', '--drain-timeout', '200ms', '--', process.execPath, '-e', script]);
      await connected();
      w.child.kill('SIGINT');
      expect(await w.event((e) => e.event === 'killing')).toMatchObject({ reason: 'drain-timeout', running: 1 });
      expect(await w.event((e) => e.event === 'released')).toMatchObject({ id: 'd1', reason: 'stopped by bucketq work (exit 143: told to stop)' });
      expect(await w.exited).toBe(0);
      const q = createClient({ url: broker.url, topic: 'slow-drain' });
      expect(await q.get('d1')).toMatchObject({ state: 'pending', attempts: 0 });
      await q.close();
    } finally {
      server.close();
    }
  });

  it('a command that is not found or not executable: one line, exit 2, before any job is claimed', async () => {
    json(await bucketq(['push', 'nocmd', '1', '--id', 'n1'], { env }));
    const dir = await mkdtemp(join(tmpdir(), 'bucketq-work-'));
    try {
      const plain = join(dir, 'handler.sh');
      await writeFile(plain, '#!/bin/sh\necho hi\n', { mode: 0o644 });
      const runs = await Promise.all([
        bucketq(['work', 'nocmd', '--', '/nonexistent/command', 'arg'], { env }),
        bucketq(['work', 'nocmd', '--', 'no-such-command-bucketq-test'], { env }),
        bucketq(['work', 'nocmd', '--', plain], { env }),
      ]);
      expect(runs.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
        [2, '', 'bucketq work: cannot run "/nonexistent/command": not found (see bucketq work --help)\n'],
        [2, '', 'bucketq work: cannot run "no-such-command-bucketq-test": not found in PATH (see bucketq work --help)\n'],
        [2, '', `bucketq work: cannot run ${JSON.stringify(plain)}: not executable (chmod +x?) (see bucketq work --help)\n`],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const q = createClient({ url: broker.url, topic: 'nocmd' });
    expect(await q.get('n1')).toMatchObject({ state: 'pending', attempts: 0 });
    await q.close();
  });

  it('bad arguments: one line, exit 2', async () => {
    const runs = await Promise.all([
      bucketq(['work', 'x'], { env }),
      bucketq(['work', 'x', '--'], { env }),
      bucketq(['work', '--', 'cat'], { env }),
      bucketq(['work', 'x', '--concurrency', '0', '--', 'cat'], { env }),
      bucketq(['work', 'x', '--concurrency', '8', '--prefetch', '993', '--', 'cat'], { env }),
      bucketq(['work', 'x', '--prefetch', 'lots', '--', 'cat'], { env }),
    ]);
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(runs.map((r) => r.stderr)).toEqual([
      expect.stringMatching(/give the command after --/),
      expect.stringMatching(/the command after -- is missing/),
      expect.stringMatching(/missing TOPIC/),
      expect.stringMatching(/--concurrency must be a whole number of at least 1/),
      expect.stringMatching(/--prefetch must be at most 992 with --concurrency 8/),
      expect.stringMatching(/--prefetch must be auto or a whole number, got "lots"/),
    ]);
  });
});

/** A TCP server whose first connection is handed to the test when it arrives. */
async function gate(): Promise<{ server: Server; connected: () => Promise<Socket> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const first = once(server, 'connection').then(([s]) => s as Socket);
  return { server, connected: () => first };
}
