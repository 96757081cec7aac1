/**
 * Logs as an operator meets them: `bucketq broker` prints JSON records only into a pipe (the
 * startup record first, its msg the startup line scripts wait for) and human lines only on a
 * terminal (BUCKETQ_LOG_FORMAT / --log-format force either), one line per event, never the token;
 * --log-level filters all but the startup, leadership, drain and error lines. A library user
 * passes any pino-style logger; the default is silent.
 */
import { describe, expect, it } from 'vitest';
import { startBrokerServer } from '../../src/server/broker-server.js';
import type { Logger } from '../../src/server/logger.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { logFormatOf } from '../../src/cli/broker-output.js';
import { brokerPerTest, dashboardLine, runCli } from '../broker-process.js';
import { api } from '../http-helpers.js';

const TOKEN = 'tok-7f3a9c-never-logged';
const each = brokerPerTest('bucketq-logs-');

function jsonLines(lines: readonly string[]): Array<Record<string, any>> {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
}

describe('bucketq broker logs: JSON into a pipe, human lines on a terminal, one line per event', () => {
  it('json (debug): every stdout line is a JSON record, the startup record first, one per leadership change; no token anywhere', async () => {
    // Injected transient failures (seeded): the broker retries them and logs each failed call.
    const proc = await each.start(['--store', `file:${each.dir}?failRate=0.2&seed=7`, '--listen', '127.0.0.1:0', '--id', 'log-broker', '--log-level', 'debug', '--slow-commit-ms', '0'], {
      BUCKETQ_TOKEN: TOKEN,
      BUCKETQ_LOG_FORMAT: 'json',
    });
    const call = api(proc.url, TOKEN);
    for (let i = 0; i < 10; i++) expect((await call('POST', '/v1/topics/t/jobs', { payload: i })).status).toBe(201);
    await proc.line(/"event":"leader"/);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });

    expect(proc.stdout.filter((l) => !l.startsWith('{'))).toEqual([]);
    const logs = jsonLines(proc.stdout);
    for (const l of logs) {
      expect(l).toMatchObject({ name: 'bucketq', level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/), time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), msg: expect.any(String) });
    }
    // The startup record: its msg is the terminal's startup line, so " listening on URL " scripts still match.
    expect(logs[0]).toMatchObject({ event: 'listening', level: 'info', broker: 'log-broker', url: proc.url, auth: 'token', msg: expect.stringMatching(/^bucketq broker log-broker listening on http:\/\/127\.0\.0\.1:\d+ \(advertise /) });
    expect(logs.find((l) => l.event === 'started')).toMatchObject({ level: 'info', broker: 'log-broker', url: proc.url, store: expect.stringMatching(/^file:/), leaseMs: 10_000 });
    expect(logs.filter((l) => l.event === 'leader')).toEqual([expect.objectContaining({ level: 'info', topic: 't', epoch: 1 })]);
    expect(logs.find((l) => l.event === 'storage-error')).toMatchObject({ level: 'warn', op: expect.any(String), error: { code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/Injected failure/) } });
    expect(logs.find((l) => l.event === 'slow-commit')).toMatchObject({ level: 'debug', topic: 't', seq: expect.any(Number), ms: expect.any(Number), requests: expect.any(Number), bytes: expect.any(Number) });
    const events = logs.map((l) => l.event);
    expect(events.indexOf('draining')).toBeGreaterThan(events.indexOf('leader'));
    expect(events.at(-1)).toBe('stopped');
    // Errors are records too (the janitor listing archives may give up under the injected faults): stderr stays empty.
    expect(proc.stderr).toEqual([]);
    for (const l of logs.filter((r) => r.event === 'internal-error')) expect(l).toMatchObject({ level: 'error', topic: 't', op: expect.any(String), error: { code: expect.any(String) } });
    expect([...proc.stdout, ...proc.stderr].join('\n')).not.toContain(TOKEN);
  });

  it('pretty: human lines only, one per leadership change, the dashboard URL after the startup line; storage warnings on stderr', async () => {
    const proc = await each.start(['--store', `file:${each.dir}?failRate=0.2&seed=7`, '--listen', '127.0.0.1:0', '--id', 'pretty-broker'], { BUCKETQ_LOG_FORMAT: 'pretty' });
    for (let i = 0; i < 10; i++) await api(proc.url)('POST', '/v1/topics/t/jobs', { payload: i });
    await proc.line(/^leading topic t /);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect([...proc.stdout, ...proc.stderr].filter((l) => l.startsWith('{'))).toEqual([]);
    expect(proc.stdout[0]).toMatch(/^bucketq broker pretty-broker listening on http:\/\/127\.0\.0\.1:\d+ \(advertise .*, auth none\)$/);
    expect(proc.stdout[1]).toBe(dashboardLine(proc.url));
    expect(proc.stdout.filter((l) => l.includes('topic t'))).toEqual(['leading topic t (epoch 1)']);
    expect(proc.stdout.slice(-2)).toEqual(['SIGTERM: draining (refusing new requests, finishing commits, releasing leadership)', 'drained: every request answered, leadership released, store closed']);
    expect(proc.stderr.find((l) => l.startsWith('warn: storage '))).toMatch(/^warn: storage \w+ failed \(op \w+, key \S+, ms \d+, error STORE_UNAVAILABLE: Injected failure/);
  });

  it('silent prints only what is printed whatever the level, in either format; --metrics-listen names its port', async () => {
    let proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_LOG_LEVEL: 'silent' });
    await api(proc.url)('POST', '/v1/topics/t/jobs', { payload: 1 });
    await proc.line(/^leading topic t /);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.stdout.map((l) => l.replace(/ \(advertise .*/, ''))).toEqual([
      `bucketq broker ${/broker (\S+) listening/.exec(proc.stdout[0]!)![1]} listening on ${proc.url}`,
      dashboardLine(proc.url),
      'leading topic t (epoch 1)',
      'SIGTERM: draining (refusing new requests, finishing commits, releasing leadership)',
      'drained: every request answered, leadership released, store closed',
    ]);

    proc = await each.start(['--store', `file:${each.dir}/json`, '--listen', '127.0.0.1:0', '--log-level', 'silent', '--log-format', 'json']);
    await api(proc.url)('POST', '/v1/topics/t2/jobs', { payload: 1 });
    await proc.line(/"event":"leader"/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(jsonLines(proc.stdout).map((l) => l.event)).toEqual(['listening', 'leader', 'draining', 'stopped']);

    proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--slow-commit-ms', '0', '--metrics-listen', '127.0.0.1:0']);
    for (let i = 0; i < 3; i++) await api(proc.url)('POST', '/v1/topics/t/jobs', { payload: i });
    // --metrics-listen: a human line names the metrics-only port, after the startup line.
    const metricsUrl = /^metrics on (http:\/\/\S+)$/.exec((await proc.line(/^metrics on /)).line)![1]!;
    expect(proc.stdout.findIndex((l) => l.startsWith('metrics on '))).toBe(1);
    expect(await (await fetch(`${metricsUrl}/metrics`)).text()).toMatch(/^bucketq_commit_duration_seconds_count\{topic="t"\} [1-9]/m);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);

    proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--slow-commit-ms', '0', '--metrics-listen', '127.0.0.1:0'], { BUCKETQ_LOG_FORMAT: 'json' });
    for (let i = 0; i < 3; i++) await api(proc.url)('POST', '/v1/topics/t/jobs', { payload: i });
    await proc.line(/"event":"leader"/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const logs = jsonLines(proc.stdout);
    expect(logs[0]).toMatchObject({ event: 'listening', metrics: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    const levels = new Set(logs.map((l) => l.level));
    expect(levels.has('info')).toBe(true);
    expect(levels.has('debug')).toBe(false);
  });

  it('refuses an unknown level or format in one line, exit 2', async () => {
    const r = await runCli(['broker', '--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--log-level', 'verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
    const env = await runCli(['broker', '--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_LOG_LEVEL: 'loud' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/BUCKETQ_LOG_LEVEL must be one of/);
    const format = await runCli(['broker', '--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_LOG_FORMAT: 'jsno' });
    expect(format).toMatchObject({ code: 2, stderr: 'bucketq broker: BUCKETQ_LOG_FORMAT must be pretty or json, got "jsno" (did you mean json?) (see bucketq broker --help)\n' });
  });
});

describe('the log format', () => {
  it('is pretty on a terminal and json elsewhere, unless --log-format or BUCKETQ_LOG_FORMAT says', () => {
    expect([logFormatOf(undefined, {}, true), logFormatOf(undefined, {}, false)]).toEqual(['pretty', 'json']);
    expect([logFormatOf(undefined, { BUCKETQ_LOG_FORMAT: 'json' }, true), logFormatOf(undefined, { BUCKETQ_LOG_FORMAT: 'pretty' }, false)]).toEqual(['json', 'pretty']);
    expect(logFormatOf('json', { BUCKETQ_LOG_FORMAT: 'pretty' }, true)).toBe('json');
  });
});

describe('BrokerServer logger option', () => {
  it('takes any pino-style logger: slow commits at debug, leadership at info, never the token', async () => {
    const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
    const at = (level: string) => (fields: object, message: string) => lines.push({ level, fields: fields as Record<string, unknown>, message });
    const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
    const server = await startBrokerServer({ store: createMemoryStore(), listen: '127.0.0.1:0', token: TOKEN, logger, slowCommitMs: 0 });
    try {
      expect((await api(server.url, TOKEN)('POST', '/v1/topics/t/jobs', { payload: 1 })).status).toBe(201);
    } finally {
      await server.close();
    }
    expect(lines.find((l) => l.fields.event === 'started')).toMatchObject({ level: 'info', fields: { store: 'memory', url: server.url } });
    expect(lines.find((l) => l.fields.event === 'leader')).toMatchObject({ level: 'info', fields: { topic: 't', epoch: 1 } });
    expect(lines.find((l) => l.fields.event === 'slow-commit')).toMatchObject({ level: 'debug', fields: { topic: 't', seq: expect.any(Number), requests: expect.any(Number) } });
    const events = lines.map((l) => l.fields.event);
    expect(events.indexOf('draining')).toBeGreaterThan(events.indexOf('leader'));
    expect(events.at(-1)).toBe('stopped');
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
  });
});
