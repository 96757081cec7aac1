/**
 * Structured logs as an operator meets them: `bucketq broker --log-level LEVEL` prints JSON lines
 * on stdout after the human startup line (which scripts wait for), never the token; `silent`
 * prints only the human lines. A library user passes any pino-style logger; the default is silent.
 */
import { describe, expect, it } from 'vitest';
import { startBrokerServer } from '../../src/server/broker-server.js';
import type { Logger } from '../../src/server/logger.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { brokerPerTest, runCli } from '../broker-process.js';
import { api } from '../http-helpers.js';

const TOKEN = 'tok-7f3a9c-never-logged';
const each = brokerPerTest('bucketq-logs-');

function jsonLines(lines: readonly string[]): Array<Record<string, any>> {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
}

describe('bucketq broker --log-level', () => {
  it('debug: JSON lines for startup, leadership, storage errors and shutdown; the URL line stays first; no token anywhere', async () => {
    // Injected transient failures (seeded): the broker retries them and logs each failed call.
    const proc = await each.start(['--store', `file:${each.dir}?failRate=0.2&seed=7`, '--listen', '127.0.0.1:0', '--id', 'log-broker', '--log-level', 'debug', '--slow-commit-ms', '0'], { BUCKETQ_TOKEN: TOKEN });
    expect(proc.stdout[0]).toMatch(/^bucketq broker log-broker listening on /);
    const call = api(proc.url, TOKEN);
    for (let i = 0; i < 10; i++) expect((await call('POST', '/v1/topics/t/jobs', { payload: i })).status).toBe(201);
    await proc.line(/"event":"leader"/);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });

    const logs = jsonLines(proc.stdout);
    for (const l of logs) {
      expect(l).toMatchObject({ name: 'bucketq', level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/), time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), msg: expect.any(String) });
    }
    expect(logs.find((l) => l.event === 'started')).toMatchObject({ level: 'info', broker: 'log-broker', url: proc.url, store: expect.stringMatching(/^file:/), leaseMs: 10_000 });
    expect(logs.find((l) => l.event === 'leader')).toMatchObject({ level: 'info', topic: 't', epoch: 1 });
    expect(logs.find((l) => l.event === 'storage-error')).toMatchObject({ level: 'warn', op: expect.any(String), error: { code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/Injected failure/) } });
    expect(logs.find((l) => l.event === 'slow-commit')).toMatchObject({ level: 'debug', topic: 't', seq: expect.any(Number), ms: expect.any(Number), requests: expect.any(Number), bytes: expect.any(Number) });
    const events = logs.map((l) => l.event);
    expect(events.indexOf('draining')).toBeGreaterThan(events.indexOf('leader'));
    expect(events.at(-1)).toBe('stopped');
    // The human lines are all still there, in order with the JSON ones.
    expect(proc.stdout.join('\n')).toMatch(/leading topic t \(epoch 1\)[\s\S]*SIGTERM: draining[\s\S]*drained/);
    expect([...proc.stdout, ...proc.stderr].join('\n')).not.toContain(TOKEN);
    // Background work that gave up (e.g. the janitor listing archives) is also the human stderr line.
    const internal = logs.filter((l) => l.event === 'internal-error');
    expect(proc.stderr.filter((l) => !l.startsWith('error: '))).toEqual([]);
    expect(internal).toHaveLength(proc.stderr.length);
    for (const l of internal) expect(l).toMatchObject({ level: 'error', topic: 't', op: expect.any(String), error: { code: expect.any(String) } });
  });

  it('info (the default) leaves debug lines out; silent prints only the human lines; --metrics-listen names its port', async () => {
    let proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_LOG_LEVEL: 'silent' });
    await api(proc.url)('POST', '/v1/topics/t/jobs', { payload: 1 });
    await proc.line(/^leading topic t /);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(jsonLines(proc.stdout)).toEqual([]);
    expect(proc.stdout[0]).toMatch(/ listening on /);

    proc = await each.start(['--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--slow-commit-ms', '0', '--metrics-listen', '127.0.0.1:0']);
    for (let i = 0; i < 3; i++) await api(proc.url)('POST', '/v1/topics/t/jobs', { payload: i });
    // --metrics-listen: a human line names the metrics-only port, after the startup line.
    const metricsUrl = /^metrics on (http:\/\/\S+)$/.exec((await proc.line(/^metrics on /)).line)![1]!;
    expect(proc.stdout.findIndex((l) => l.startsWith('metrics on '))).toBe(1);
    expect(await (await fetch(`${metricsUrl}/metrics`)).text()).toMatch(/^bucketq_commit_duration_seconds_count\{topic="t"\} [1-9]/m);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const levels = new Set(jsonLines(proc.stdout).map((l) => l.level));
    expect(levels.has('info')).toBe(true);
    expect(levels.has('debug')).toBe(false);
  });

  it('refuses an unknown level in one line, exit 2', async () => {
    const r = await runCli(['broker', '--store', `file:${each.dir}`, '--listen', '127.0.0.1:0', '--log-level', 'verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"/);
    const env = await runCli(['broker', '--store', `file:${each.dir}`, '--listen', '127.0.0.1:0'], { BUCKETQ_LOG_LEVEL: 'loud' });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/BUCKETQ_LOG_LEVEL must be one of/);
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
