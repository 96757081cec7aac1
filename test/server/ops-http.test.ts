/**
 * The operations endpoints' request metric: a client that leaves before its answer is counted as
 * 499 (as on the API routes, transports/http/handler.ts), never as the 200 node's ServerResponse starts with.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpsHandler } from '../../src/server/ops-http.js';
import type { BrokerMetrics } from '../../src/server/metrics.js';
import type { ReadyAnswer } from '../../src/server/readiness.js';

let server: Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

describe('createOpsHandler', () => {
  it('counts a client that left before the answer as 499', async () => {
    let asked!: () => void;
    const readinessAsked = new Promise<void>((resolve) => (asked = resolve));
    let answer!: (a: ReadyAnswer) => void;
    let counted!: (c: [string, string, number]) => void;
    const answered = new Promise<[string, string, number]>((resolve) => (counted = resolve));
    const metrics = { httpAnswered: (method: string, route: string, status: number) => counted([method, route, status]) } as unknown as BrokerMetrics;
    const handler = createOpsHandler({
      metrics,
      readiness: () => {
        asked();
        return new Promise<ReadyAnswer>((resolve) => (answer = resolve));
      },
      checkBearer: null,
      draining: () => false,
      onError: () => {},
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const req = request({ host: '127.0.0.1', port, path: '/readyz' });
    req.on('error', () => {});
    req.end();
    await readinessAsked;
    req.destroy();
    expect(await answered).toEqual(['GET', '/readyz', 499]);
    answer({ status: 200, body: { ready: true } }); // too late: nobody to answer
  });
});
