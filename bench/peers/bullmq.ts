/**
 * BullMQ in the peer comparison, on a throwaway redis-server (bench/peers/redis-server.ts):
 * producers share one `Queue` (one ioredis connection, which pipelines; the way BullMQ's docs
 * show it) and `queue.add` one job per call; bulk with `queue.addBulk` in chunks; worker processes
 * run `new Worker` at concurrency 16 (bench/peers/bullmq-worker.ts). Every job is added with
 * removeOnComplete/removeOnFail, so Redis holds only live jobs, as bucketq's queue.json does.
 */
import { Queue } from 'bullmq';
import { onTeardown } from './children.js';
import { startRedis } from './redis-server.js';
import type { BenchPayload, RunningSystem, SystemAdapter } from './types.js';

const CHUNK = 1000;

export const bullmq: SystemAdapter = {
  name: 'bullmq',
  bulkChunk: CHUNK,
  settings: {
    server: "a throwaway Debian `redis-server` on loopback, default settings (RDB snapshots, no AOF: no fsync per job)",
    producers: 'one shared `Queue` (ioredis pipelines), `queue.add` one job per call, removeOnComplete',
    bulk: `\`queue.addBulk\`, ${CHUNK} jobs per call, one call at a time`,
    worker: '`new Worker` (concurrency 16, no-op handler, removeOnComplete), one process each',
  },
  async start(): Promise<RunningSystem | string> {
    const redis = await startRedis();
    if (typeof redis === 'string') return redis;
    const stopRedis = onTeardown(() => redis.stop());
    const connection = { host: '127.0.0.1', port: redis.port };
    const queues = new Map<string, Queue<BenchPayload>>();
    const queueOf = (name: string) => {
      let q = queues.get(name);
      if (!q) queues.set(name, (q = new Queue<BenchPayload>(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } })));
      return q;
    };
    const version = (await import('bullmq/package.json', { with: { type: 'json' } })).default.version;
    return {
      version: `BullMQ ${version}, redis-server ${redis.version}`,
      async producers(name, count) {
        const q = queueOf(name);
        await q.waitUntilReady();
        return Array.from({ length: count }, () => (payload: BenchPayload) => q.add('job', payload));
      },
      async pushBulk(name, payloads) {
        const q = queueOf(name);
        for (let i = 0; i < payloads.length; i += CHUNK) await q.addBulk(payloads.slice(i, i + CHUNK).map((data) => ({ name: 'job', data })));
      },
      workerArgv: (name, concurrency) => ['bench/peers/bullmq-worker.ts', String(redis.port), name, String(concurrency)],
      async stop() {
        await Promise.all([...queues.values()].map((q) => q.close()));
        await stopRedis();
      },
    };
  },
};
