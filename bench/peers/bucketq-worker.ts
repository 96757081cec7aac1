/**
 * A bucketq worker process of the peer benchmark (protocol: bench/peers/worker-protocol.ts):
 * `createWorker` on a `createClient`, no-op handler, createWorker's defaults but for concurrency.
 *
 *   tsx bench/peers/bucketq-worker.ts BROKER_URL TOPIC CONCURRENCY [PREFETCH]
 *
 * PREFETCH, when given, is createWorker's `prefetch` (jobs claimed ahead of free slots); without
 * it the option is left out, so the worker runs as a user's would with only `concurrency` set.
 */
import { createClient } from '../../src/client/index.js';
import { isQueueError } from '../../src/errors.js';
import { createWorker, type Worker } from '../../src/worker/index.js';
import type { BenchPayload } from './types.js';
import { serveWorker } from './worker-protocol.js';

const [url = '', topic = 'w1', concurrency = '16', prefetch] = process.argv.slice(2);
const queue = createClient<BenchPayload>({ url, topic });
let worker: Worker<BenchPayload, null> | null = null;
let errors = 0;

await serveWorker({
  // One stats call opens the keep-alive connection, so "ready" means the broker answered (a
  // topic nobody pushed to yet answers NOT_FOUND, which is an answer too).
  connect: async () => {
    await queue.stats().catch((e: unknown) => {
      if (!isQueueError(e) || e.code !== 'NOT_FOUND') throw e;
    });
  },
  consume(side) {
    worker = createWorker(
      queue,
      (job) => {
        side.started(job.payload);
        return null;
      },
      { concurrency: Number(concurrency), ...(prefetch !== undefined ? { prefetch: Number(prefetch) } : {}) },
    );
    worker.on('completed', () => side.finished(1));
    // An overloaded broker makes every slot fail alike: the first few say why, close() says how many.
    worker.on('error', (e) => {
      if (++errors <= 5) process.stderr.write(`worker error: ${e.code} ${e.message}\n`);
    });
  },
  async close() {
    if (errors > 5) process.stderr.write(`worker errors: ${errors} in all\n`);
    await worker?.close({ timeoutMs: 5000 });
    await queue.close();
  },
});
