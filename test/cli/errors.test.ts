/**
 * The failures a CLI user meets first, as one line each that names what to do: no broker at the
 * URL (at once, not after the retry deadline), a missing or wrong token (the flag and variable to
 * set, not an HTTP header), the read-only token, and an ack whose --worker or --lease does not
 * match the job's current claim. The CLI runs as a child process against real brokers.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { freePort } from '../client/proxy.js';
import { bucketq, json, type Run } from './cli-helpers.js';

let open: BrokerServer;
let secured: BrokerServer;

beforeAll(async () => {
  open = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
  secured = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', token: 'admin-s3cret', readToken: 'look-only' });
});

afterAll(async () => {
  await open?.close();
  await secured?.close();
});

/** Exactly one line on stderr, this exit status, nothing on stdout. */
function oneLine(run: Run, code: number): string {
  expect(run.stdout).toBe('');
  expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
  expect(run.code).toBe(code);
  return run.stderr.trimEnd();
}

async function timed(run: Promise<Run>): Promise<Run & { ms: number }> {
  const at = Date.now();
  const r = await run;
  return { ...r, ms: Date.now() - at };
}

describe('CLI failures a user meets first', () => {
  it('no broker at the URL: fails at once (not after --timeout) saying so and how to point elsewhere', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // --timeout 60: a CLI that retried a refused connection would still be waiting when the test times out.
    const [push, stats] = await Promise.all([
      timed(bucketq(['push', 'emails', '{"to":"ada"}', '--url', url, '--timeout', '60s'])),
      timed(bucketq(['stats', '--timeout', '60s'], { env: { BUCKETQ_URL: url } })),
    ]);
    expect(oneLine(push, 1)).toBe(`bucketq push: no broker at ${url} (connection refused); is one running? set --url or BUCKETQ_URL`);
    expect(oneLine(stats, 1)).toBe(`bucketq stats: no broker at ${url} (connection refused); is one running? set --url or BUCKETQ_URL`);
    // Process start (tsx) included; the retry deadline was 60 s.
    expect(Math.max(push.ms, stats.ms)).toBeLessThan(20_000);
  });

  it('a host that accepts no connection (a TLS handshake that never ends): fails within the connect timeout', async () => {
    const silent = createServer((s: Socket) => s.on('error', () => {})); // accepts TCP, never speaks TLS
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const url = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const run = await timed(bucketq(['get', 'emails', 'x', '--url', url, '--timeout', '60s']));
      expect(oneLine(run, 1)).toBe(`bucketq get: no broker at ${url} (no connection within 2000 ms); is one running? set --url or BUCKETQ_URL`);
      expect(run.ms).toBeLessThan(20_000);
    } finally {
      silent.close();
    }
  });

  it('a broker that needs a token: names --token and BUCKETQ_TOKEN, whether none or a wrong one was given', async () => {
    const env = { BUCKETQ_URL: secured.url };
    const [none, wrong, wrongEnv] = await Promise.all([
      bucketq(['stats', 'emails'], { env }),
      bucketq(['stats', 'emails', '--token', 'guess'], { env }),
      bucketq(['stats', 'emails'], { env: { ...env, BUCKETQ_TOKEN: 'guess' } }),
    ]);
    expect(oneLine(none, 1)).toBe('bucketq stats: the broker needs a token and none was given; give it with --token TOKEN, --token-file PATH or the BUCKETQ_TOKEN environment variable (UNAUTHENTICATED)');
    for (const r of [wrong, wrongEnv]) {
      expect(oneLine(r, 1)).toBe('bucketq stats: the broker refused the token given: it is not one of its tokens; give it with --token TOKEN, --token-file PATH or the BUCKETQ_TOKEN environment variable (UNAUTHENTICATED)');
    }
    for (const r of [none, wrong]) expect(r.stderr).not.toMatch(/Authorization|Bearer|header/i);
  });

  it('the read-only token on a change: says it may only look and names the full token', async () => {
    const run = await bucketq(['push', 'emails', '1'], { env: { BUCKETQ_URL: secured.url, BUCKETQ_TOKEN: 'look-only' } });
    expect(oneLine(run, 1)).toMatch(/^bucketq push: the token given is the broker's read-only token \(--read-token\), which may only look \(.*\); give the full token with --token, --token-file or BUCKETQ_TOKEN \(PERMISSION_DENIED\)$/);
  });

  it('ack with a wrong lease token, or another worker id: says which of --lease and --worker does not match', async () => {
    const env = { BUCKETQ_URL: open.url };
    json(await bucketq(['push', 'leases', '1', '--id', 'j1'], { env }));
    const { jobs } = json<{ jobs: Array<{ id: string; lease: string }> }>(await bucketq(['claim', 'leases', '--worker', 'me'], { env }));
    const lease = jobs[0]!.lease;
    const [badToken, badWorker] = await Promise.all([
      bucketq(['ack', 'leases', 'j1', '--worker', 'me', '--lease', `${lease}x`], { env }),
      bucketq(['nack', 'leases', 'j1', '--worker', 'you', '--lease', lease], { env }),
    ]);
    expect(oneLine(badToken, 1)).toBe(
      'bucketq ack: job j1: the lease token does not match its current claim by worker me (the lease may have expired and the job been claimed again); give the lease of the latest claim with --lease (LEASE_LOST)',
    );
    expect(oneLine(badWorker, 1)).toBe('bucketq nack: job j1 is claimed by worker me, not you (--worker); the lease may have expired and another worker claimed it (LEASE_LOST)');
    expect(json(await bucketq(['ack', 'leases', 'j1', '--worker', 'me', '--lease', lease], { env }))).toEqual({ id: 'j1' });
  });
});
