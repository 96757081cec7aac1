/**
 * End to end on Azure Blob Storage (Azurite, a real Blob service emulator): two `bucketq broker`
 * processes with `--store az://...` (AZURE_STORAGE_CONNECTION_STRING in their environment),
 * clients and workers that find the leader through the same container. The scenario of the
 * file: tests: push, claim, ack, nack until dead, SIGKILL of the leader and takeover by the
 * standby, with nothing lost: every pushed job is completed exactly once according to the
 * archive objects in the container, and the failing job is dead after its attempts.
 *
 * Synchronisation is by broker output lines, worker events and bounded polling, never by sleeping.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client/index.js';
import type { Queue } from '../../src/api.js';
import { openStore } from '../../src/storage/index.js';
import { createWorker } from '../../src/worker/index.js';
import type { Worker } from '../../src/worker/types.js';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';
import { startAzurite, type Azurite } from '../servers/azurite.js';

const TOPIC = 't';
const LEASE_MS = 1500;

let azurite: Azurite;
let storeUrl = '';
let savedConnectionString: string | undefined;
const brokers: BrokerProcess[] = [];
const workers: Worker<unknown, unknown>[] = [];
const clients: Queue<unknown>[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  storeUrl = `az://${await azurite.newContainer()}/bucketq`;
  // The clients in this process open the same store to find the leader.
  savedConnectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
  process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(workers.splice(0).map((w) => w.close({ timeoutMs: 0 })));
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  for (const b of brokers.splice(0)) {
    if (b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
    await b.exited;
  }
  if (savedConnectionString === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
  else process.env.AZURE_STORAGE_CONNECTION_STRING = savedConnectionString;
  await azurite?.stop();
});

async function broker(id: string): Promise<BrokerProcess> {
  const b = await startBrokerProcess(['--store', storeUrl, '--listen', '127.0.0.1:0', '--lease-ms', String(LEASE_MS), '--id', id], {
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
  });
  brokers.push(b);
  return b;
}

function client(url?: string): Queue<unknown> {
  const q = createClient({ store: storeUrl, topic: TOPIC, retry: { deadlineMs: 15_000 }, ...(url ? { url } : {}) });
  clients.push(q);
  return q;
}

/** Every record in the topic's archive objects, read from the container. */
async function archived(): Promise<Array<{ id: string; state: string; result?: unknown }>> {
  const s = await openStore(storeUrl);
  try {
    const out = [];
    for (const key of await s.list(`archive/${TOPIC}/`)) {
      const obj = await s.read(key);
      if (obj) out.push(...(JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: Array<{ id: string; state: string }> }).jobs);
    }
    return out;
  } finally {
    await s.close();
  }
}

describe('e2e on Azurite: brokers and workers on an az:// store', () => {
  it('push, claim, ack, nack to dead, SIGKILL of the leader and takeover: nothing lost', async () => {
    const a = await broker('A');
    expect(a.stdout.join('\n')).toContain('az://');
    expect(await api(a.url)('POST', `/v1/topics/${TOPIC}/claim`, { workerId: 'init' })).toMatchObject({ status: 200, body: { jobs: [] } });
    const b = await broker('B');
    expect(await api(b.url)('GET', `/v1/topics/${TOPIC}`)).toMatchObject({ status: 503, body: { error: { code: 'NOT_LEADER', leaderId: 'A' } } });

    const completed = new Map<string, number>();
    const handled = new Map<string, number>();
    const deadEvents: string[] = [];
    for (let i = 0; i < 2; i++) {
      const w = createWorker<unknown, unknown>(
        client(i === 1 ? b.url : undefined),
        async (job) => {
          handled.set(job.id, (handled.get(job.id) ?? 0) + 1);
          if ((job.payload as { fail?: boolean }).fail) throw new Error(`boom ${job.id}`);
          return { done: job.id };
        },
        { concurrency: 4, leaseMs: 5000, waitMs: 1000, workerId: `w${i}` },
      );
      w.on('completed', (job) => completed.set(job.id, (completed.get(job.id) ?? 0) + 1));
      w.on('failed', (job, _err, outcome) => outcome.state === 'dead' && deadEvents.push(job.id));
      workers.push(w);
    }

    const producer = client();
    const before = Array.from({ length: 30 }, (_, i) => ({ id: `a${i}`, payload: { n: i } }));
    expect((await producer.pushMany(before)).every((p) => p.created)).toBe(true);
    expect(await producer.push({ fail: true }, { id: 'bad', maxAttempts: 2, backoff: { type: 'fixed', delayMs: 0 } })).toEqual({ id: 'bad', created: true });
    await vi.waitFor(() => expect(completed.size).toBeGreaterThanOrEqual(10), { timeout: 20_000, interval: 20 });

    const standbyLeading = b.line(/^leading topic t \(epoch 2\)$/);
    const killAt = Date.now();
    a.child.kill('SIGKILL');
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // Pushed while nobody leads: the client retries until the standby has taken over.
    const after = Array.from({ length: 20 }, (_, i) => ({ id: `b${i}`, payload: { n: i } }));
    expect((await producer.pushMany(after)).every((p) => p.created)).toBe(true);
    const lead = await standbyLeading;
    console.log(`[e2e azure] SIGKILL → standby leading after ${lead.at - killAt} ms`);

    const ids = [...before, ...after].map((j) => j.id);
    await vi.waitFor(() => expect(ids.filter((id) => !completed.has(id))).toEqual([]), { timeout: 30_000, interval: 50 }).catch(async (e) => {
      // Say what is missing: the job's record and how often a handler ran it.
      for (const id of ids.filter((id) => !completed.has(id))) console.log(`[e2e azure] not completed: ${id} ${JSON.stringify(await producer.get(id))}, handled ${handled.get(id) ?? 0}x`);
      throw e;
    });
    // 'bad' dies either by a worker's nack of its last attempt (a 'failed' event saying dead) or,
    // when the SIGKILL took the answers of a commit that both nacked it and handed it to a parked
    // claim (the hand-off puts them in one commit), by that lost claim's lease running out: then no
    // worker ever ran the attempt and none reports it. Either way it is dead in the store, once.
    // When the SIGKILL took the answer of the commit of that last nack itself, the worker retries
    // the nack at B, which recognises the replay (the dead record names the nacking lease) and
    // answers it as the first try would have: the worker reports it dead all the same.
    await vi.waitFor(async () => expect(await producer.get('bad')).toMatchObject({ state: 'dead' }), { timeout: 20_000, interval: 100 });
    const bad = await producer.get('bad');
    if (/^lease expired/.test(bad.lastError ?? '')) expect(deadEvents).not.toContain('bad');
    else await vi.waitFor(() => expect(deadEvents).toContain('bad'), { timeout: 20_000, interval: 50 });
    await vi.waitFor(async () => expect(await producer.stats()).toMatchObject({ pending: 0, claimed: 0, delayed: 0, archiving: 0 }), { timeout: 15_000, interval: 100 });

    const stats = await producer.stats();
    expect(stats).toMatchObject({ dead: 1, counters: { pushed: ids.length + 1, completed: ids.length, dead: 1 } });
    expect((await api(b.url)('GET', `/v1/topics/${TOPIC}`)).body).toMatchObject({ leader: { id: 'B', epoch: 2 } });
    expect(await producer.get('bad')).toMatchObject({ state: 'dead', attempts: 2 });
    expect(bad.lastError).toMatch(/boom bad|^lease expired/);
    // The container's archive: each job completed exactly once, with its handler's result.
    const records = (await archived()).filter((r) => r.state === 'completed');
    const byId = new Map<string, number>();
    for (const r of records) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
    expect([...byId.keys()].sort()).toEqual([...ids].sort());
    expect([...byId.values()].every((n) => n === 1)).toBe(true);
    for (const r of records) expect(r.result).toEqual({ done: r.id });
    // Attempts count claims: a claim whose answer died with A used one attempt without a handler run.
    expect(handled.get('bad')).toBeGreaterThanOrEqual(1);
    expect(handled.get('bad')).toBeLessThanOrEqual(2);
  }, 90_000);
});
