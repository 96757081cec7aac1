/**
 * The worker process of bench/peers/bullmq.ts: a BullMQ Worker at the given concurrency with a
 * no-op handler. Prints JSON lines like bench/network-worker.ts: {"ready":true},
 * {"completed":N,"lastAckAt":T} every 50 ms while it changes, {"probe":ID,"startedAt":T}.
 */
import { Worker } from 'bullmq';

const [port = '6379', concurrency = '16'] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

let completed = 0;
let lastAckAt = 0;
const worker = new Worker(
  'w1',
  async (job) => {
    if (job.data?.probe !== undefined) out({ probe: job.data.probe, startedAt: now() });
    return null;
  },
  { connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null }, concurrency: Number(concurrency), removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
);
worker.on('completed', () => {
  completed++;
  lastAckAt = now();
});
let reported = 0;
setInterval(() => {
  if (completed === reported) return;
  reported = completed;
  out({ completed, lastAckAt });
}, 50);
await worker.waitUntilReady();
out({ ready: true });
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
