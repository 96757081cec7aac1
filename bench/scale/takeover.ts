/**
 * Takeover with a deep backlog (issue 16): a second `bucketq broker` process is started as standby
 * on the same store (a `file:` dir or an `s3://` prefix), the leader is killed with SIGKILL, and a worker asks the standby for
 * one job (POST …/claim, every 20 ms) until it answers with one. Two times are reported: from
 * the kill, and from the moment the dead leader's lease went stale (its `leaseUntil` in
 * queue.json, read once after the kill): the first includes waiting out the lease (an operator's
 * setting, --lease-ms), the second is what the takeover itself costs (reading the head, electing,
 * serving from the window; the id index is built after, in the background).
 *
 * The standby is given time to be what a running standby is before the kill: it has read the
 * topic (it answers NOT_LEADER naming the leader) and probed the leader's URL (two probe
 * intervals, DEFAULT_LEADER_PROBE_MS each), so a leader whose URL then refuses connections is
 * taken over without waiting out its lease (server/leader-probe.ts). With the probe off
 * (--leader-probe-ms 0 in `standbyArgs`), "from the kill" includes the lease left.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_LEADER_PROBE_MS } from '../../src/server/broker-server.js';
import { openStore } from '../../src/storage/open.js';
import { startBroker, type BrokerProcess } from '../peers/bucketq.js';

export interface TakeoverCase {
  pending: number;
  /** SIGKILL of the leader → the standby answered a claim with a job. */
  fromKillMs: number;
  /** The dead leader's lease went stale → the standby answered a claim with a job. */
  fromStaleMs: number;
  leaseLeftMs: number;
}

async function leaseUntil(storeUrl: string, topic: string): Promise<number> {
  const store = await openStore(storeUrl);
  try {
    const obj = await store.read(`topics/${topic}/queue.json`);
    const head = JSON.parse(Buffer.from(obj!.body).toString('utf8')) as { broker: { leaseUntil: number } | null };
    return head.broker?.leaseUntil ?? 0;
  } finally {
    await store.close();
  }
}

/** Until the standby names the topic's leader (it read queue.json). */
async function knowsLeader(url: string, topic: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/v1/topics/${topic}`);
      const body = (await res.json()) as { error?: { code?: string } };
      if (body.error?.code === 'NOT_LEADER') return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`the standby at ${url} did not name the leader of ${topic} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function claimOne(url: string, topic: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/topics/${topic}/claim`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workerId: 'takeover-probe', max: 1 }) });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return false;
    }
    const body = (await res.json()) as { jobs: unknown[] };
    return body.jobs.length > 0;
  } catch {
    return false;
  }
}

/**
 * Kills `leader` (SIGKILL) once a standby on `storeUrl` listens; returns the standby, now leading, and
 * the times. `brokerId` names the standby (a fresh id: a restart under the old one would take over at once).
 */
export async function takeover(leader: BrokerProcess, storeUrl: string, topic: string, pending: number, brokerId: string, timeoutMs = 120_000, standbyArgs: string[] = []): Promise<{ standby: BrokerProcess; result: TakeoverCase }> {
  const standby = await startBroker(storeUrl, [], ['--id', brokerId, ...standbyArgs]);
  await knowsLeader(standby.url, topic, timeoutMs);
  await sleep(2 * DEFAULT_LEADER_PROBE_MS); // a running standby has probed the leader's URL by now
  process.kill(leader.pid, 'SIGKILL');
  const killedAt = Date.now();
  await leader.stop(); // reaps the killed process
  const stale = await leaseUntil(storeUrl, topic);
  const deadline = killedAt + timeoutMs;
  while (!(await claimOne(standby.url, topic))) {
    if (Date.now() > deadline) throw new Error(`the standby did not answer a claim within ${timeoutMs} ms of the leader's SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const answeredAt = Date.now();
  const result = { pending, fromKillMs: answeredAt - killedAt, fromStaleMs: answeredAt - Math.max(killedAt, stale), leaseLeftMs: Math.max(0, stale - killedAt) };
  return { standby, result };
}
