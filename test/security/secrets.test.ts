/**
 * Secrets stay out of logs, errors and the store: a `bucketq broker` process with a token, a
 * read-only token and debug logging serves pushes, claims, acks, refused requests with wrong
 * tokens (HTTP, RESP AUTH, the dashboard login) and drains; then neither its output nor any file
 * of its file: store holds either token or a wrong one presented. A store URL with credentials is
 * shown without them, in the broker's own error and in GET /v1/broker.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/index.js';
import { runCli, startBrokerProcess, type BrokerProcess } from '../broker-process.js';

const TOKEN = 'secret-admin-token-4b1f9e';
const READ = 'secret-read-token-77aa01';
const WRONG = 'secret-wrong-token-c0ffee';

let dir: string;
let broker: BrokerProcess | undefined;

afterAll(async () => {
  if (broker && broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
  await broker?.exited;
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** Sends `text` and resolves with the replies once the last one (`until`) has come. */
function respExchange(port: number, text: string, until: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const s = connect({ host: '127.0.0.1', port });
    s.on('data', (d: Buffer) => {
      out += d.toString();
      if (until.test(out)) s.end();
    });
    s.on('error', () => {}).on('close', () => resolve(out));
    s.write(text);
  });
}

describe('secrets', () => {
  it('no token, right or wrong, in the broker output or in any store file', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bucketq-secrets-'));
    broker = await startBrokerProcess(['--store', `file:${dir}`, '--listen', '127.0.0.1:0', '--resp-listen', '127.0.0.1:0', '--log-level', 'debug', '--id', 'secrets'], {
      BUCKETQ_TOKEN: TOKEN,
      BUCKETQ_READ_TOKEN: READ,
      BUCKETQ_LOG_FORMAT: 'json', // the structured fields are where a secret could slip in
    });
    const respPort = Number(new URL((JSON.parse(broker.stdout[0]!) as { resp: string }).resp).port);
    const q = createClient({ url: broker.url, topic: 'sec', token: TOKEN });
    try {
      await q.push({ hello: 'world' }, { id: 's1' });
      const [job] = await q.claim({ workerId: 'w', max: 1 });
      await q.nack(job!, 'failed on purpose');
      await q.push({ n: 2 }, { id: 's2' });
    } finally {
      await q.close();
    }
    for (const token of [WRONG, READ]) {
      const res = await fetch(`${broker.url}/v1/topics/sec/jobs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"payload":1}' });
      expect([401, 403]).toContain(res.status);
      expect(await res.text()).not.toContain(token);
    }
    const login = await fetch(`${broker.url}/dashboard/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: WRONG }) });
    expect(login.status).toBeGreaterThanOrEqual(400);
    expect(await login.text()).not.toContain(WRONG);
    const resp = await respExchange(respPort, `AUTH ${WRONG}\r\nAUTH ${TOKEN}\r\nLPUSH sec-list a\r\n`, /:1\r\n$/);
    expect(resp).toMatch(/^-WRONGPASS[^\r]*\r\n\+OK\r\n:1\r\n$/);
    expect(resp).not.toContain(WRONG);

    broker.child.kill('SIGTERM');
    expect((await broker.exited).code).toBe(0);
    const output = [...broker.stdout, ...broker.stderr].join('\n');
    expect(output).toMatch(/auth token/); // it did log: the startup line
    expect(broker.stdout.filter((l) => l.startsWith('{')).length).toBeGreaterThan(0); // and JSON log lines at debug level
    for (const secret of [TOKEN, READ, WRONG]) expect(output).not.toContain(secret);
    const files = await filesUnder(dir);
    expect(files.some((f) => f.endsWith('queue.json') || f.includes('queue'))).toBe(true);
    for (const file of files) {
      const bytes = await readFile(file, 'latin1');
      for (const secret of [TOKEN, READ]) expect(bytes, `${file} holds a token`).not.toContain(secret);
    }
  });

  it('a store URL with credentials is shown without them when it is refused', async () => {
    const run = await runCli(['broker', '--store', 's3://AKIAEXAMPLE:wJalrXUtnFEMI@127.0.0.1:1/bucket?region=us-east-1&secretAccessKey=verysecretvalue', '--listen', '127.0.0.1:0']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/Invalid store URL/);
    for (const secret of ['wJalrXUtnFEMI', 'verysecretvalue', 'AKIAEXAMPLE:']) expect(run.stderr + run.stdout).not.toContain(secret);
  });
});
