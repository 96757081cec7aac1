/**
 * Two brokers on one `file:` store. The standby answers NOT_LEADER naming the leader; it takes a
 * topic over at once when the leader drains (close releases the lease), and within about one lease
 * when the leader process is SIGKILLed, with no client talking to the standby (its watcher does it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';

let dir = '';
const servers: BrokerServer[] = [];
let child: BrokerProcess | null = null;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bucketq-failover-'));
});

afterEach(async () => {
  child?.child.kill('SIGKILL');
  if (child) await child.exited;
  child = null;
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startBrokerServer>[0]): Promise<BrokerServer> {
  const s = await startBrokerServer({ store: `file:${dir}`, listen: '127.0.0.1:0', ...options });
  servers.push(s);
  return s;
}

/** Resolves when `broker` takes the lease of `topic`. */
function leads(broker: Broker, topic: string): Promise<{ epoch: number }> {
  return new Promise((resolve) => {
    const on = (e: { topic: string; epoch: number }) => {
      if (e.topic !== topic) return;
      broker.events.off('leader', on);
      resolve(e);
    };
    broker.events.on('leader', on);
  });
}

describe('failover', () => {
  it('a standby answers NOT_LEADER with the leader URL, and takes over at once when the leader drains', async () => {
    // A long lease: only the released lease can explain a takeover within a few seconds. A's store
    // calls take 30 ms more, so its drain lasts long enough for B's probe (below) to notice a
    // refusal during it, if there were one.
    const a = await start({ leaseMs: 10_000, store: `file:${dir}?latency=30` });
    const callA = api(a.url);
    expect(await callA('POST', '/v1/topics/orders/jobs', { jobs: [{ id: 'o1', payload: 1 }, { id: 'o2', payload: 2 }] })).toMatchObject({ status: 201 });

    // B probes A's URL every 20 ms: A keeps listening until it released its leases, so B never
    // takes a draining A for a dead one (which would fence A's last commits of the drain).
    const b = await start({ leaseMs: 10_000, standbyCheckMs: 100, leaderProbeMs: 20 });
    const fenced: unknown[] = [];
    a.broker.events.on('fenced', (e) => fenced.push(e));
    const callB = api(b.url);
    for (const [method, path, body] of [
      ['GET', '/v1/topics/orders', undefined],
      ['POST', '/v1/topics/orders/jobs', { payload: 3 }],
      ['POST', '/v1/topics/orders/claim', { workerId: 'w' }],
    ] as const) {
      const r = await callB(method, path, body);
      expect(r).toMatchObject({ status: 503, body: { error: { code: 'NOT_LEADER', leader: a.advertiseUrl, leaderId: a.broker.id } } });
    }
    const list = await callB('GET', '/v1/topics');
    expect(list.body.topics).toEqual([
      { topic: 'orders', leader: expect.objectContaining({ id: a.broker.id, url: a.advertiseUrl }), error: expect.objectContaining({ code: 'NOT_LEADER' }) },
    ]);

    // A worker holds o1 through A; another waits in a long poll on A.
    const held = await callA('POST', '/v1/topics/orders/claim', { workerId: 'w1', leaseMs: 60_000 });
    expect(held.body.jobs).toMatchObject([{ id: 'o1' }]);
    await callA('POST', '/v1/topics/orders/claim', { workerId: 'w0' }); // takes o2: nothing left to claim
    const waiting = callA('POST', '/v1/topics/orders/claim', { workerId: 'w2', waitMs: 20_000 });
    await vi.waitFor(() => expect(a.inFlight).toBe(1), { timeout: 5_000 });

    const takeover = leads(b.broker, 'orders');
    const started = Date.now();
    await a.close();
    expect(await waiting).toMatchObject({ status: 200, body: { jobs: [] } }); // answered by the drain
    expect((await takeover).epoch).toBe(2);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fenced).toEqual([]);
    await expect(fetch(`${a.url}/healthz`)).rejects.toThrow();

    // B serves the topic; the lease taken through A is still good.
    const stats = await callB('GET', '/v1/topics/orders');
    expect(stats).toMatchObject({ status: 200, body: { claimed: 2, leader: { id: b.broker.id, url: b.advertiseUrl, epoch: 2 } } });
    const o1 = held.body.jobs[0] as { id: string; lease: string };
    expect(await callB('POST', '/v1/topics/orders/jobs/o1/ack', { workerId: 'w1', lease: o1.lease })).toMatchObject({ status: 200, body: { id: 'o1' } });
  });

  it('a leader killed with SIGKILL is replaced within about one lease, with no client talking to the standby', async () => {
    const LEASE_MS = 600;
    child = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--lease-ms', String(LEASE_MS)]);
    const callLeader = api(child.url);
    expect(await callLeader('POST', '/v1/topics/mail/jobs', { jobs: [{ id: 'm1', payload: 'a' }, { id: 'm2', payload: 'b' }] })).toMatchObject({ status: 201 });

    const b = await start({ leaseMs: LEASE_MS, leaderProbeMs: 0 }); // the lease alone, without the probe
    const callB = api(b.url);
    expect(await callB('GET', '/v1/topics/mail')).toMatchObject({ status: 503, body: { error: { code: 'NOT_LEADER', leader: child.url } } });

    const takeover = leads(b.broker, 'mail');
    child.child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await takeover).epoch).toBe(2);
    // The lease runs out at most LEASE_MS after the kill; the standby re-reads within a second.
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS + 1000 + 1000);

    expect(await callB('GET', '/v1/topics/mail')).toMatchObject({ status: 200, body: { pending: 2, leader: { id: b.broker.id, epoch: 2 } } });
    expect(await callB('GET', '/v1/topics/mail/jobs/m2')).toMatchObject({ status: 200, body: { id: 'm2', payload: 'b' } });
  });

  it('a leader killed with SIGKILL is replaced long before its lease runs out: its URL refuses connections', async () => {
    // A lease longer than the test's timeout: only the probe can explain the takeover.
    child = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--lease-ms', '300000']);
    expect(await api(child.url)('POST', '/v1/topics/mail/jobs', { jobs: [{ id: 'm1', payload: 'a' }] })).toMatchObject({ status: 201 });
    expect(await api(child.url)('POST', '/v1/topics/news/jobs', { jobs: [{ id: 'n1', payload: 'b' }] })).toMatchObject({ status: 201 });

    const warned: Array<{ event?: string; leader?: unknown; topics?: string[] }> = [];
    const quiet = () => {};
    const b = await start({ leaseMs: 300_000, leaderProbeMs: 50, standbyCheckMs: 100, logger: { error: quiet, info: quiet, debug: quiet, warn: (fields: object) => warned.push(fields) } });
    // The standby knows both topics' leader (its watcher read them), and has seen its URL open.
    await vi.waitFor(() => expect(['mail', 'news'].map((t) => b.broker.loopIfOpen(t)?.leaderLease?.url)).toEqual([child!.url, child!.url]), { timeout: 10_000 });
    await b.watcher.probe!.check();

    const takeovers = Promise.all([leads(b.broker, 'mail'), leads(b.broker, 'news')]);
    child.child.kill('SIGKILL');
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await takeovers).map((e) => e.epoch)).toEqual([2, 2]);
    expect(warned.filter((w) => w.event === 'leader-gone')).toEqual([{ event: 'leader-gone', leader: { url: child.url, id: expect.any(String) }, topics: ['mail', 'news'] }]);
    expect(await api(b.url)('GET', '/v1/topics/mail/jobs/m1')).toMatchObject({ status: 200, body: { id: 'm1', payload: 'a' } });
  });

  it('a fresh broker takes over topics that nobody leads without being asked', async () => {
    const a = await start({ leaseMs: 10_000 });
    await api(a.url)('POST', '/v1/topics/idle/jobs', { payload: 1 });
    await a.close(); // released: nobody leads the topic now

    const b = await start({ leaseMs: 10_000 });
    await vi.waitFor(() => expect(b.broker.loop('idle').isLeading).toBe(true), { timeout: 5_000 });
    expect(b.broker.loop('idle').leaderLease).toMatchObject({ id: b.broker.id, epoch: 2 });
  });
});
