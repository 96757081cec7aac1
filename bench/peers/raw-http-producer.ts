/**
 * A producer with nothing of bucketq's client in it: node:http with a keep-alive agent of its own
 * (maxSockets 1, so one connection), POSTing `{"payload": …}` to /v1/topics/TOPIC/jobs, one job
 * per request, each answered before the next is sent. That is what a producer in a process of its
 * own, or curl in a loop with keep-alive, sends: no client-side merging of pushes can happen.
 * The broker makes the job id, as it does for curl.
 */
import http from 'node:http';
import type { BenchPayload, PushOne } from './types.js';

export interface RawProducer {
  push: PushOne;
  close(): void;
}

export function rawHttpProducer(brokerUrl: string, topic: string): RawProducer {
  // Idle sockets dropped after 4 s, before the broker's 5 s keep-alive timeout closes them (as src/client/http.ts).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: 4_000 });
  const target = new URL(`/v1/topics/${encodeURIComponent(topic)}/jobs`, brokerUrl);
  const push = (payload: BenchPayload) =>
    new Promise<unknown>((resolve, reject) => {
      const body = JSON.stringify({ payload });
      const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          if (res.statusCode === 201 || res.statusCode === 200) resolve(JSON.parse(text));
          else reject(new Error(`POST ${target.pathname} answered ${res.statusCode}: ${text.slice(0, 300)}`));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return { push, close: () => agent.destroy() };
}
