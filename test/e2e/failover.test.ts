/**
 * End to end, with real processes on one temp-dir `file:` store: `bucketq broker` processes, a
 * producer, and workers (`bucketq work` children, or createWorker over createClient here).
 *
 *   1. jobs flow: one broker, two `bucketq work` processes; results come back, a command that
 *      always fails ends dead after maxAttempts;
 *   2. failover under load: two brokers; producers and workers run through a SIGKILL of the
 *      leader without being restarted; every acknowledged push is completed exactly once;
 *   3. graceful handover: the same with SIGTERM; no client call fails at all; the old leader
 *      exits 0.
 *
 * Synchronisation is by output lines, events and counters (bounded polling), never by sleeping.
 * The kill → takeover figures are printed with console.log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { isQueueError, QueueError } from '../../src/errors.js';
import { openStore } from '../../src/storage/index.js';
import type { Queue } from '../../src/api.js';
import { createWorker } from '../../src/worker/index.js';
import type { Worker } from '../../src/worker/types.js';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { start, type Running } from '../cli/cli-helpers.js';
import { api } from '../http-helpers.js';

let dir = '';
const brokers: BrokerProcess[] = [];
const children: Running[] = [];
const workers: Worker<unknown, unknown>[] = [];
const clients: Queue<unknown>[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bucketq-e2e-'));
});

afterEach(async () => {
  // Workers first (they hold long polls on the brokers), without waiting for handlers.
  await Promise.allSettled(workers.splice(0).map((w) => w.close({ timeoutMs: 0 })));
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  for (const r of children.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exited;
  }
  for (const b of brokers.splice(0)) {
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    await b.exited;
  }
  await rm(dir, { recursive: true, force: true });
});

const store = () => `file:${dir}`;

/** Every record in the topic's archive objects (completed and dead jobs), read from the store itself. */
async function archived(topic: string): Promise<Array<{ id: string; state: string; result?: unknown; lease?: { worker: string; token?: string } }>> {
  const s = await openStore(store());
  try {
    const out = [];
    for (const key of await s.list(`archive/${topic}/`)) {
      const obj = await s.read(key);
      if (obj) out.push(...(JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: Array<{ id: string; state: string }> }).jobs);
    }
    return out;
  } finally {
    await s.close();
  }
}

async function broker(...args: string[]): Promise<BrokerProcess> {
  const b = await startBrokerProcess(['--store', store(), '--listen', '127.0.0.1:0', ...args]);
  brokers.push(b);
  return b;
}

function client(o: { url?: string; leaseMs?: number } = {}, topic = 't'): Queue<unknown> {
  // A call gives up after 15 s of retrying (default 30 s): a failure shows within the test's time.
  const q = createClient({ store: store(), topic, retry: { deadlineMs: 15_000 }, ...o });
  clients.push(q);
  return q;
}

function work(args: string[], env: NodeJS.ProcessEnv): Running {
  const r = start(['work', ...args], { env });
  children.push(r);
  return r;
}

/** A job command: doubles `n`, or fails loudly when the payload says so. */
const JOB = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const p=JSON.parse(s);if(p.fail){process.stderr.write('boom '+process.env.BUCKETQ_JOB_ID+' attempt '+process.env.BUCKETQ_ATTEMPT+'\\n');process.exit(4);}process.stdout.write(JSON.stringify({doubled:p.n*2}));});`;

describe('e2e: jobs flow through a broker process and `bucketq work` processes', () => {
  it('results come back; a command that always fails is dead after maxAttempts', async () => {
    const a = await broker();
    const env = { BUCKETQ_STORE: store(), BUCKETQ_URL: a.url };
    const w1 = work(['flow', '--concurrency', '4', '--json', '--', process.execPath, '-e', JOB], env);
    const w2 = work(['flow', '--concurrency', '4', '--json', '--', process.execPath, '-e', JOB], env);
    // Both are claiming (their long polls park on the broker) before anything is pushed.
    await Promise.all([w1, w2].map((w) => w.event((e) => e.event === 'started')));

    const q = client({ url: a.url }, 'flow');
    const N = 40;
    const pushed = await q.pushMany(Array.from({ length: N }, (_, i) => ({ id: `j${i}`, payload: { n: i } })));
    expect(pushed.every((p) => p.created)).toBe(true);
    expect(await q.push({ fail: true }, { id: 'bad', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } })).toEqual({ id: 'bad', created: true });

    const completed = (w: Running) => w.lines.map((l) => JSON.parse(l) as { event: string; id?: string; result?: unknown }).filter((e) => e.event === 'completed');
    await Promise.all(Array.from({ length: N }, (_, i) => Promise.race([w1, w2].map((w) => w.event((e) => e.event === 'completed' && e.id === `j${i}`)))));
    const dead = await Promise.race([w1, w2].map((w) => w.event((e) => e.event === 'failed' && e.id === 'bad' && e.state === 'dead')));
    expect(dead).toMatchObject({ attempt: 2, error: 'exit 4: boom bad attempt 2' });

    const all = [...completed(w1), ...completed(w2)];
    expect(all.map((e) => e.id).sort()).toEqual(Array.from({ length: N }, (_, i) => `j${i}`).sort());
    for (const e of all) expect(e.result).toEqual({ doubled: Number(e.id!.slice(1)) * 2 });
    // Both processes did some of the work.
    expect(completed(w1).length).toBeGreaterThan(0);
    expect(completed(w2).length).toBeGreaterThan(0);

    await vi.waitFor(async () => expect(await q.stats()).toMatchObject({ pending: 0, claimed: 0, delayed: 0, archiving: 0 }), { timeout: 10_000, interval: 50 });
    const stats = await q.stats();
    expect(stats).toMatchObject({ dead: 1, counters: { pushed: N + 1, completed: N, dead: 1, nacked: 2 } });
    expect(await q.get('bad')).toMatchObject({ state: 'dead', attempts: 2, lastError: 'exit 4: boom bad attempt 2', payload: { fail: true } });

    for (const w of [w1, w2]) w.child.kill('SIGTERM');
    expect(await Promise.all([w1.exited, w2.exited])).toEqual([0, 0]);
    a.child.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
  });
});

// ---------------------------------------------------------------------------------------------
// Failover under load

const TOPIC = 't';
const LEASE_MS = 1500;
const PRODUCERS = 4;
const WORKERS = 2;
const KILL_AFTER = 300;
const AFTER_KILL = 300;

interface CallLog {
  /** Rejections per method, every one a call that failed permanently for its caller. */
  failures: Array<{ method: string; id?: string; code: string; message: string }>;
}

/** The client as a Queue whose every method's rejection is recorded (the worker retries on top). */
function recorded(q: Queue<unknown>, log: CallLog): Queue<unknown> {
  return new Proxy(q, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || prop === 'close') return value;
      return (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) {
          const many = prop === 'ackMany' || prop === 'nackMany';
          // A many-call resolves with one outcome per item: a failed item is a failed ack or nack.
          const items = many
            ? out.then((outcomes: Array<{ id: string; ok: boolean; error?: QueueError }>) => {
                for (const o of outcomes) if (!o.ok) log.failures.push({ method: prop === 'ackMany' ? 'ack' : 'nack', id: o.id, code: o.error!.code, message: o.error!.message });
                return outcomes;
              })
            : out;
          return items.catch((err: unknown) => {
            const e = isQueueError(err) ? err : new QueueError('INTERNAL', String(err));
            // A long poll aborted by the worker's own close is not a failure.
            const id = (args[0] as { id?: unknown } | undefined)?.id;
            if (!(prop === 'claim' && e.code === 'CLOSED')) log.failures.push({ method: String(prop), ...(typeof id === 'string' ? { id } : {}), code: e.code, message: e.message });
            throw err;
          });
        }
        return out;
      };
    },
  });
}

interface LoadResult {
  /** Acknowledged pushes: job id → when the push was sent and when it was acknowledged. */
  acked: Map<string, { sent: number; at: number }>;
  pushFailures: Array<{ id: string; error: string }>;
  /** Successful acks per job id (from the ack calls that resolved). */
  acks: Map<string, number>;
  /** Acks whose answer was lost and whose replay answered LEASE_LOST (details.retried): job id → the lease acked. */
  ambiguousAcks: Map<string, { worker: string; lease: string }>;
  completedEvents: number;
  workerLog: CallLog;
  workerErrors: Array<{ code: string; message: string }>;
  leaseLost: Array<{ id: string; message: string }>;
  killAt: number;
  /** Nothing left on B and every acknowledged push acked, within the wait. */
  drained: boolean;
  standbyLeading: { line: string; at: number };
  firstPushAfter: number;
  firstAckAfter: number;
  maxPushMs: number;
  /** The longest time around the kill in which no push was acknowledged: the outage clients saw. */
  gapMs: number;
  leader: BrokerProcess;
  standby: BrokerProcess;
}

/** `p`, or a rejection once `ms` have passed (a bound on a wait, never a way to synchronise). */
async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The longest interval between consecutive times that ends after `from`. */
function longestGap(times: number[], from: number): number {
  const sorted = [...times].sort((x, y) => x - y);
  let gap = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i]! > from) gap = Math.max(gap, sorted[i]! - sorted[i - 1]!);
  return gap;
}

/**
 * Two brokers on the store, A leading TOPIC; PRODUCERS push loops and WORKERS createWorkers over
 * createClient. After KILL_AFTER acknowledged pushes A gets `signal`; once AFTER_KILL more pushes
 * were acknowledged the producers stop, and the run ends when the topic is drained on B.
 */
async function failoverUnderLoad(signal: 'SIGKILL' | 'SIGTERM'): Promise<LoadResult> {
  const a = await broker('--lease-ms', String(LEASE_MS), '--id', 'A');
  // A claim creates the topic with A as its leader before B exists.
  expect(await api(a.url)('POST', `/v1/topics/${TOPIC}/claim`, { workerId: 'init' })).toMatchObject({ status: 200, body: { jobs: [] } });
  const b = await broker('--lease-ms', String(LEASE_MS), '--id', 'B');
  expect(await api(b.url)('GET', `/v1/topics/${TOPIC}`)).toMatchObject({ status: 503, body: { error: { code: 'NOT_LEADER', leaderId: 'A', leader: a.url } } });

  let killAt = Infinity;

  // --- consumers
  const acks = new Map<string, number>();
  const workerLog: CallLog = { failures: [] };
  const workerErrors: LoadResult['workerErrors'] = [];
  const leaseLost: LoadResult['leaseLost'] = [];
  const ackTimes: number[] = [];
  const ambiguousAcks = new Map<string, { worker: string; lease: string }>();
  let completedEvents = 0;
  for (let i = 0; i < WORKERS; i++) {
    // Half find the leader from the store only, half also know B's URL (used while the store names nobody).
    const q = recorded(client(i % 2 === 0 ? {} : { url: b.url }), workerLog);
    // The worker acks through ackMany (one call per event-loop turn): count each item's outcome.
    const origAckMany = q.ackMany.bind(q);
    const counted: Queue<unknown> = new Proxy(q, {
      get(target, prop, receiver) {
        if (prop !== 'ackMany') return Reflect.get(target, prop, receiver) as unknown;
        return async (items: Parameters<Queue['ackMany']>[0]) => {
          const sent = Date.now();
          const outcomes = await origAckMany(items);
          outcomes.forEach((o, i) => {
            const job = items[i]!;
            if (!o.ok) {
              // The answer to an ack that landed died with the leader, and its replay was refused:
              // the recent window should have answered ok. The archive tells (below).
              if (isQueueError(o.error, 'LEASE_LOST') && o.error.details?.retried === true) ambiguousAcks.set(job.id, { worker: job.workerId, lease: job.lease });
              return;
            }
            acks.set(job.id, (acks.get(job.id) ?? 0) + 1);
            if (sent > killAt) ackTimes.push(Date.now());
          });
          return outcomes;
        };
      },
    });
    const w = createWorker<unknown, unknown>(
      counted,
      async (job) => {
        // A little work now and then, so handlers are running when the leader goes.
        if (Math.random() < 0.3) await new Promise((r) => setTimeout(r, Math.random() * 10));
        return { done: job.id };
      },
      { concurrency: 8, leaseMs: 5000, waitMs: 1000, workerId: `w${i}` },
    );
    w.on('completed', () => completedEvents++);
    w.on('error', (e) => workerErrors.push({ code: e.code, message: e.message }));
    w.on('lease-lost', (job, e) => leaseLost.push({ id: job.id, message: e.message }));
    workers.push(w);
  }

  // --- producers
  const acked = new Map<string, { sent: number; at: number }>();
  const pushFailures: LoadResult['pushFailures'] = [];
  let stopProducers = false;
  let firstPushAfter = Infinity;
  let maxPushMs = 0;
  let killed!: () => void;
  const kill = new Promise<void>((resolve) => (killed = resolve));
  let enoughAfter!: () => void;
  const afterKill = new Promise<void>((resolve) => (enoughAfter = resolve));
  let pushedAfterKill = 0;
  const producers = Array.from({ length: PRODUCERS }, async (_, k) => {
    const q = client(k % 2 === 0 ? {} : { url: b.url });
    for (let i = 0; !stopProducers; i++) {
      const id = `p${k}-${i}`;
      const sent = Date.now();
      try {
        await q.push({ k, i }, { id });
      } catch (err) {
        pushFailures.push({ id, error: String(err) });
        continue;
      }
      const now = Date.now();
      acked.set(id, { sent, at: now });
      maxPushMs = Math.max(maxPushMs, now - sent);
      if (sent > killAt) {
        firstPushAfter = Math.min(firstPushAfter, now);
        if (++pushedAfterKill === AFTER_KILL) enoughAfter();
      }
      if (acked.size === KILL_AFTER) killed();
    }
  });

  await within(kill, 20_000).catch((err: unknown) => {
    stopProducers = true;
    throw new Error(`only ${acked.size} pushes acknowledged before the kill; push failures: ${JSON.stringify(pushFailures.slice(0, 3))}`, { cause: err });
  });
  const standbyLeading = b.line(/^leading topic t \(epoch 2\)$/);
  killAt = Date.now();
  a.child.kill(signal);
  // Bounded: if the pushes after the kill never come, the checks below say what is missing.
  await within(afterKill, 20_000).catch(() => {});
  stopProducers = true;
  await Promise.all(producers);

  // Drained: every acknowledged push acked, nothing left on B. A run that does not get there is
  // reported by the checks of the caller, with what is missing.
  const callB = api(b.url);
  let drained = true;
  await vi
    .waitFor(
      async () => {
        const s = await callB('GET', `/v1/topics/${TOPIC}`);
        expect(s.status).toBe(200);
        expect(s.body).toMatchObject({ pending: 0, claimed: 0, delayed: 0, archiving: 0 });
        expect([...acked.keys()].filter((id) => !acks.has(id) && !ambiguousAcks.has(id))).toEqual([]);
      },
      { timeout: 15_000, interval: 100 },
    )
    .catch(() => (drained = false));
  const lead = await standbyLeading;
  return {
    acked,
    pushFailures,
    acks,
    ambiguousAcks,
    completedEvents,
    workerLog,
    workerErrors,
    leaseLost,
    killAt,
    drained,
    standbyLeading: lead,
    firstPushAfter,
    firstAckAfter: Math.min(...ackTimes),
    maxPushMs,
    gapMs: longestGap([...acked.values()].map((p) => p.at), killAt),
    leader: a,
    standby: b,
  };
}

/**
 * Every acknowledged push was completed exactly once, by exactly one ack, checked against the
 * store's own record of finished jobs (the archive) as well as what the workers saw:
 *
 * - the archive holds every acknowledged id, completed with the handler's result, and nothing else;
 * - each completion is exactly one ack a worker saw succeed: an ack whose answer died with the
 *   leader is replayed on the standby and answers ok again (queue.json's recent window remembers
 *   the completing lease even after the job was archived), never LEASE_LOST;
 * - a push whose answer died with the leader is retried on the standby with the same id and finds
 *   its job (live, finished, or archived and in the recent window): no job is completed twice.
 *
 * Nothing is left live on the surviving broker, and its counters agree.
 */
async function expectExactlyOnce(r: LoadResult): Promise<void> {
  expect(r.drained).toBe(true);
  const records = await archived(TOPIC);
  const byId = new Map<string, typeof records>();
  for (const rec of records) byId.set(rec.id, [...(byId.get(rec.id) ?? []), rec]);
  const notArchived = [...r.acked.keys()].filter((id) => !byId.has(id));
  const notPushed = [...byId.keys()].filter((id) => !r.acked.has(id));
  const notCompleted = records.filter((rec) => rec.state !== 'completed' || (rec.result as { done?: string })?.done !== rec.id).map((rec) => rec.id);
  const completedTwice = [...byId].filter(([, recs]) => recs.length > 1).map(([id]) => id);
  expect({ notArchived, notPushed, notCompleted, completedTwice }).toEqual({ notArchived: [], notPushed: [], notCompleted: [], completedTwice: [] });

  const ackMismatch: Array<{ id: string; archived: number; acks: number; ambiguous: boolean }> = [];
  const ambiguousNotLanded: string[] = [];
  for (const [id, recs] of byId) {
    const acks = r.acks.get(id) ?? 0;
    const ambiguous = r.ambiguousAcks.get(id);
    if (acks + (ambiguous ? 1 : 0) !== recs.length) ackMismatch.push({ id, archived: recs.length, acks, ambiguous: ambiguous !== undefined });
    if (ambiguous && !recs.some((rec) => rec.lease?.worker === ambiguous.worker && rec.lease.token === ambiguous.lease)) ambiguousNotLanded.push(id);
  }
  expect({ ackMismatch, ambiguousNotLanded }).toEqual({ ackMismatch: [], ambiguousNotLanded: [] });
  expect([...r.ambiguousAcks.keys()]).toEqual([]);
  expect(r.completedEvents).toBe([...r.acks.values()].reduce((n, x) => n + x, 0));

  const completions = records.length;
  const s = await api(r.standby.url)('GET', `/v1/topics/${TOPIC}`);
  expect(s.body).toMatchObject({ pending: 0, claimed: 0, delayed: 0, dead: 0, counters: { pushed: completions, completed: completions, dead: 0 }, leader: { id: 'B', epoch: 2 } });
}

function report(name: string, r: LoadResult): void {
  const ms = (t: number) => (Number.isFinite(t) ? `${t - r.killAt} ms` : 'never');
  console.log(
    `[e2e ${name}] ${r.acked.size} pushes acknowledged, ${r.acks.size} acked; kill → standby's first commit (leading): ${ms(r.standbyLeading.at)}; ` +
      `no push acknowledged for ${r.gapMs} ms; first push sent after the kill acknowledged at ${ms(r.firstPushAfter)}, first ack sent after it at ${ms(r.firstAckAfter)}; slowest push ${r.maxPushMs} ms; ` +
      `ambiguous acks ${r.ambiguousAcks.size}, worker errors ${r.workerErrors.length} (${[...new Set(r.workerErrors.map((e) => e.code))].join(', ') || 'none'}), worker call failures ${r.workerLog.failures.length}, lease lost ${r.leaseLost.length}`,
  );
  for (const f of r.workerLog.failures) console.log(`[e2e ${name}] worker ${f.method}${f.id ? ` ${f.id}` : ''} failed: ${f.code}: ${f.message}`);
  for (const l of r.leaseLost) console.log(`[e2e ${name}] lease lost ${l.id}: ${l.message}`);
}

/**
 * A heartbeat that went out while the job's ack was in flight, both held up by the handover and
 * retried, and the ack landed first: LEASE_LOST, which the worker ignores (the ack reports itself).
 * No error reaches the worker's user.
 */
function heartbeatAfterAck(r: LoadResult, f: CallLog['failures'][number]): boolean {
  return f.method === 'heartbeat' && f.code === 'LEASE_LOST' && (r.acks.has(f.id!) || r.ambiguousAcks.has(f.id!));
}

describe('e2e: failover under load (two broker processes, one file: store)', () => {
  it('SIGKILL of the leader: clients and workers carry on through the standby; every acknowledged push is completed exactly once', async () => {
    const r = await failoverUnderLoad('SIGKILL');
    report('SIGKILL', r);
    expect(await r.leader.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(r.pushFailures).toEqual([]);
    await expectExactlyOnce(r);
    // Workers were not restarted: they acked jobs pushed after the standby took over.
    expect([...r.acks.keys()].filter((id) => r.acked.get(id)!.sent > r.standbyLeading.at).length).toBeGreaterThan(0);
    // What a worker may see of a SIGKILL: a claim whose connection was cut (not retried: it may
    // have leased jobs, which come back when their lease expires), and the ambiguous acks above.
    const expected = (f: CallLog['failures'][number]) =>
      (f.method === 'claim' && f.code === 'UNAVAILABLE') || (f.method === 'ack' && f.code === 'LEASE_LOST' && r.ambiguousAcks.has(f.id!)) || heartbeatAfterAck(r, f);
    expect(r.workerLog.failures.filter((f) => !expected(f))).toEqual([]);
    expect(r.leaseLost.filter((l) => !r.ambiguousAcks.has(l.id))).toEqual([]);
    // About one lease after the kill (plus the standby's check interval and re-read), the standby leads.
    expect(r.standbyLeading.at - r.killAt).toBeLessThan(LEASE_MS + 3000);
  });

  it('SIGTERM of the leader: no client call fails at all, the standby takes over, the old leader exits 0', async () => {
    const r = await failoverUnderLoad('SIGTERM');
    report('SIGTERM', r);
    expect(await r.leader.exited).toEqual({ code: 0, signal: null });
    expect(r.leader.stdout.at(-1)).toBe('drained: every request answered, leadership released, store closed');
    expect(r.pushFailures).toEqual([]);
    expect(r.workerLog.failures.filter((f) => !heartbeatAfterAck(r, f))).toEqual([]);
    expect(r.workerErrors).toEqual([]);
    expect(r.leaseLost).toEqual([]);
    await expectExactlyOnce(r);
    // The released lease is taken over at the standby's next look at the topic: its watcher ticks
    // every third of a lease and re-reads a topic at most once a second (STANDBY_RECHECK_MS).
    expect(r.standbyLeading.at - r.killAt).toBeLessThan(LEASE_MS / 3 + 1000 + 1000);
  });
});

describe('e2e: a broker restarted under the same --id', () => {
  it('takes its topic back at once instead of waiting out its own lease, with a new epoch', async () => {
    const LONG_LEASE = 120_000; // far longer than a restart takes: the standby wait is not what ends it
    const args = ['--store', store(), '--listen', '127.0.0.1:0', '--id', 'b0', '--lease-ms', String(LONG_LEASE)];
    const first = await startBrokerProcess(args);
    brokers.push(first);
    const call1 = api(first.url);
    expect((await call1('POST', '/v1/topics/jobs/jobs', { id: 'before', payload: 1 })).status).toBe(201);
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    const second = await startBrokerProcess(args);
    brokers.push(second);
    const claimed = await api(second.url)('POST', '/v1/topics/jobs/claim', { workerId: 'w', max: 1 });
    const ms = Date.now() - killedAt;
    console.log(`[restart under the same id] SIGKILL → restarted broker answered a claim in ${ms} ms (lease ${LONG_LEASE} ms)`);
    expect(claimed.status).toBe(200);
    expect(claimed.body.jobs.map((j: { id: string }) => j.id)).toEqual(['before']);
    const stats = await api(second.url)('GET', '/v1/topics/jobs');
    expect(stats.body.leader).toMatchObject({ id: 'b0', epoch: 2 });
  });
});
