/**
 * The drain of a network broker never cuts an idle keep-alive connection from its side: a client
 * may be sending a request on it at that very moment, and would then not know whether it was
 * handled. A request on an open connection gets 503 UNAVAILABLE with Connection: close instead;
 * new connections are refused; close() waits (up to connectionGraceMs) for the clients to close.
 */
import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startBrokerServer } from '../../src/server/broker-server.js';
import { raw } from '../http-helpers.js';

describe('broker server drain', () => {
  it('answers a request on an idle keep-alive connection with 503 and Connection: close, and waits for the client to close it', async () => {
    const s = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', connectionGraceMs: 20_000 });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const push = (id: string) => raw(`${s.url}/v1/topics/d/jobs`, { method: 'POST', agent, headers: { 'content-type': 'application/json' }, chunks: [JSON.stringify({ id, payload: 1 })] });
      expect(await push('a')).toMatchObject({ status: 201, reusedSocket: false });

      let closed = false;
      const closing = s.close().then(() => (closed = true));
      // The connection is idle now; the drain leaves it open, and a request on it is refused cleanly.
      const refused = await push('b');
      expect(refused).toMatchObject({ status: 503, reusedSocket: true, body: { error: { code: 'UNAVAILABLE' } } });
      expect(refused.headers.connection).toBe('close');
      // No new connections are taken.
      await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
      // The client's connection closed after that answer, so close() is done long before its grace.
      await closing;
      expect(closed).toBe(true);
    } finally {
      agent.destroy();
      await s.close();
    }
  });
});
