/**
 * End to end on S3 (the run's radosgw, or BUCKETQ_TEST_S3_URL): the scenario the `file:` e2e runs,
 * on a real S3 server. Two `bucketq broker` processes and one `bucketq work` process share a fresh
 * prefix; jobs are pushed, claimed and acked, one always fails and ends dead, the leader is
 * SIGKILLed mid-stream and the standby takes over; nothing acknowledged is lost.
 *
 * Synchronisation is by output lines and worker events, never by sleeping.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client/index.js';
import type { Queue } from '../../src/api.js';
import { openStore } from '../../src/storage/index.js';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { start, type Running } from '../cli/cli-helpers.js';
import { api } from '../http-helpers.js';
import { s3Target } from '../servers/s3-target.js';

const target = await s3Target();
if (!target.ready) console.warn(`S3 end-to-end test skipped: ${target.reason}`);

const brokers: BrokerProcess[] = [];
const children: Running[] = [];
const clients: Queue<unknown>[] = [];

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  for (const p of [...children.splice(0), ...brokers.splice(0)]) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
});

/** A job command: doubles `n`, or fails loudly when the payload says so. */
const JOB = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const p=JSON.parse(s);if(p.fail){process.stderr.write('boom attempt '+process.env.BUCKETQ_ATTEMPT+'\\n');process.exit(4);}process.stdout.write(JSON.stringify({doubled:p.n*2}));});`;
const LEASE_MS = 1500;

describe.skipIf(!target.ready)('e2e on S3: brokers and a `bucketq work` process on radosgw', () => {
  it('push, claim, ack, nack to dead, SIGKILL of the leader and takeover: nothing lost', async () => {
    if (!target.ready) return;
    const store = target.freshUrl('e2e');
    const env = { ...target.env, BUCKETQ_STORE: store };
    const broker = async (id: string) => {
      const b = await startBrokerProcess(['--store', store, '--listen', '127.0.0.1:0', '--lease-ms', String(LEASE_MS), '--id', id], target.env);
      brokers.push(b);
      return b;
    };
    const a = await broker('A');
    expect(await api(a.url)('POST', '/v1/topics/e2e/claim', { workerId: 'init' })).toMatchObject({ status: 200, body: { jobs: [] } });
    const b = await broker('B');
    expect(await api(b.url)('GET', '/v1/topics/e2e')).toMatchObject({ status: 503, body: { error: { code: 'NOT_LEADER', leaderId: 'A' } } });
    const takeover = b.line(/^leading topic e2e \(epoch 2\)$/);

    const w = start(['work', 'e2e', '--concurrency', '4', '--json', '--timeout', '30s', '--', process.execPath, '-e', JOB], { env });
    children.push(w);
    await w.event((e) => e.event === 'started');

    const q = createClient({ store, topic: 'e2e', retry: { deadlineMs: 20_000 } });
    clients.push(q);
    const N = 20;
    const batch = (from: number) => Array.from({ length: N }, (_, i) => ({ id: `j${from + i}`, payload: { n: from + i } }));
    expect((await q.pushMany(batch(0))).every((p) => p.created)).toBe(true);
    expect(await q.push({ fail: true }, { id: 'bad', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } })).toEqual({ id: 'bad', created: true });
    const done = (id: string) => w.event((e) => e.event === 'completed' && e.id === id);
    await Promise.all(batch(0).slice(0, N / 2).map((j) => done(j.id)));

    a.child.kill('SIGKILL');
    await a.exited;
    // Pushed while nobody leads: the client retries until B has taken over the stale lease.
    expect((await q.pushMany(batch(N))).every((p) => p.created)).toBe(true);
    await takeover;

    await Promise.all([...batch(0), ...batch(N)].map((j) => done(j.id)));
    // 'bad' dies by the worker's nack of its second attempt, or, when the SIGKILL took the answers
    // of the commit that nacked it and handed it to the worker's parked claim, by that lost claim's
    // lease running out: then no handler ran the attempt and the worker reports nothing. When the
    // SIGKILL took the answer of that last nack's own commit, the worker's retry at B is recognised
    // as a replay (the record names the nacking lease) and answered as the first try: dead.
    await vi.waitFor(async () => expect(await q.get('bad')).toMatchObject({ state: 'dead' }), { timeout: 30_000, interval: 100 });
    if (!/^lease expired/.test((await q.get('bad')).lastError ?? '')) {
      const last = await w.event((e) => e.id === 'bad' && ((e.event === 'failed' && e.state === 'dead') || e.event === 'lease-lost'));
      expect(last).toMatchObject({ event: 'failed', attempt: 2, error: 'exit 4: boom attempt 2' });
    }
    await vi.waitFor(async () => expect(await q.stats()).toMatchObject({ pending: 0, claimed: 0, delayed: 0, archiving: 0 }), { timeout: 20_000, interval: 100 });
    expect(await q.get('bad')).toMatchObject({ state: 'dead', attempts: 2, payload: { fail: true } });

    // Every job is in the archive on S3, completed with its result; the dead one with its error.
    const s = await openStore(store);
    const records: Array<{ id: string; state: string; result?: unknown }> = [];
    try {
      for (const key of await s.list('archive/e2e/')) records.push(...(JSON.parse(Buffer.from((await s.read(key))!.body).toString('utf8')) as { jobs: typeof records }).jobs);
    } finally {
      await s.close();
    }
    const completed = records.filter((r) => r.state === 'completed');
    expect(new Set(completed.map((r) => r.id))).toEqual(new Set([...batch(0), ...batch(N)].map((j) => j.id)));
    for (const r of completed) expect(r.result).toEqual({ doubled: Number(r.id.slice(1)) * 2 });
    expect(records.filter((r) => r.state === 'dead').map((r) => r.id)).toEqual(['bad']);
    console.log(`[e2e s3] ${completed.length} completed (${completed.length - new Set(completed.map((r) => r.id)).size} twice after the kill), 1 dead, takeover by B after SIGKILL of A`);

    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    b.child.kill('SIGTERM');
    expect(await b.exited).toEqual({ code: 0, signal: null });
  });
});
