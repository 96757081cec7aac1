/**
 * A BullMQ worker process of the peer benchmark (protocol: bench/peers/worker-protocol.ts):
 * `new Worker` with `autorun: false` (run() on "start"), no-op handler, completed jobs removed.
 *
 *   tsx bench/peers/bullmq-worker.ts REDIS_PORT QUEUE CONCURRENCY
 */
import { Worker } from 'bullmq';
import type { BenchPayload } from './types.js';
import { serveWorker, type WorkerSide } from './worker-protocol.js';

const [port = '6379', queue = 'w1', concurrency = '16'] = process.argv.slice(2);
let worker: Worker<BenchPayload> | null = null;
/** Set on "start", before run(): the handler reports through it. */
let side: WorkerSide | undefined;

await serveWorker({
  async connect() {
    worker = new Worker<BenchPayload>(queue, async (job) => {
      side?.started(job.data);
      return null;
    }, {
      connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null },
      concurrency: Number(concurrency),
      autorun: false,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    });
    worker.on('completed', () => side?.finished(1));
    worker.on('error', (e) => process.stderr.write(`worker error: ${e.message}\n`));
    await worker.waitUntilReady();
  },
  consume(s) {
    side = s;
    void worker!.run();
  },
  async close() {
    await worker?.close();
  },
});
