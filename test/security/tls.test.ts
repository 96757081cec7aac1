/**
 * TLS end to end: `bucketq broker --tls-cert --tls-key` processes (a leader and a standby on one
 * file: store) with a self-signed certificate the test makes (certs.ts), a token, and the Redis
 * port. Every client trusts the certificate through its own CA option: createClient/createWorker
 * and client.events (`ca`), the CLI (`--ca FILE`), @grpc/grpc-js (ssl credentials), ioredis and
 * Debian's `redis-cli --tls --cacert`. A client that does not trust it is refused by the TLS
 * handshake, with a readable error.
 */
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueEvent } from '../../src/event-types.js';
import { createClient, createWorker } from '../../src/index.js';
import { startBrokerServer } from '../../src/server/broker-server.js';
import { runCli, type BrokerProcess } from '../broker-process.js';
import { Seen } from '../seen.js';
import { ensureRedisCli, redisCli } from '../servers/redis-cli.js';
import type { TestCert } from './certs.js';
import { grpcQueueClient, tlsSetup, type TlsSetup } from './tls-broker.js';

const TOKEN = 'tls-test-token-9f2c';
const LEASE = ['--lease-ms', '1500'];

let tls: TlsSetup;
let cert: TestCert;
let leader: BrokerProcess;
let respUrl: URL;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  tls = await tlsSetup('bucketq-tls-store-');
  cert = tls.cert;
  ({ proc: leader, respUrl } = await tls.start('tls-leader', { BUCKETQ_TOKEN: TOKEN }, LEASE));
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await tls?.remove();
});

describe('TLS with a self-signed certificate', () => {
  it('advertises https:// and rediss:// URLs', () => {
    expect(leader.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(leader.stdout[0]).toMatch(/auth token, tls\)$/);
    expect(respUrl.protocol).toBe('rediss:');
  });

  it('push, claim and ack through createClient, a worker and the event stream over https', async () => {
    const q = createClient<{ n: number }>({ url: leader.url, topic: 'tls', token: TOKEN, ca: cert.cert });
    cleanups.push(() => q.close());
    const seen = new Seen<QueueEvent>();
    const opened = new Promise<void>((resolve) => {
      void (async () => {
        for await (const e of q.events({ onOpen: () => resolve() })) seen.add(e);
      })();
    });
    await q.push({ n: 0 }, { id: 'warm' }); // the topic exists, so the stream follows its leader
    await opened;
    await q.push({ n: 1 }, { id: 'one' });
    const [job] = await q.claim({ workerId: 'w1', max: 1 });
    expect(job).toMatchObject({ id: 'warm' });
    await q.ack(job!);
    await seen.next((e) => e.kind === 'acked' && 'job' in e && e.job === 'warm');

    const done = new Seen<string>();
    const worker = createWorker(q, (j) => done.add(j.id), { concurrency: 1 });
    cleanups.push(() => worker.close({ timeoutMs: 0 }));
    expect(await done.next((id) => id === 'one')).toBe('one');
    await seen.next((e) => e.kind === 'acked' && 'job' in e && e.job === 'one');
  });

  it('a client without the CA is refused by the handshake, as a readable UNAVAILABLE', async () => {
    const q = createClient({ url: leader.url, topic: 'tls', token: TOKEN, retry: { deadlineMs: 0 } });
    cleanups.push(() => q.close());
    const err = (await q.push(1).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT: self[- ]signed certificate\); give its CA/);
  });

  it('the CLI with --ca FILE; without it one line names the certificate problem', async () => {
    const ok = await runCli(['push', 'tls-cli', '{"n":2}', '--url', leader.url, '--ca', cert.certFile, '--json'], { BUCKETQ_TOKEN: TOKEN });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ created: true });
    const stats = await runCli(['stats', 'tls-cli', '--url', leader.url, '--json'], { BUCKETQ_TOKEN: TOKEN, NODE_EXTRA_CA_CERTS: cert.certFile });
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ pending: 1 });
    const bad = await runCli(['stats', 'tls-cli', '--url', leader.url, '--timeout', '0s'], { BUCKETQ_TOKEN: TOKEN });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^bucketq stats: GET https:.*TLS certificate is not trusted .*--ca FILE \(UNAVAILABLE\)$/m);
    const missing = await runCli(['stats', 'tls-cli', '--url', leader.url, '--ca', path.join(cert.dir, 'nope.pem')], { BUCKETQ_TOKEN: TOKEN });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--ca: cannot read .*nope\.pem \(ENOENT\)/);
  });

  it('gRPC over TLS with @grpc/grpc-js trusting the certificate', async () => {
    const c = grpcQueueClient(leader.url, cert.cert);
    cleanups.push(() => c.close());
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    const call = (method: string, req: object) => new Promise<any>((resolve, reject) => c[method](req, md, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
    const pushed = await call('Push', { topic: 'tls-grpc', jobs: [{ id: 'g1', payload: { stringValue: 'hi' } }] });
    expect(pushed.jobs[0]).toMatchObject({ id: 'g1', created: true });
    expect(await call('Stats', { topic: 'tls-grpc' })).toMatchObject({ pending: 1 });
  });

  it('RESP over TLS: ioredis with the CA, and redis-cli --tls --cacert', async () => {
    const r = new Redis({ host: respUrl.hostname, port: Number(respUrl.port), password: TOKEN, tls: { ca: cert.cert }, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await r.connect();
      expect(await r.lpush('tls-resp', 'a', 'b')).toBeGreaterThanOrEqual(2);
      expect(await r.llen('tls-resp')).toBe(2);
      expect(await r.rpop('tls-resp')).toBe('a');
    } finally {
      r.disconnect(); // before the standby test kills this broker: no reconnection attempts after
    }

    const why = await ensureRedisCli();
    if (why) {
      console.log(`skipping the redis-cli half: ${why}`);
      return;
    }
    const base = ['--tls', '--cacert', cert.certFile, '-h', respUrl.hostname, '-p', respUrl.port, '--no-auth-warning'];
    const out = await redisCli([...base, '-a', TOKEN, 'LLEN', 'tls-resp']);
    expect(out.stdout.trim()).toBe('1');
    const untrusted = await redisCli(['--tls', '-h', respUrl.hostname, '-p', respUrl.port, '-a', TOKEN, '--no-auth-warning', 'PING']);
    expect(`${untrusted.stdout}${untrusted.stderr}`).toMatch(/certificate|SSL|TLS/i);
  });

  it('a standby over https sends clients to the leader, and takes over its topics when it dies', async () => {
    const { proc: standby } = await tls.start('tls-standby', { BUCKETQ_TOKEN: TOKEN }, LEASE);
    expect(standby.url).toMatch(/^https:/);
    const q = createClient({ url: standby.url, topic: 'tls', token: TOKEN, ca: cert.cert, retry: { baseMs: 20, maxMs: 200 } });
    cleanups.push(() => q.close());
    expect((await q.stats()).broker).toMatchObject({ id: 'tls-leader', url: leader.url });
    leader.child.kill('SIGKILL');
    await leader.exited;
    await standby.line(/^leading topic tls /);
    await q.push(3, { id: 'after-takeover' });
    expect((await q.stats()).broker).toMatchObject({ id: 'tls-standby', url: standby.url });
  });
});

describe('TLS configuration mistakes', () => {
  it('are refused before anything listens, naming the flag', async () => {
    const start = (o: { tlsCert?: string; tlsKey?: string }) => startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', ...o }).catch((e: unknown) => e);
    expect(await start({ tlsCert: cert.certFile })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('both a certificate (--tls-cert) and its private key (--tls-key)') });
    expect(await start({ tlsCert: path.join(cert.dir, 'missing.pem'), tlsKey: cert.keyFile })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^--tls-cert: cannot read .*missing\.pem \(ENOENT\)$/) });
    expect(await start({ tlsCert: cert.key, tlsKey: cert.cert })).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('not usable') });
    const s = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', tlsCert: cert.cert, tlsKey: cert.key }); // PEM text works as well as paths
    expect(s.url).toMatch(/^https:/);
    await s.close();
  });

  it('the CLI: --tls-cert without --tls-key is a usage error', async () => {
    const run = await runCli(['broker', '--store', 'memory://', '--listen', '127.0.0.1:0', '--tls-cert', cert.certFile]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--tls-cert and --tls-key go together/);
  });
});
