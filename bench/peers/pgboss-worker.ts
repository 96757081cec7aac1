/**
 * A pg-boss worker process of the peer benchmark (protocol: bench/peers/worker-protocol.ts):
 * CONCURRENCY `boss.work` loops on QUEUE, each fetching up to PGBOSS_BATCH jobs, no-op handler.
 * A work() handler that resolves completes its whole batch; it counts as finished then (one
 * query earlier than the complete lands: under 1 ms on loopback).
 *
 *   tsx bench/peers/pgboss-worker.ts CONNECTION_STRING QUEUE CONCURRENCY
 */
import PgBoss from 'pg-boss';
import { PGBOSS_BATCH, PGBOSS_POLL_S } from './pgboss.js';
import type { BenchPayload } from './types.js';
import { serveWorker } from './worker-protocol.js';

const [connectionString = '', queue = 'w1', concurrency = '16'] = process.argv.slice(2);
const boss = new PgBoss({ connectionString, max: 20, supervise: false, schedule: false, migrate: false });
boss.on('error', (e: Error) => process.stderr.write(`pg-boss error: ${e.message}\n`));

await serveWorker({
  connect: async () => void (await boss.start()),
  async consume(side) {
    for (let i = 0; i < Number(concurrency); i++) {
      await boss.work<BenchPayload>(queue, { batchSize: PGBOSS_BATCH, pollingIntervalSeconds: PGBOSS_POLL_S }, async (jobs) => {
        for (const job of jobs) side.started(job.data);
        // Counted as the handler resolves: pg-boss then sends the batch's complete without waiting
        // for it (manager.js onFetch), so no later point is visible to the worker.
        side.finished(jobs.length);
      });
    }
  },
  async close() {
    await boss.stop({ graceful: false, wait: true });
  },
});
