/**
 * The broker process of bench/body-burst.ts: startBrokerServer (as `bucketq broker` runs it) on a
 * file store, plus an IPC channel the parent uses to read process.memoryUsage() and to run a full
 * GC (node --expose-gc) — which is how the parent tells retained heap from freed memory that the
 * allocator has not returned to the OS. Prints `URL` on its first line.
 */
import { startBrokerServer, type BrokerServerOptions } from '../src/server/broker-server.js';

const options = JSON.parse(process.argv[2] ?? '{}') as BrokerServerOptions;
const server = await startBrokerServer(options);
process.stdout.write(`${server.url}\n`);

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (msg: { id: number; op: 'mem' | 'gc' }) => {
  if (msg.op === 'gc') gc?.();
  process.send!({ id: msg.id, mem: process.memoryUsage() });
});
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
