/**
 * The Connect protocol with plain JSON over HTTP/1.1 (fetch: no bucketq client, no generated
 * code) against a real `bucketq broker` process: unary calls, errors mapped to Connect codes
 * (unauthenticated, invalid_argument, not_found, failed_precondition for LEASE_LOST), NOT_LEADER
 * from a standby naming the leader, and the JSON routes still served beside it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';

const TOKEN = 'connect-s3cret';
let leader: BrokerProcess;
let standby: BrokerProcess | undefined;
let dir: string;

async function rpc(base: string, method: string, body: unknown, token: string | null = TOKEN): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/bucketq.v1.Queue/${method}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bucketq-connect-'));
  leader = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--id', 'leader-1'], { BUCKETQ_TOKEN: TOKEN });
});

afterAll(async () => {
  for (const b of [leader, standby]) if (b && b.child.exitCode === null && b.child.signalCode === null) b.child.kill('SIGKILL');
  await Promise.all([leader?.exited, standby?.exited]);
  await rm(dir, { recursive: true, force: true });
});

describe('Connect JSON over HTTP/1.1', () => {
  it('pushes, claims, acks; payloads are plain JSON', async () => {
    const pushed = await rpc(leader.url, 'Push', { topic: 'cj', jobs: [{ id: 'a', payload: { to: 'ada', n: [1, 2] } }, { payload: 'text', priority: -1 }] });
    expect(pushed.status).toBe(200);
    expect(pushed.body.jobs).toHaveLength(2);
    expect(pushed.body.jobs[0]).toEqual({ id: 'a', created: true, state: 'pending' });
    const again = await rpc(leader.url, 'Push', { topic: 'cj', jobs: [{ id: 'a', payload: 1 }] });
    expect(again.body.jobs[0].created ?? false).toBe(false); // proto3 JSON leaves out defaults

    const claimed = await rpc(leader.url, 'Claim', { topic: 'cj', workerId: 'w1', max: 10 });
    expect(claimed.status).toBe(200);
    expect(claimed.body.jobs.map((j: any) => j.payload)).toEqual([{ to: 'ada', n: [1, 2] }, 'text']);
    const [a, b] = claimed.body.jobs;
    expect(a).toMatchObject({ id: 'a', attempt: 1, maxAttempts: 5 });
    expect(Number(a.leaseUntil)).toBeGreaterThan(Date.now());

    const hb = await rpc(leader.url, 'Heartbeat', { topic: 'cj', id: 'a', workerId: 'w1', lease: a.lease, leaseMs: 60000 });
    expect(Number(hb.body.leaseUntil)).toBeGreaterThan(Number(a.leaseUntil));
    const settled = await rpc(leader.url, 'Settle', {
      topic: 'cj',
      acks: [{ id: 'a', workerId: 'w1', lease: a.lease, result: { ok: 1 } }, { id: b.id, workerId: 'w1', lease: 'wrong' }],
      nacks: [{ id: b.id, workerId: 'w1', lease: b.lease, error: 'boom', delayMs: 60000 }],
    });
    expect(settled.status).toBe(200);
    expect(settled.body.acks[0]).toEqual({ ok: true, id: 'a' });
    expect(settled.body.acks[1]).toMatchObject({ error: { code: 'LEASE_LOST' } });
    expect(settled.body.nacks[0]).toMatchObject({ ok: true, id: b.id, state: 'delayed' });

    const got = await rpc(leader.url, 'Get', { topic: 'cj', id: b.id });
    expect(got.body).toMatchObject({ id: b.id, state: 'delayed', payload: 'text', priority: -1, lastError: 'boom' });
    const stats = await rpc(leader.url, 'Stats', { topic: 'cj' });
    expect(stats.body).toMatchObject({ topic: 'cj', delayed: '1', leader: { id: 'leader-1', url: leader.url } });
    const cancelled = await rpc(leader.url, 'Cancel', { topic: 'cj', id: b.id });
    expect(cancelled.body).toEqual({ id: b.id, state: 'cancelled' });
    const list = await rpc(leader.url, 'ListTopics', {});
    expect(list.body.topics.map((t: any) => t.topic)).toContain('cj');
    // The JSON routes beside it are unchanged.
    expect((await api(leader.url, TOKEN)('GET', '/v1/topics/cj')).body.topic).toBe('cj');
  });

  it('maps errors to Connect codes with the bucketq code in the metadata', async () => {
    const none = await rpc(leader.url, 'Stats', { topic: 'cj' }, null);
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('unauthenticated');
    const wrong = await rpc(leader.url, 'Stats', { topic: 'cj' }, 'not-it');
    expect(wrong.body.code).toBe('unauthenticated');

    const badTopic = await rpc(leader.url, 'Push', { topic: 'no spaces', jobs: [{ payload: 1 }] });
    expect(badTopic.status).toBe(400);
    expect(badTopic.body).toMatchObject({ code: 'invalid_argument' });
    expect(badTopic.body.message).toContain('topic must match');
    expect(badTopic.headers.get('bucketq-code')).toBe('INVALID_ARGUMENT');
    const badMax = await rpc(leader.url, 'Claim', { topic: 'cj', workerId: 'w', max: 0 });
    expect(badMax.body.code).toBe('invalid_argument');
    const noJobs = await rpc(leader.url, 'Push', { topic: 'cj', jobs: [] });
    expect(noJobs.body.code).toBe('invalid_argument');
    const notJson = await rpc(leader.url, 'Push', { topic: 'cj', jobz: [] });
    expect(notJson.body.code).toBe('invalid_argument');

    expect((await rpc(leader.url, 'Get', { topic: 'cj', id: 'nope' })).body.code).toBe('not_found');
    expect((await rpc(leader.url, 'Stats', { topic: 'never-made' })).body.code).toBe('not_found');
    const lost = await rpc(leader.url, 'Ack', { topic: 'cj', id: 'a', workerId: 'w1', lease: 'x' });
    expect(lost.body.code).toBe('failed_precondition');
    expect(lost.headers.get('bucketq-code')).toBe('LEASE_LOST');
  });

  it('a standby answers unavailable naming the leader', async () => {
    standby = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--id', 'standby-1'], { BUCKETQ_TOKEN: TOKEN });
    const res = await rpc(standby.url, 'Push', { topic: 'cj', jobs: [{ payload: 1 }] });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('unavailable');
    expect(res.body.message).toContain(leader.url);
    expect(res.headers.get('bucketq-leader')).toBe(leader.url);
    expect(res.headers.get('bucketq-code')).toBe('NOT_LEADER');
  });
});
