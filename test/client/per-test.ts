/**
 * For a file of client tests: broker servers (a fresh memory store each unless told otherwise),
 * clients (short retry back-offs) and test proxies made through the returned helpers are closed
 * after each test. `servers` lists the servers still to close (a test that closes one itself
 * takes it out).
 */
import { afterEach } from 'vitest';
import { createClient, type ClientOptions } from '../../src/client/index.js';
import type { Queue } from '../../src/api.js';
import { startBrokerServer, type BrokerServer, type BrokerServerOptions } from '../../src/server/broker-server.js';
import { startProxy, type Proxy } from './proxy.js';

export function perTest() {
  const servers: BrokerServer[] = [];
  const clients: Array<Queue<unknown>> = [];
  const proxies: Proxy[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return {
    servers,
    async server(options: BrokerServerOptions = {}): Promise<BrokerServer> {
      const s = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', ...options });
      servers.push(s);
      return s;
    },
    client<T = unknown>(options: ClientOptions): Queue<T> {
      const c = createClient<T>({ retry: { deadlineMs: 10_000, baseMs: 20, maxMs: 200 }, ...options });
      clients.push(c as Queue<unknown>);
      return c;
    },
    async proxy(...args: Parameters<typeof startProxy>): Promise<Proxy> {
      const p = await startProxy(...args);
      proxies.push(p);
      return p;
    },
  };
}
