/**
 * A real `bucketq broker` process on a `file:` store whose topic directory is deleted while it
 * leads the topic: it re-creates nothing, answers STATE_LOST, says why on /readyz and in its log,
 * and serves the topic again only after `bucketq reset` (a CLI child process) restores it from
 * the broker's memory, every acknowledged job included.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokerPerTest, runCli } from '../broker-process.js';
import { api } from '../http-helpers.js';

const each = brokerPerTest('bucketq-state-lost-');
const LEASE_MS = 900; // renewed every 300 ms: the loss is found within about that

/** `p`, or a failure saying `why()` once `ms` have passed (a deadline, not a wait: it resolves as soon as `p` does). */
async function within<T>(ms: number, p: Promise<T>, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${why()}`)), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a broker process whose topic directory is deleted', () => {
  it('re-creates nothing, refuses the topic with STATE_LOST and lists it on /readyz until `bucketq reset` restores it', async () => {
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--id', 'p1', '--lease-ms', String(LEASE_MS), '--token', 'tok']);
    const call = api(proc.url, 'tok');
    for (const id of ['a', 'b', 'c']) expect(await call('POST', '/v1/topics/T/jobs', { id, payload: { id } })).toMatchObject({ status: 201 });
    expect(await call('POST', '/v1/topics/other/jobs', { payload: 1 })).toMatchObject({ status: 201 });

    const topicDir = join(each.dir, 'topics', 'T');
    await rm(topicDir, { recursive: true, force: true }); // an operator's rm -r, a lifecycle rule
    // No request: the leader's lease renewal finds the object gone, and says so once.
    await within(15_000, proc.line(/^state of topic T lost: .*topics\/T\/queue\.json vanished/), () => `no state-lost line; queue.json re-created: ${existsSync(topicDir)}`);

    const push = await call('POST', '/v1/topics/T/jobs', { id: 'd', payload: 1 });
    expect(push).toMatchObject({ status: 500, body: { error: { code: 'STATE_LOST' } } });
    const ready = await call('GET', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { ready: true, stateLost: [{ topic: 'T', code: 'STATE_LOST' }] } });
    expect(await call('POST', '/v1/topics/other/jobs', { payload: 2 })).toMatchObject({ status: 201 }); // other topics are served
    expect(existsSync(topicDir)).toBe(false); // nothing re-created: no empty queue.json at seq 1
    // Said once, in one line (the terminal's format; test/observability/logs.test.ts reads the JSON one).
    expect([...proc.stdout, ...proc.stderr].filter((l) => /state of topic T lost|topic T: state lost|"state-lost"/.test(l))).toHaveLength(1);

    const refused = await runCli(['reset', 'T', '--url', proc.url, '--token', 'tok']);
    expect(refused.code).toBe(2); // --confirm is required
    expect(refused.stderr).toMatch(/--confirm is required/);
    const reset = await runCli(['reset', 'T', '--confirm', '--restore-from-memory', '--url', proc.url, '--token', 'tok', '--json']);
    expect(reset.stderr).toBe('');
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout)).toMatchObject({ topic: 'T', action: 'restored', jobs: { pending: 3 } });

    expect((await call('GET', '/readyz')).body.stateLost).toBeUndefined();
    expect(await call('POST', '/v1/topics/T/jobs', { id: 'd', payload: 1 })).toMatchObject({ status: 201 });
    const claimed = await call('POST', '/v1/topics/T/claim', { workerId: 'w', max: 10 });
    expect(claimed.body.jobs.map((j: { id: string }) => j.id)).toEqual(['a', 'b', 'c', 'd']);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 60_000);
});
