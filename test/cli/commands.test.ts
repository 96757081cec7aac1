/**
 * The client commands of the CLI, run as child processes against a real broker on a `file:` store:
 * what they print (JSON into a pipe, text with --human), their exit status, one line on stderr for
 * every failure, and the --help of each.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { freePort } from '../client/proxy.js';
import { bucketq, json, type Run } from './cli-helpers.js';

let dir = '';
let store = '';
let broker: BrokerServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bucketq-cli-'));
  store = `file:${dir}`;
  broker = await startBrokerServer({ store, listen: '127.0.0.1:0' });
  env = { BUCKETQ_URL: broker.url };
});

afterAll(async () => {
  await broker?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A failure: a non-zero exit and exactly one line on stderr. */
function failed(run: Run, code: number, pattern: RegExp): void {
  expect(run.stdout).toBe('');
  expect(run.stderr.endsWith('\n')).toBe(true);
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
  expect(run.code).toBe(code);
}

const COMMANDS = ['push', 'claim', 'ack', 'nack', 'heartbeat', 'get', 'cancel', 'retry', 'pause', 'resume', 'stats', 'topics', 'inspect', 'work'];

describe('bucketq client commands', () => {
  it('push: a JSON argument, with options; an id twice adds nothing', async () => {
    const first = json(await bucketq(['push', 'p1', '{"to":"ada"}', '--id', 'a1', '--priority', '3'], { env }));
    expect(first).toEqual({ id: 'a1', created: true });
    expect(json(await bucketq(['push', 'p1', '{"to":"bob"}', '--id', 'a1'], { env }))).toEqual({ id: 'a1', created: false });
    const gen = json(await bucketq(['push', 'p1', '"plain string"', '--delay', '60s'], { env }));
    expect(gen).toMatchObject({ created: true, id: expect.any(String) });
    const human = await bucketq(['push', 'p1', '1', '--id', 'a1', '--human'], { env });
    expect(human).toMatchObject({ code: 0, stdout: 'a1 exists already: nothing added\n' });

    const q = createClient({ url: broker.url, topic: 'p1' });
    expect(await q.get('a1')).toMatchObject({ payload: { to: 'ada' }, priority: 3, state: 'pending' });
    expect(await q.get(gen.id)).toMatchObject({ payload: 'plain string', state: 'delayed' });
    await q.close();
  });

  it('push: JSON lines from stdin, in batches, in order; --jobs lines with ids are idempotent', async () => {
    const input = Array.from({ length: 1234 }, (_, n) => JSON.stringify({ n })).join('\n') + '\n\n';
    expect(json(await bucketq(['push', 'lines', '--batch', '100'], { env, input }))).toEqual({ pushed: 1234, created: 1234 });
    const q = createClient<{ n: number }>({ url: broker.url, topic: 'lines' });
    // One claim hands out at most the head's window (docs/format.md): the rest of 1,000 comes
    // from the segments as they are read ahead, in the same order.
    const jobs: Array<{ payload: { n: number } }> = [];
    while (jobs.length < 1000) jobs.push(...(await q.claim({ workerId: 'w', max: 1000 - jobs.length, waitMs: 5000 })));
    expect(jobs.map((j) => j.payload.n)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    expect(await q.stats()).toMatchObject({ pending: 234, claimed: 1000 });
    await q.close();

    const jobLines = '{"id":"j1","payload":1}\n{"id":"j2","payload":2,"priority":5}\n';
    expect(json(await bucketq(['push', 'jl', '--jobs'], { env, input: jobLines }))).toEqual({ pushed: 2, created: 2 });
    const again = await bucketq(['push', 'jl', '--jobs', '--human'], { env, input: jobLines });
    expect(again).toMatchObject({ code: 0, stdout: 'pushed 2 jobs (0 new, 2 existed already)\n' });
  });

  it('push: bad input is one line on stderr naming the line, exit 2', async () => {
    const cases: Array<[string[], string | undefined, RegExp]> = [
      [['push', 'bad', '{"a":'], undefined, /^bucketq push: the payload is not valid JSON/],
      [['push', 'bad'], '{"n":1}\n{"n":2}\nnot json\n', /^bucketq push: line 3 is not valid JSON .*nothing was pushed \(INVALID_ARGUMENT\)$/m],
      [['push', 'bad2', '--batch', '1'], '{"n":1}\n{"n":2}\n{oops\n', /line 3 is not valid JSON .*the 2 jobs before it were pushed/],
      [['push', 'bad', '--jobs'], '{"payload":1,"priority":0.5}\n', /line 1: priority must be an integer/],
      [['push', 'bad', '--jobs'], '[1]\n', /line 1 is not a job object/],
      [['push', 'bad', '1', '--bogus'], undefined, /^bucketq push: Unknown option '--bogus'.*--help/],
      [['push', 'bad topic!', '1'], undefined, /topic must match/],
      [['push'], undefined, /missing TOPIC/],
      [['push', 'bad', '1', '--priority', 'high'], undefined, /--priority must be an integer/],
    ];
    const runs = await Promise.all(cases.map(([args, input]) => bucketq(args, { env, ...(input !== undefined ? { input } : {}) })));
    runs.forEach((run, i) => failed(run, 2, cases[i]![2]));
  });

  it('claim, heartbeat, ack and nack with the lease from the claim', async () => {
    for (const n of [1, 2, 3]) json(await bucketq(['push', 'cl', String(n), '--id', `c${n}`], { env }));
    const empty = json(await bucketq(['claim', 'nothing-here'], { env }));
    expect(empty).toEqual({ jobs: [] });

    const { jobs } = json<{ jobs: Array<{ id: string; lease: string; workerId: string; payload: number; attempt: number }> }>(
      await bucketq(['claim', 'cl', '--max', '2', '--worker', 'me', '--lease-for', '60s'], { env }),
    );
    expect(jobs).toMatchObject([
      { id: 'c1', payload: 1, attempt: 1, workerId: 'me' },
      { id: 'c2', payload: 2, workerId: 'me' },
    ]);
    const [a, b] = jobs as [(typeof jobs)[0], (typeof jobs)[0]];
    const beat = json(await bucketq(['heartbeat', 'cl', a.id, '--worker', 'me', '--lease', a.lease, '--lease-for', '2m'], { env }));
    expect(beat.leaseUntil).toBeGreaterThan(Date.now() + 100_000);
    expect(json(await bucketq(['ack', 'cl', a.id, '--worker', 'me', '--lease', a.lease, '--result', '{"ok":1}'], { env }))).toEqual({ id: 'c1' });
    // The same ack again (a retry whose first answer was lost) answers ok and changes nothing; another lease is refused.
    expect(json(await bucketq(['ack', 'cl', a.id, '--worker', 'me', '--lease', a.lease], { env }))).toEqual({ id: 'c1' });
    failed(await bucketq(['ack', 'cl', a.id, '--worker', 'me', '--lease', b.lease], { env }), 1, /^bucketq ack: .*\(LEASE_LOST\)$/m);
    failed(await bucketq(['nack', 'cl', b.id, '--worker', 'other', '--lease', b.lease], { env }), 1, /LEASE_LOST/);
    const nacked = json(await bucketq(['nack', 'cl', b.id, '--worker', 'me', '--lease', b.lease, '--error', 'smtp down', '--delay', '30s'], { env }));
    expect(nacked).toMatchObject({ id: 'c2', state: 'delayed', runAt: expect.any(Number) });
    failed(await bucketq(['ack', 'cl', 'c3', '--worker', 'me'], { env }), 2, /--lease L is required/);

    const human = await bucketq(['claim', 'cl', '--worker', 'me', '--human'], { env });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+ATTEMPT\s+PRIORITY\s+LEASE\s+LEASE UNTIL\s+PAYLOAD\nc3\s+1\s+0\s+\S+/);
    expect(human.stdout).toMatch(/bucketq ack cl c3 --worker me --lease \S+/);
  });

  it('get, cancel and retry', async () => {
    json(await bucketq(['push', 'gcr', '{"x":1}', '--id', 'g1'], { env }));
    json(await bucketq(['push', 'gcr', '{"x":2}', '--id', 'g2', '--max-attempts', '1'], { env }));
    expect(json(await bucketq(['get', 'gcr', 'g1'], { env }))).toMatchObject({ id: 'g1', state: 'pending', payload: { x: 1 }, attempts: 0 });
    const text = await bucketq(['get', 'gcr', 'g1', '--human'], { env });
    expect(text.stdout).toMatch(/^id\s+g1\nstate\s+pending\n/);
    expect(text.stdout).toMatch(/payload\n {2}\{\n {4}"x": 1\n {2}\}\n$/);

    expect(json(await bucketq(['cancel', 'gcr', 'g1'], { env }))).toEqual({ id: 'g1', state: 'cancelled' });
    const q = createClient({ url: broker.url, topic: 'gcr' });
    const [g2] = await q.claim({ workerId: 'w' });
    await q.nack(g2!, 'fatal');
    await q.close();
    expect(json(await bucketq(['get', 'gcr', 'g2'], { env }))).toMatchObject({ state: 'dead', lastError: 'fatal' });
    expect(json(await bucketq(['retry', 'gcr', 'g2'], { env }))).toEqual({ id: 'g2', state: 'pending' });
    failed(await bucketq(['retry', 'gcr', 'g2'], { env }), 1, /^bucketq retry: .*not dead \(FAILED_PRECONDITION\)$/m);
    failed(await bucketq(['get', 'gcr', 'nope'], { env }), 1, /\(NOT_FOUND\)$/m);
    failed(await bucketq(['cancel', 'gcr'], { env }), 2, /missing ID/);
  });

  it('retry --all-dead: every dead job back to pending in one call (client.retryDead)', async () => {
    const q = createClient({ url: broker.url, topic: 'alldead' });
    await q.pushMany([{ id: 'd1', payload: 1, maxAttempts: 1 }, { id: 'd2', payload: 2, maxAttempts: 1 }]);
    for (const job of await q.claim({ workerId: 'w', max: 2 })) await q.nack(job, 'fatal');
    expect((await q.stats()).dead).toBe(2);
    const out = json(await bucketq(['retry', '--all-dead', 'alldead'], { env }));
    expect(out).toMatchObject({ retried: 2, skipped: [] });
    expect([...out.ids].sort()).toEqual(['d1', 'd2']);
    expect(await q.stats()).toMatchObject({ dead: 0, pending: 2 });
    expect((await bucketq(['retry', '--all-dead', 'alldead', '--human'], { env })).stdout).toBe('0 dead jobs pending again\n');
    expect(await q.retryDead(['d1'])).toMatchObject({ retried: 0, skipped: [{ id: 'd1', code: 'NOT_FOUND' }] });
    await q.close();
    failed(await bucketq(['retry', 'alldead'], { env }), 2, /missing ID \(or --all-dead/);
  });

  it('pause and resume: claims get nothing while paused, pushes land', async () => {
    json(await bucketq(['push', 'pr', '1', '--id', 'p1'], { env }));
    expect(json(await bucketq(['pause', 'pr'], { env }))).toEqual({ topic: 'pr', maxAttempts: 5, backoff: expect.objectContaining({ type: 'exponential' }), paused: true });
    json(await bucketq(['push', 'pr', '2', '--id', 'p2'], { env }));
    const q = createClient({ url: broker.url, topic: 'pr' });
    expect(await q.claim({ workerId: 'w' })).toEqual([]);
    expect((await bucketq(['stats', 'pr', '--human'], { env })).stdout).toMatch(/^pr\s+2\s.*\syes$/m);
    const again = await bucketq(['pause', 'pr', '--human'], { env });
    expect(again).toMatchObject({ code: 0, stdout: 'paused pr: pushes are accepted, no jobs are handed out until "bucketq resume pr"\n' });

    expect(json(await bucketq(['resume', 'pr'], { env }))).toMatchObject({ topic: 'pr', paused: false });
    expect(await q.claim({ workerId: 'w', max: 2 })).toMatchObject([{ id: 'p1' }, { id: 'p2' }]);
    await q.close();
    expect(await bucketq(['resume', 'pr', '--human'], { env })).toMatchObject({ code: 0, stdout: 'resumed pr: jobs are handed out again\n' });
    failed(await bucketq(['pause'], { env }), 2, /missing TOPIC/);
    failed(await bucketq(['resume', 'bad topic'], { env }), 2, /topic/);
  });

  it('stats: a table on request, JSON into a pipe; topics', async () => {
    json(await bucketq(['push', 'st', '1', '--id', 's1'], { env }));
    json(await bucketq(['push', 'st', '2', '--id', 's2', '--delay', '100s'], { env }));
    const table = await bucketq(['stats', 'st', '--human'], { env });
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.split('\n');
    expect(header).toMatch(/^TOPIC\s+PENDING\s+DELAYED\s+CLAIMED\s+DEAD\s+OLDEST\s+PUSHED\s+COMPLETED\s+NACKED\s+EXPIRED\s+PAUSED$/);
    expect(row).toMatch(/^st\s+1\s+1\s+0\s+0\s+\S+\s+2\s+0\s+0\s+0\s+no$/);
    expect(table.stdout).toContain(`leader    ${broker.broker.id} at ${broker.advertiseUrl}`);

    expect(json(await bucketq(['stats', 'st'], { env }))).toMatchObject({ topic: 'st', pending: 1, delayed: 1, broker: { id: broker.broker.id } });
    expect(json(await bucketq(['stats', 'st', '--json'], { env }))).toMatchObject({ topic: 'st' });
    failed(await bucketq(['stats', 'st', '--json', '--human'], { env }), 2, /exclude each other/);

    const all = json<{ topics: Array<{ topic: string; pending: number }> }>(await bucketq(['stats'], { env }));
    expect(all.topics.find((t) => t.topic === 'st')).toMatchObject({ pending: 1 });
    const allText = await bucketq(['stats', '--human'], { env });
    expect(allText.stdout).toMatch(/^st\s+1\s+1\s/m);

    const topics = json<{ topics: Array<{ topic: string; leader: { url: string } }> }>(await bucketq(['topics'], { env }));
    expect(topics.topics.map((t) => t.topic)).toContain('st');
    expect(topics.topics.find((t) => t.topic === 'st')!.leader.url).toBe(broker.advertiseUrl);
    expect((await bucketq(['topics', '--human'], { env })).stdout).toMatch(/^TOPIC\s+LEADER\s+URL\s+EPOCH\s+LEASE\n/);
  });

  it('finds the broker through --store, sends the token from BUCKETQ_TOKEN, and fails in one line when no broker answers', async () => {
    const secured = await startBrokerServer({ store: `file:${dir}/secured`, listen: '127.0.0.1:0', token: 's3cret' });
    try {
      json(await bucketq(['push', 'tok', '1', '--id', 't1'], { env: { BUCKETQ_URL: secured.url, BUCKETQ_TOKEN: 's3cret' } }));
      // Now the store names the leader of 'tok': the URL is not needed.
      expect(json(await bucketq(['get', 'tok', 't1', '--store', `file:${dir}/secured`, '--token', 's3cret'], { env: {} }))).toMatchObject({ id: 't1' });
      failed(await bucketq(['get', 'tok', 't1'], { env: { BUCKETQ_URL: secured.url } }), 1, /\(UNAUTHENTICATED\)$/m);
    } finally {
      await secured.close();
    }
    const port = await freePort();
    failed(await bucketq(['stats', 'x', '--url', `http://127.0.0.1:${port}`], { env: {} }), 1, /^bucketq stats: no broker at http:\/\/127\.0\.0\.1:\d+ \(connection refused\); is one running\? set --url or BUCKETQ_URL$/m);
  });

  it('inspect reads queue.json from the store with no broker (by default the broker\'s, ./bucketq-data)', async () => {
    // The broker's default store, seen from its working directory.
    const solo = `file:${dir}/solo/bucketq-data`;
    const s = await startBrokerServer({ store: solo, listen: '127.0.0.1:0' });
    json(await bucketq(['push', 'ins', '{"hello":"world"}', '--id', 'i1'], { env: { BUCKETQ_URL: s.url } }));
    json(await bucketq(['push', 'ins', '2', '--id', 'i2', '--delay', '60s'], { env: { BUCKETQ_URL: s.url } }));
    await s.close();

    const out = json(await bucketq(['inspect', 'ins', '--store', solo], { env: {} }));
    expect(out).toMatchObject({ key: 'topics/ins/queue.json', etag: expect.any(String), bytes: expect.any(Number), state: { topic: 'ins', format: 3 } });
    expect(out.state.jobs.map((j: { id: string; state: string }) => [j.id, j.state])).toEqual([
      ['i1', 'pending'],
      ['i2', 'delayed'],
    ]);
    expect(out.state.broker).toMatchObject({ id: s.broker.id });

    const text = await bucketq(['inspect', 'ins', '--human'], { env: { BUCKETQ_STORE: solo } });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^topics\/ins\/queue\.json {2}\(etag \S+, [\d.]+ (B|KiB), format 3\)\n/);
    expect(text.stdout).toMatch(/^backlog {3}no segments: every job is in queue\.json$/m);
    expect(text.stdout).toMatch(/^leader {4}\S+ at http:\/\/\S+ \(epoch 1, lease (released|[\d.]+s left)\)$/m);
    expect(text.stdout).toMatch(/^jobs {6}1 pending, 1 delayed, 0 claimed; 0 dead/m);
    expect(text.stdout).toMatch(/^i1\s+pending\s+0\s+0\s+\{"hello":"world"\}$/m);

    failed(await bucketq(['inspect', 'nope', '--store', solo], { env: {} }), 1, /no topic nope .*\(NOT_FOUND\)$/m);
    // No --store: the default store, ./bucketq-data, as for `bucketq broker`.
    expect(json(await bucketq(['inspect', 'ins'], { env: {}, cwd: `${dir}/solo` }))).toMatchObject({ key: 'topics/ins/queue.json', state: { topic: 'ins' } });
    failed(await bucketq(['inspect', 'ins'], { env: {}, cwd: dir }), 1, /^bucketq inspect: no topic ins in file:\.\/bucketq-data \(no topics\/ins\/queue\.json\) \(NOT_FOUND\)$/m);
  });

  it('--help of every command reads like a manual', async () => {
    const runs = await Promise.all(COMMANDS.map((c) => bucketq([c, '--help'])));
    runs.forEach((run, i) => {
      const name = COMMANDS[i]!;
      expect(run.code, name).toBe(0);
      expect(run.stderr, name).toBe('');
      expect(run.stdout, name).toMatch(new RegExp(`^NAME\\n {4}bucketq ${name} - `));
      for (const section of ['SYNOPSIS', 'DESCRIPTION', 'GLOBAL OPTIONS', 'ENVIRONMENT', 'EXIT STATUS']) expect(run.stdout, `${name} ${section}`).toContain(`\n${section}\n`);
    });
    const overview = await bucketq(['--help']);
    for (const c of COMMANDS) expect(overview.stdout).toMatch(new RegExp(`^ {2}${c}\\s+\\S`, 'm'));
    expect(overview.stdout).not.toContain('not available yet');
  });
});
