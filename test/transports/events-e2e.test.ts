/**
 * GET /v1/events end to end: a real `bucketq broker` process, read by the `eventsource` package
 * (an SSE reader bucketq did not write). The scenario: push, claim, heartbeat, ack; nack to dead;
 * retry; cancel. Every event arrives in commit order and only once the call that caused it has
 * been made; a reader that reconnects with Last-Event-ID gets exactly what it missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';
import { watch, type Watcher } from './sse-reader.js';

const TOKEN = 'events-e2e-token';
let dir: string;
let proc: BrokerProcess;
let call: ReturnType<typeof api>;
const watchers: Watcher[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bucketq-events-'));
  proc = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_TOKEN: TOKEN });
  call = api(proc.url, TOKEN);
}, 30_000);

afterAll(async () => {
  for (const w of watchers) w.close();
  if (proc.child.exitCode === null) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

function open(opts: { query?: string; lastEventId?: string } = {}): Watcher {
  const w = watch(proc.url, { token: TOKEN, ...opts });
  watchers.push(w);
  return w;
}

/** Makes the call, checking first that its event has not come (it cannot precede the commit), then waits for it. */
async function expectEvent(w: Watcher, kind: string, job: string, act: () => Promise<{ status: number; body: any }>) {
  const match = (e: { kind: string; data: any }) => e.kind === kind && e.data.job === job;
  const before = w.events.filter(match).length;
  const r = await act();
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  const ev = await w.next((e) => match(e) && w.events.filter(match).indexOf(e) >= before);
  return { reply: r, event: ev };
}

describe('GET /v1/events against a broker process, read by eventsource', () => {
  it('without the token: 401 JSON', async () => {
    for (const auth of [undefined, 'Bearer nope']) {
      const res = await fetch(`${proc.url}/v1/events`, auth ? { headers: { authorization: auth } } : {});
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('pushed → claimed → acked; nacked → dead; retried; cancelled: in commit order, each after its call', async () => {
    const w = open({ query: 'topics=e2e' });
    await w.opened;
    expect((await call('PATCH', '/v1/topics/e2e', { maxAttempts: 2 })).status).toBe(200);

    const pushed = await expectEvent(w, 'pushed', 'a', () => call('POST', '/v1/topics/e2e/jobs', { id: 'a', payload: { n: 1 } }));
    expect(pushed.event.data).toMatchObject({ topic: 'e2e', state: 'pending', seq: expect.any(Number) });
    const claimed = await expectEvent(w, 'claimed', 'a', () => call('POST', '/v1/topics/e2e/claim', { workerId: 'w1', leaseMs: 30_000 }));
    const lease = claimed.reply.body.jobs[0].lease as string;
    expect(claimed.event.data).toMatchObject({ worker: 'w1', attempt: 1, maxAttempts: 2 });
    expect((await call('POST', '/v1/topics/e2e/jobs/a/heartbeat', { workerId: 'w1', lease, leaseMs: 30_000 })).status).toBe(200);
    await expectEvent(w, 'acked', 'a', () => call('POST', '/v1/topics/e2e/jobs/a/ack', { workerId: 'w1', lease }));

    await expectEvent(w, 'pushed', 'b', () => call('POST', '/v1/topics/e2e/jobs', { id: 'b', payload: 2 }));
    const c1 = await expectEvent(w, 'claimed', 'b', () => call('POST', '/v1/topics/e2e/claim', { workerId: 'w1' }));
    const nacked = await expectEvent(w, 'nacked', 'b', () => call('POST', '/v1/topics/e2e/jobs/b/nack', { workerId: 'w1', lease: c1.reply.body.jobs[0].lease, error: 'first', delayMs: 0 }));
    expect(nacked.event.data).toMatchObject({ error: 'first', runAt: expect.any(Number) });
    const c2 = await expectEvent(w, 'claimed', 'b', () => call('POST', '/v1/topics/e2e/claim', { workerId: 'w1' }));
    const dead = await expectEvent(w, 'dead', 'b', () => call('POST', '/v1/topics/e2e/jobs/b/nack', { workerId: 'w1', lease: c2.reply.body.jobs[0].lease, error: 'second' }));
    expect(dead.event.data).toMatchObject({ error: 'second', worker: 'w1' });
    await expectEvent(w, 'retried', 'b', () => call('POST', '/v1/topics/e2e/jobs/b/retry'));
    await expectEvent(w, 'pushed', 'c', () => call('POST', '/v1/topics/e2e/jobs', { id: 'c', payload: 3, delayMs: 60_000 }));
    await expectEvent(w, 'cancelled', 'c', () => call('DELETE', '/v1/topics/e2e/jobs/c'));

    expect(w.jobLine()).toEqual(['pushed:a', 'claimed:a', 'acked:a', 'pushed:b', 'claimed:b', 'nacked:b', 'claimed:b', 'dead:b', 'retried:b', 'pushed:c', 'cancelled:c']);
    // Commit order: the job events' commit seqs never go down, and each job event follows its commit's stats.
    const seqs = w.events.filter((e) => e.data.seq !== undefined).map((e) => e.data.seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    for (const e of w.events.filter((x) => x.data.job !== undefined)) {
      const commit = w.events.find((x) => x.kind === 'commit' && x.data.seq === e.data.seq);
      expect(commit, `commit event of seq ${e.data.seq}`).toBeDefined();
      expect(w.events.indexOf(commit!)).toBeLessThan(w.events.indexOf(e));
    }
    // Ids increase by one per event of this broker process.
    const ns = w.events.map((e) => Number(e.sseId.split('-')[1]));
    for (let i = 1; i < ns.length; i++) expect(ns[i]).toBeGreaterThan(ns[i - 1]!);
    expect(w.events.every((e) => e.data.id === e.sseId)).toBe(true);
  });

  it('Last-Event-ID resume gets exactly the missed events (header, and ?lastEventId=)', async () => {
    const w = open({ query: 'topics=resume' });
    await w.opened;
    await expectEvent(w, 'pushed', 'r0', () => call('POST', '/v1/topics/resume/jobs', { id: 'r0', payload: 0 }));
    const last = w.events.at(-1)!.sseId;
    w.close();
    for (let i = 1; i <= 3; i++) expect((await call('POST', '/v1/topics/resume/jobs', { id: `r${i}`, payload: i })).status).toBe(201);
    // A marker after the missed ones, so the resumed reader knows when it has everything.
    expect((await call('POST', '/v1/topics/resume/jobs', { id: 'marker', payload: null })).status).toBe(201);

    const byHeader = open({ query: 'topics=resume', lastEventId: last });
    await byHeader.next((e) => e.data.job === 'marker');
    expect(byHeader.jobLine()).toEqual(['pushed:r1', 'pushed:r2', 'pushed:r3', 'pushed:marker']);
    expect(byHeader.events.some((e) => e.kind === 'reset')).toBe(false);
    expect(byHeader.events.filter((e) => e.kind === 'commit')).toHaveLength(4);

    const byQuery = open({ query: `topics=resume&lastEventId=${encodeURIComponent(last)}` });
    await byQuery.next((e) => e.data.job === 'marker');
    expect(byQuery.jobLine()).toEqual(['pushed:r1', 'pushed:r2', 'pushed:r3', 'pushed:marker']);

    const stale = open({ lastEventId: '00000000-5' });
    const reset = await stale.next((e) => e.kind === 'reset');
    expect(reset.data).toMatchObject({ lastEventId: '00000000-5', reason: expect.stringMatching(/another broker process/) });
  });

  it('SIGTERM ends the streams cleanly and the broker exits 0', async () => {
    const res = await fetch(`${proc.url}/v1/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    for (const w of watchers) w.close(); // the eventsource readers would only try to reconnect
    const reader = res.body!.getReader();
    proc.child.kill('SIGTERM');
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });
});
