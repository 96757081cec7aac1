/**
 * `bucketq broker` as a user meets it: a child process on port 0 that prints its URL, serves
 * /healthz, and on SIGTERM drains, releases its leases and exits 0. Plus help and usage errors.
 */
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/open.js';
import { brokerPerTest, dashboardLine, runCli } from '../broker-process.js';
import { api } from '../http-helpers.js';

const each = brokerPerTest('bucketq-cli-');

describe('bucketq broker', () => {
  it('prints its URL, serves, and on SIGTERM drains, releases leadership and exits 0', async () => {
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--id', 'cli-broker']);
    expect(proc.stdout[0]).toMatch(/^bucketq broker cli-broker listening on http:\/\/127\.0\.0\.1:\d+ \(advertise http:\/\/127\.0\.0\.1:\d+, store file:\S+, auth none\)$/);
    expect(proc.url).not.toMatch(/:0$/);
    // The dashboard's URL, said right after: the broker's own URL.
    expect((await proc.line(/^dashboard: /)).line).toBe(dashboardLine(proc.url));
    expect(proc.stdout.indexOf(dashboardLine(proc.url))).toBe(1);

    const call = api(proc.url);
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true, broker: 'cli-broker' } });
    expect(await call('POST', '/v1/topics/t/jobs', { id: 'j', payload: 1 })).toMatchObject({ status: 201 });

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.stdout.join('\n')).toMatch(/SIGTERM: draining[\s\S]*drained/);
    expect(proc.stderr).toEqual([]);

    // The lease was given up (leaseUntil 0), so a standby could take over at once; the job is kept.
    const store = await openStore(`file:${each.dir}`);
    try {
      const obj = await store.read('topics/t/queue.json');
      const state = JSON.parse(Buffer.from(obj!.body).toString('utf8')) as { broker: { id: string; leaseUntil: number }; jobs: Array<{ id: string }> };
      expect(state.broker).toMatchObject({ id: 'cli-broker', leaseUntil: 0 });
      expect(JSON.stringify(state.jobs)).toContain('"id":"j"');
    } finally {
      await store.close();
    }
  });

  it('--backlog bounds the head: jobs beyond a small window wait in segment objects and come out in order', async () => {
    const spec = 'windowJobs=8,lowWater=4,tailSealJobs=4,tailTotalJobs=8,segmentMaxJobs=16';
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--backlog', spec]);
    const call = api(proc.url);
    const jobs = Array.from({ length: 60 }, (_, n) => ({ id: `j${n}`, payload: n }));
    expect(await call('POST', '/v1/topics/t/jobs', { jobs })).toMatchObject({ status: 201 });
    const store = await openStore(`file:${each.dir}`);
    try {
      const head = JSON.parse(Buffer.from((await store.read('topics/t/queue.json'))!.body).toString('utf8')) as { jobs: unknown[]; backlog: { ready: unknown[] } };
      expect(head.jobs.length).toBeLessThanOrEqual(16);
      expect(head.backlog.ready.length).toBeGreaterThan(0);
      expect((await store.list('segments/t/')).length).toBe(head.backlog.ready.length);
    } finally {
      await store.close();
    }
    const got: number[] = [];
    while (got.length < 60) {
      const r = await call('POST', '/v1/topics/t/claim', { workerId: 'w', max: 60 - got.length, waitMs: 5000 });
      got.push(...(r.body as { jobs: Array<{ payload: number }> }).jobs.map((j) => j.payload));
    }
    expect(got).toEqual(jobs.map((j) => j.payload));
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });

  it('takes its token from BUCKETQ_TOKEN and never prints it', async () => {
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_TOKEN: 'env-token-123' });
    expect(proc.stdout[0]).toContain('auth token');
    expect(proc.stdout.join('\n')).not.toContain('env-token-123');
    expect(await api(proc.url)('GET', '/v1/topics')).toMatchObject({ status: 401 });
    expect(await api(proc.url, 'env-token-123')('GET', '/v1/topics')).toMatchObject({ status: 200, body: { topics: [] } });
    expect(await api(proc.url)('GET', '/healthz')).toMatchObject({ status: 200 });
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('takes a read-only token from BUCKETQ_READ_TOKEN: it reads, and changes are 403', async () => {
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_TOKEN: 'admin-token-1', BUCKETQ_READ_TOKEN: 'read-token-1' });
    expect(proc.stdout[0]).toContain('auth token + read-only token');
    expect(proc.stdout.join('\n')).not.toContain('read-token-1');
    expect(await api(proc.url, 'read-token-1')('GET', '/v1/topics')).toMatchObject({ status: 200 });
    expect(await api(proc.url, 'read-token-1')('POST', '/v1/topics/t/jobs', { payload: 1 })).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED' } } });
    expect(await api(proc.url, 'admin-token-1')('POST', '/v1/topics/t/jobs', { payload: 1 })).toMatchObject({ status: 201 });
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('reads its tokens from files (--read-token-file, BUCKETQ_TOKEN_FILE), and so do the client commands (--token-file)', async () => {
    const admin = join(each.dir, 'admin-token');
    const reader = join(each.dir, 'read-token');
    const wrong = join(each.dir, 'wrong-token');
    await writeFile(admin, 'file-admin-token\n');
    await writeFile(reader, 'file-read-token\n');
    await writeFile(wrong, 'not-it\n');
    const proc = await each.start(['--store', `file:${each.dir}/store`, '--listen', '127.0.0.1:0', '--read-token-file', reader], { BUCKETQ_TOKEN_FILE: admin });
    expect(proc.stdout[0]).toContain('auth token + read-only token');
    expect(await api(proc.url, 'file-read-token')('GET', '/v1/topics')).toMatchObject({ status: 200 });
    expect(await api(proc.url, 'file-admin-token')('POST', '/v1/topics/t/jobs', { payload: 1 })).toMatchObject({ status: 201 });
    const push = await runCli(['push', 't', '{"n":2}', '--url', proc.url, '--token-file', admin, '--json']);
    expect(push).toMatchObject({ code: 0 });
    const refused = await runCli(['stats', 't', '--url', proc.url, '--json'], { BUCKETQ_TOKEN_FILE: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trimEnd()).toMatch(/^bucketq stats: the broker refused the token given: it is not one of its tokens; /);
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('cuts connections that send no request head or no AUTH in time, and logs it at warn', async () => {
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--resp-listen', '127.0.0.1:0', '--headers-timeout-ms', '300', '--resp-auth-timeout-ms', '300', '--log-level', 'warn', '--log-format', 'json'], { BUCKETQ_TOKEN: 'cli-cut-token' });
    const respUrl = new URL((JSON.parse(proc.stdout[0]!) as { resp: string }).resp);
    const silent = (port: number) =>
      new Promise<string>((resolve) => {
        let got = '';
        const s = connect(port, '127.0.0.1');
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.on('error', () => {});
        s.on('close', () => resolve(got));
      });
    expect(await silent(Number(new URL(proc.url).port))).toBe('');
    expect(await silent(Number(respUrl.port))).toMatch(/^-NOAUTH Authentication required: no AUTH within 300 ms/);
    for (const [listener, reason] of [['http', 'headers-timeout'], ['resp', 'auth-timeout']]) {
      const { line } = await proc.line((l) => l.startsWith('{') && l.includes(`"reason":"${reason}"`));
      expect(JSON.parse(line)).toMatchObject({ level: 'warn', event: 'connection-rejected', listener, reason, address: '127.0.0.1', count: 1 });
    }
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it('--help prints the manual; bucketq --help lists every command', async () => {
    const manual = await runCli(['broker', '--help']);
    expect(manual.code).toBe(0);
    for (const word of ['NAME', 'SYNOPSIS', 'dashboard: URL/', 'the dashboard, a web console', '--log-format pretty|json', 'BUCKETQ_LOG_FORMAT', '--store URL', '--listen HOST:PORT', '--advertise URL', '--token', 'BUCKETQ_TOKEN', '--token-file', 'BUCKETQ_TOKEN_FILE', '--read-token', 'BUCKETQ_READ_TOKEN', '--read-token-file', '--leader-probe-ms', 'SIGTERM', '--lease-ms', '--max-body-bytes', '--max-body-bytes-in-flight', '--recent-window-ms', '--max-connections-per-address', '--headers-timeout-ms', '--resp-auth-timeout-ms', '--resp-idle-timeout-ms', '--resp-max-unauthenticated', '--resp-max-clients-per-address']) {
      expect(manual.stdout).toContain(word);
    }
    const all = await runCli(['--help']);
    expect(all.code).toBe(0);
    for (const name of ['broker', 'push', 'claim', 'ack', 'nack', 'heartbeat', 'get', 'cancel', 'retry', 'stats', 'topics', 'inspect', 'work']) {
      expect(all.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    }
    expect(all.stdout).toMatch(/^ {2}broker +run a network broker/m);
  });

  it('reports bad usage in one line on stderr with exit status 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['broker', '--bogus'], /^bucketq broker: .*--bogus.*\(see bucketq broker --help\)$/],
      [['broker', '--lease-ms', 'soon'], /^bucketq broker: --lease-ms must be a duration such as 500ms, 30s, 2m or 1h \(a bare number is milliseconds\), got "soon"/],
      [['broker', '--recent-max-ids', 'all'], /^bucketq broker: --recent-max-ids must be a whole number of at least 0/],
      [['broker', '--headers-timeout-ms', '0'], /^bucketq broker: --headers-timeout-ms must be from 1ms to /],
      [['broker', '--resp-idle-timeout-ms', 'never'], /^bucketq broker: --resp-idle-timeout-ms must be a duration such as/],
      [['broker', '--listen', 'nowhere'], /^bucketq broker: --listen must be HOST:PORT/],
      [['broker', '--listen', '0.0.0.0:0', '--store', `file:${each.dir}`], /^bucketq broker: listening on 0\.0\.0\.0 needs --advertise URL/],
      [['broker', '--advertise', 'http://0.0.0.0:8080', '--store', `file:${each.dir}`], /^bucketq broker: --advertise .* unspecified address/],
      [['broker', '--store', 'nope:x'], /^bucketq broker: Invalid store URL/],
      [['broker', '--read-token', 'r'], /^bucketq broker: --read-token needs --token/],
      [['broker', '--token', 't', '--read-token', 't'], /^bucketq broker: --read-token must differ from --token /],
      [['broker', '--token', 't', '--token-file', `${each.dir}/none`], /^bucketq broker: give --token or --token-file, not both \(see bucketq broker --help\)$/],
      [['broker', '--token-file', `${each.dir}/none`], /^bucketq broker: --token-file: cannot read .*\/none \(ENOENT\)/],
      [['push', 't', '1', '--token-file', `${each.dir}/none`], /^bucketq push: --token-file: cannot read .*\/none \(ENOENT\)/],
      [['broker', '--max-body-bytes-in-flight', '1K'], /^bucketq broker: --max-body-bytes-in-flight must be at least --max-body-bytes \(16777216 bytes\)/],
      [['broker', '--max-body-bytes-in-flight', 'lots'], /^bucketq broker: --max-body-bytes-in-flight must be a size/],
      [['broker', '--backlog', 'windowJobs=many'], /^bucketq broker: --backlog: backlog bound windowJobs must be a whole number \(bytes may end in K or M\), got "many"/],
      [['broker', '--backlog', 'window=10'], /^bucketq broker: --backlog: backlog bound "window" is unknown \(known: windowJobs, /],
      [['broker', '--backlog', 'lowWater=2000'], /^bucketq broker: --backlog: backlog bound lowWater \(2000\) must be below windowJobs \(1024\)/],
      [['frobnicate'], /^bucketq: unknown command "frobnicate" \(see bucketq --help\)$/],
      [['brokr'], /^bucketq: unknown command "brokr" \(did you mean broker\?\) \(see bucketq --help\)$/],
      [['broker', '--tokne', 't'], /^bucketq broker: Unknown option '--tokne' \(did you mean --token\?\) \(see bucketq broker --help\)$/],      // node's message for a value that looks like an option spans three lines: one here.
      [['broker', '--listen', '-x'], /^bucketq broker: Option '--listen' argument is ambiguous\. Did you forget .* '--listen=-XYZ'\. \(see bucketq broker --help\)$/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    runs.forEach((r, i) => {
      const [args, pattern] = cases[i]!;
      const stderr = r.stderr.trimEnd();
      expect({ args, code: r.code, lines: stderr.split('\n').length, stderr }).toEqual({ args, code: 2, lines: 1, stderr: expect.stringMatching(pattern) });
    });
  });

  it('fails with one line and status 1 when the address is taken', async () => {
    const proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0']);
    const taken = new URL(proc.url).host;
    const r = await runCli(['broker', '--store', `file:${each.dir}`, '--listen', taken]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd()).toMatch(new RegExp(`^bucketq broker: cannot listen on ${taken.replace('.', '\\.')}: the address is in use \\(UNAVAILABLE\\)$`));
  });
});
