/**
 * pg-boss 10 in the peer comparison, on a throwaway PostgreSQL cluster
 * (bench/peers/postgres-server.ts): W1's producers share one `PgBoss` (its pg pool) and
 * `boss.send` one job per call; W1i's have a `PgBoss` each with a pool of one connection; bulk with `boss.insert` in chunks; worker processes register `boss.work` 16
 * times (in v10 each call adds one polling worker: that is its concurrency) with a batch per
 * fetch (bench/peers/pgboss-worker.ts). pg-boss keeps completed jobs in its table until its
 * archive maintenance moves them (12 h by default); there is no remove-on-complete.
 */
import PgBoss from 'pg-boss';
import { onTeardown } from './children.js';
import { POSTGRES, startPostgres } from './postgres-server.js';
import type { BenchPayload, RunningSystem, SystemAdapter } from './types.js';

const CHUNK = 1000;
/** Jobs per fetch of one work() loop, and how often an idle loop polls (pg-boss's minimum). */
export const PGBOSS_BATCH = 100;
export const PGBOSS_POLL_S = 0.5;
const POOL = 20;

export const pgboss: SystemAdapter = {
  name: 'pgboss',
  bulkChunk: CHUNK,
  options: `PostgreSQL default durability (fsync, synchronous_commit on); W1 one shared \`PgBoss\`; 16 \`work()\` loops, batchSize ${PGBOSS_BATCH}`,
  settings: {
    server: 'a throwaway PostgreSQL cluster (Debian binaries, initdb in a temp dir) on loopback, default durability (fsync, synchronous_commit on)',
    producers: `W1: one shared \`PgBoss\` (pg pool max ${POOL}), \`boss.send\` one job per call; W1i: 16 \`PgBoss\` instances, pool max 1 each`,
    bulk: `\`boss.insert\`, ${CHUNK} jobs per call, one call at a time`,
    worker: `16 \`boss.work\` loops per process (v10: one polling worker per call), batchSize ${PGBOSS_BATCH}, pollingIntervalSeconds ${PGBOSS_POLL_S}, no-op handler, pool max ${POOL}`,
  },
  requires: [POSTGRES],
  async start(): Promise<RunningSystem | string> {
    const pg = await startPostgres();
    if (typeof pg === 'string') return pg;
    const stopPg = onTeardown(() => pg.stop());
    const boss = new PgBoss({ connectionString: pg.connectionString, max: POOL, supervise: false, schedule: false });
    boss.on('error', (e: Error) => process.stderr.write(`pg-boss error: ${e.message}\n`));
    await boss.start();
    const stopBoss = onTeardown(() => boss.stop({ graceful: false, wait: true }));
    const independent: PgBoss[] = [];
    const stopIndependent = onTeardown(async () => {
      await Promise.all(independent.map((b) => b.stop({ graceful: false, wait: true })));
    });
    const created = new Set<string>();
    const ensure = async (name: string) => {
      if (created.has(name)) return;
      await boss.createQueue(name);
      created.add(name);
    };
    const version = (await import('pg-boss/package.json', { with: { type: 'json' } })).default.version;
    return {
      version: `pg-boss ${version}, PostgreSQL ${pg.version}`,
      async producers(name, count) {
        await ensure(name);
        return Array.from({ length: count }, () => (payload: BenchPayload) => boss.send(name, payload));
      },
      async independentProducers(name, count) {
        await ensure(name);
        const bosses = Array.from({ length: count }, () => new PgBoss({ connectionString: pg.connectionString, max: 1, supervise: false, schedule: false, migrate: false }));
        for (const b of bosses) {
          b.on('error', (e: Error) => process.stderr.write(`pg-boss error: ${e.message}\n`));
          independent.push(b);
        }
        await Promise.all(bosses.map((b) => b.start()));
        return bosses.map((b) => (payload: BenchPayload) => b.send(name, payload));
      },
      async pushBulk(name, payloads) {
        await ensure(name);
        for (let i = 0; i < payloads.length; i += CHUNK) await boss.insert(payloads.slice(i, i + CHUNK).map((data) => ({ name, data })));
      },
      workerArgv: (name, concurrency) => ['bench/peers/pgboss-worker.ts', pg.connectionString, name, String(concurrency)],
      // PostgreSQL runs one backend process per connection: no one process holds the work.
      server: { unmeasured: 'PostgreSQL works in one backend process per connection' },
      async stop() {
        await stopIndependent();
        await stopBoss();
        await stopPg();
      },
    };
  },
};
