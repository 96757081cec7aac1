/**
 * `bucketq work` when there is no broker: none at the start is one line and exit 1 at once; one
 * that dies while a command runs makes a Ctrl-C end within seconds, saying the outcome could not
 * be reported, instead of retrying for a minute and claiming it stopped cleanly.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { brokerPerTest } from '../broker-process.js';
import { freePort } from '../client/proxy.js';
import { bucketq, json, start, type Running } from './cli-helpers.js';

const workers: Running[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) {
    w.child.kill('SIGKILL');
    await w.exited;
  }
});

const broker = brokerPerTest('bucketq-work-gone-');

describe('bucketq work without a broker', () => {
  it('none at the URL: one line naming it, exit 1, at once', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const w = start(['work', 'emails', '--url', url, '--timeout', '60s', '--', 'cat']);
    workers.push(w);
    expect(await w.exited).toBe(1);
    expect(w.stderr.filter((l) => l.startsWith('bucketq work: '))).toEqual([`bucketq work: no broker at ${url} (connection refused); is one running? set --url or BUCKETQ_URL`]);
  });

  it('gone while a command runs: Ctrl-C ends within seconds, says the job was not reported, exit 1', async () => {
    const b = await broker.start(['--store', `file:${broker.dir}`, '--listen', '127.0.0.1:0']);
    const env = { BUCKETQ_URL: b.url };
    json(await bucketq(['push', 'gone', '1', '--id', 'g1'], { env }));
    // The job's command connects here and finishes when told: the test knows when it runs.
    const gate = createServer();
    gate.listen(0, '127.0.0.1');
    await once(gate, 'listening');
    const connected = once(gate, 'connection').then(([s]) => s as Socket);
    try {
      const port = (gate.address() as AddressInfo).port;
      const script = `const s=require('net').connect(${port},'127.0.0.1');s.on('data',()=>{process.stdout.write('done');s.end();});`;
      const w = start(['work', 'gone', '--json', '--', process.execPath, '-e', script], { env });
      workers.push(w);
      const socket = await connected;
      b.child.kill('SIGKILL');
      await b.exited;
      w.child.kill('SIGINT');
      await w.event((e) => e.event === 'draining');
      const finishedAt = Date.now();
      socket.write('go');
      expect(await w.exited).toBe(1);
      // Reporting gets 5 s once no command runs (it used to retry for about a minute).
      expect(Date.now() - finishedAt).toBeLessThan(15_000);
      const events = w.lines.map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
      expect(events.at(-1)).toMatchObject({ event: 'stopped', unreported: 1, error: expect.stringMatching(/^the broker could not be reached: .*ECONNREFUSED/) });
      expect(events.filter((e) => e.event === 'stopped')).toHaveLength(1);
      expect(events.filter((e) => e.event === 'error').length).toBeLessThanOrEqual(2);
    } finally {
      gate.close();
    }
  });
});
