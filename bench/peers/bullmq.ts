/**
 * BullMQ in the peer comparison, on a throwaway redis-server (bench/peers/redis-server.ts):
 * W1's producers share one `Queue` (one ioredis connection, which pipelines; the way BullMQ's docs
 * show it) and `queue.add` one job per call; W1i's have a `Queue` each (16 ioredis connections);
 * bulk with `queue.addBulk` in chunks; worker processes run `new Worker` at concurrency 16
 * (bench/peers/bullmq-worker.ts). Every job is added with removeOnComplete/removeOnFail, so Redis
 * holds only live jobs, as bucketq's queue.json does.
 *
 * Two columns: `bullmq` keeps Redis' default persistence (RDB snapshots, no AOF: an acknowledged
 * add is in memory only); `bullmq-fsync` runs Redis with `--appendonly yes --appendfsync always`,
 * the durability bucketq gives: Redis writes and fsyncs the AOF before it sends the replies of
 * an event-loop turn, so every acknowledged add is on disk.
 */
import { Queue } from 'bullmq';
import { onTeardown } from './children.js';
import { REDIS, startRedis } from './redis-server.js';
import type { BenchPayload, RunningSystem, SystemAdapter } from './types.js';

const CHUNK = 1000;
const FSYNC_ARGS = ['--appendonly', 'yes', '--appendfsync', 'always'];

function bullmqAdapter(fsync: boolean): SystemAdapter {
  const persistence = fsync ? `\`${FSYNC_ARGS.join(' ')}\` (AOF fsynced before each reply)` : 'default settings (RDB snapshots, no AOF: no fsync per job)';
  return {
    name: fsync ? 'bullmq-fsync' : 'bullmq',
    bulkChunk: CHUNK,
    options: `Redis ${fsync ? `${FSYNC_ARGS.join(' ')}: every acknowledged add fsynced` : 'default persistence: no fsync per job'}; W1 one shared \`Queue\`; \`Worker\` concurrency 16`,
    settings: {
      server: `a throwaway Debian \`redis-server\` on loopback, ${persistence}`,
      producers: 'W1: one shared `Queue` (ioredis pipelines), `queue.add` one job per call, removeOnComplete; W1i: 16 `Queue` objects, one ioredis connection each',
      bulk: `\`queue.addBulk\`, ${CHUNK} jobs per call, one call at a time`,
      worker: '`new Worker` (concurrency 16, no-op handler, removeOnComplete), one process each',
    },
    requires: [REDIS],
    async start(): Promise<RunningSystem | string> {
      const redis = await startRedis(fsync ? FSYNC_ARGS : []);
      if (typeof redis === 'string') return redis;
      const stopRedis = onTeardown(() => redis.stop());
      const connection = { host: '127.0.0.1', port: redis.port };
      const opened: Array<Queue<BenchPayload>> = [];
      const open = async (name: string) => {
        const q = new Queue<BenchPayload>(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
        opened.push(q);
        await q.waitUntilReady();
        return q;
      };
      const shared = new Map<string, Promise<Queue<BenchPayload>>>();
      const queueOf = (name: string) => {
        let q = shared.get(name);
        if (!q) shared.set(name, (q = open(name)));
        return q;
      };
      const version = (await import('bullmq/package.json', { with: { type: 'json' } })).default.version;
      return {
        version: `BullMQ ${version}, redis-server ${redis.version}`,
        async producers(name, count) {
          const q = await queueOf(name);
          return Array.from({ length: count }, () => (payload: BenchPayload) => q.add('job', payload));
        },
        async independentProducers(name, count) {
          const queues = await Promise.all(Array.from({ length: count }, () => open(name)));
          return queues.map((q) => (payload: BenchPayload) => q.add('job', payload));
        },
        async pushBulk(name, payloads) {
          const q = await queueOf(name);
          for (let i = 0; i < payloads.length; i += CHUNK) await q.addBulk(payloads.slice(i, i + CHUNK).map((data) => ({ name: 'job', data })));
        },
        workerArgv: (name, concurrency) => ['bench/peers/bullmq-worker.ts', String(redis.port), name, String(concurrency)],
        server: { pid: redis.pid },
        async stop() {
          await Promise.all(opened.map((q) => q.close()));
          await stopRedis();
        },
      };
    },
  };
}

export const bullmq = bullmqAdapter(false);
export const bullmqFsync = bullmqAdapter(true);
