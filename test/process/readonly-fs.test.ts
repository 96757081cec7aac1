/**
 * A broker process on a `file:` store whose filesystem stops taking writes while the broker sits
 * idle: remounted read-only, or full (ENOSPC). Reads still work, so only the failed lease
 * renewals can tell; /readyz must turn 503 `commit-failing` with the filesystem's error, and 200
 * again once writes work, both without a single request to the API.
 *
 * A real filesystem: a tmpfs mounted for the test (root, CAP_SYS_ADMIN). chmod would not do: root
 * ignores permissions. Where mounting is not allowed the test is skipped with a printed reason; the
 * same behaviour is covered with the `faulty` decorator in test/observability/state-lost.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import { api } from '../http-helpers.js';

function run(cmd: string, ...args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

/** Whether this process may mount a tmpfs (tried once, on a scratch directory). */
function mountWorks(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  const dir = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
  const m = run('mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir);
  if (m.ok) run('umount', dir);
  run('rmdir', dir);
  return m.ok ? null : `cannot mount a tmpfs here (${m.output || 'mount failed'}): needs root with CAP_SYS_ADMIN`;
}

const whyNot = mountWorks();
if (whyNot) console.log(`test/process/readonly-fs.test.ts skipped: ${whyNot}`);

const LEASE_MS = 900; // renewed every 300 ms
let mountPoint = '';
let proc: BrokerProcess | null = null;

afterEach(async () => {
  if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
  proc = null;
  if (mountPoint) {
    run('umount', '-l', mountPoint);
    await rmdir(mountPoint).catch(() => undefined);
    mountPoint = '';
  }
});

/** Polls /readyz until `want(answer)` holds, failing after `ms` (a deadline, not a sleep). */
async function readyzUntil(url: string, want: (a: { status: number; body: any }) => boolean, ms = 20_000): Promise<{ status: number; body: any }> {
  const end = Date.now() + ms;
  let last: { status: number; body: any } | null = null;
  while (Date.now() < end) {
    last = await api(url)('GET', '/readyz');
    if (want(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`/readyz never matched within ${ms} ms; last answer: ${JSON.stringify(last)}`);
}

describe.skipIf(whyNot !== null)('a broker whose filesystem stops taking writes', () => {
  it.each([
    ['remounted read-only', async (dir: string) => expect(run('mount', '-o', 'remount,ro', dir)).toMatchObject({ ok: true }), async (dir: string) => expect(run('mount', '-o', 'remount,rw', dir)).toMatchObject({ ok: true }), /EROFS/],
    [
      'full',
      async (dir: string) => {
        // Fill what is left; the broker's next version file cannot be written.
        const chunk = Buffer.alloc(64 * 1024, 1);
        for (let i = 0; ; i++) {
          try {
            await writeFile(join(dir, `filler-${i}`), chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
            throw err;
          }
        }
      },
      async (dir: string) => {
        for (let i = 0; ; i++) if (!(await rm(join(dir, `filler-${i}`)).then(() => true, () => false))) return;
      },
      /ENOSPC/,
    ],
  ] as const)('%s: /readyz turns 503 commit-failing with the error while idle, and 200 once writes work', async (_name, breakFs, repairFs, errorPattern) => {
    mountPoint = await mkdtemp(join(tmpdir(), 'bucketq-rofs-'));
    expect(run('mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint)).toMatchObject({ ok: true });
    proc = await startBrokerProcess(['--store', `file:${mountPoint}`, '--listen', '127.0.0.1:0', '--lease-ms', String(LEASE_MS)]);
    const call = api(proc.url);
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'a', payload: 1 })).toMatchObject({ status: 201 });
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200 });

    await breakFs(mountPoint);
    const down = await readyzUntil(proc.url, (a) => a.status === 503);
    expect(down.body).toMatchObject({ ready: false, reason: 'commit-failing', error: { code: 'UNAVAILABLE' }, topics: [{ topic: 't', reason: 'commit-failing' }] });
    expect(down.body.error.message).toMatch(errorPattern);
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'b', payload: 2 })).toMatchObject({ status: 503, body: { error: { code: 'UNAVAILABLE' } } });

    await repairFs(mountPoint);
    await readyzUntil(proc.url, (a) => a.status === 200);
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'b', payload: 2 })).toMatchObject({ status: 201 });
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 90_000);
});
