/**
 * `bucketq watch` as a user meets it: a child process reading a real broker's events, as lines
 * on a terminal (--human) and as JSON lines into a pipe; SIGINT ends it with status 0; a broker
 * that cannot be reached or a wrong token is one line on stderr and status 1.
 */
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { api } from '../http-helpers.js';
import { bucketq, start, type Running } from './cli-helpers.js';

let server: BrokerServer;
let call: ReturnType<typeof api>;
const children: Running[] = [];

beforeEach(async () => {
  server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', token: 'tok' });
  call = api(server.url, 'tok');
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  await server.close();
});

/** Starts `bucketq watch ARGS` and resolves once it has connected (its stderr note). */
async function watch(args: string[]): Promise<Running> {
  const w = start(['watch', ...args, '--url', server.url], { env: { BUCKETQ_TOKEN: 'tok' } });
  children.push(w);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: w.child.stderr }).on('line', (l) => {
      if (l.startsWith('bucketq watch: connected to ')) resolve();
    });
    void w.exited.then((code) => reject(new Error(`watch exited (${code}): ${w.stderr.join('\n')}`)));
  });
  return w;
}

describe('bucketq watch', () => {
  it('prints one line per event on a terminal (--human), commits with --all, and exits 0 on SIGINT', async () => {
    const w = await watch(['t', '--human', '--all']);
    expect((await call('POST', '/v1/topics/t/jobs', { id: 'j1', payload: 1 })).status).toBe(201);
    const pushed = await w.line((l) => /\bpushed\b/.test(l));
    expect(pushed).toMatch(/^\d\d:\d\d:\d\d\.\d{3}  t  pushed +j1  pending$/);
    const claim = await call('POST', '/v1/topics/t/claim', { workerId: 'w1', leaseMs: 30_000 });
    expect(await w.line((l) => /\bclaimed\b/.test(l))).toMatch(/  t  claimed +j1  worker w1, attempt 1\/\d+, lease 30s$/);
    await call('POST', '/v1/topics/t/jobs/j1/ack', { workerId: 'w1', lease: claim.body.jobs[0].lease });
    expect(await w.line((l) => /\backed\b/.test(l))).toMatch(/  t  acked +j1  worker w1$/);
    expect(await w.line((l) => /\bcommit\b/.test(l))).toMatch(/  t  commit +-  seq \d+, \d+ requests?, [\d.]+ (B|KiB), \d+ ms$/);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
  });

  it('prints JSON lines into a pipe (and with --json), all topics without a TOPIC', async () => {
    const w = await watch([]);
    await call('POST', '/v1/topics/a/jobs', { id: 'x', payload: 1 });
    await call('POST', '/v1/topics/b/jobs', { id: 'y', payload: 2 });
    const y = await w.event((e) => e.kind === 'pushed' && e.job === 'y');
    expect(y).toMatchObject({ kind: 'pushed', topic: 'b', job: 'y', id: expect.any(String), time: expect.any(Number) });
    const jobs = w.lines.map((l) => JSON.parse(l)).filter((e) => e.kind === 'pushed').map((e) => `${e.topic}/${e.job}`);
    expect(jobs).toEqual(['a/x', 'b/y']);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);

    const j = await watch(['b', '--json', '--last-event-id', y.id]);
    await call('POST', '/v1/topics/b/jobs', { id: 'z', payload: 3 });
    expect(await j.event((e) => e.kind === 'pushed')).toMatchObject({ topic: 'b', job: 'z' });
    j.child.kill('SIGTERM');
    expect(await j.exited).toBe(0);
  });

  it('no commit lines unless asked; --kind picks kinds (commit included when named)', async () => {
    const plain = await watch(['k', '--json']);
    const picked = await watch(['k', '--json', '--kind', 'acked,nacked', '--kind', 'dead']);
    const commits = await watch(['k', '--json', '--kind', 'commit']);
    await call('POST', '/v1/topics/k/jobs', { id: 'k1', payload: 1 });
    const claim = await call('POST', '/v1/topics/k/claim', { workerId: 'w1' });
    await call('POST', '/v1/topics/k/jobs/k1/ack', { workerId: 'w1', lease: claim.body.jobs[0].lease });
    // Once every stream has printed what it prints of the ack's commit, nothing else of it is to come.
    await plain.event((e) => e.kind === 'acked');
    await picked.event((e) => e.kind === 'acked');
    await commits.event((e) => e.kind === 'commit' && e.seq >= 3);
    const kinds = (w: Running) => w.lines.map((l) => JSON.parse(l).kind as string);
    // (The topic's 'leader' event comes with its first commit, or before a stream opened.)
    expect(kinds(plain).filter((k) => k !== 'leader')).toEqual(['pushed', 'claimed', 'acked']);
    expect(kinds(picked)).toEqual(['acked']);
    expect(new Set(kinds(commits))).toEqual(new Set(['commit']));
    for (const w of [plain, picked, commits]) w.child.kill('SIGINT');
  });

  it('--kind is checked against the event kinds, with "did you mean"', async () => {
    const runs = await Promise.all([bucketq(['watch', '--kind', 'ackd']), bucketq(['watch', '--kind', 'acked', '--all']), bucketq(['watch', '--kind', ','])]);
    expect(runs.map((r) => [r.code, r.stderr.trimEnd()])).toEqual([
      [2, 'bucketq watch: --kind: unknown event kind "ackd" (did you mean acked?); the kinds are pushed, claimed, acked, nacked, dead, cancelled, retried, released, leader, commit, reset (see bucketq watch --help)'],
      [2, 'bucketq watch: --all and --kind exclude each other (see bucketq watch --help)'],
      [2, 'bucketq watch: --kind needs at least one kind: pushed, claimed, acked, nacked, dead, cancelled, retried, released, leader, commit, reset (see bucketq watch --help)'],
    ]);
  });

  it('fails with one line and status 1: no broker, a wrong token; --help is a manual', async () => {
    const none = await bucketq(['watch', 't', '--url', 'http://127.0.0.1:1']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('bucketq watch: no broker at http://127.0.0.1:1 (connection refused); is one running? set --url or BUCKETQ_URL\n');

    const denied = await bucketq(['watch', '--url', server.url, '--token', 'wrong']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^bucketq watch: .*\(UNAUTHENTICATED\)\n$/);

    const help = await bucketq(['watch', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^NAME\n    bucketq watch - /);
    expect(help.stdout).toContain('--last-event-id');
  });
});
