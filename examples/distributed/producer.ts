/**
 * The producer: pushes emails to a network broker (group) as jobs, one request each.
 *
 *   npx tsx examples/distributed/producer.ts               # 10 jobs, at once
 *   npx tsx examples/distributed/producer.ts 100 500       # 100 jobs, one every 500 ms
 *
 * Every push is answered only after the broker's commit landed in the store: when it resolves,
 * the job is durable. Connection trouble (a broker restarting, a failover) is retried by the
 * client for up to 30 s; a push retried after a lost answer never adds the job twice (the client
 * gives every job an id before the first try). See env.ts for BUCKETQ_URL, BUCKETQ_STORE, BUCKETQ_TOKEN.
 */
import { createClient, isQueueError } from '../../src/client/index.js';
import { connection, log, TOPIC, type Email } from './env.js';

const count = Number(process.argv[2] ?? 10);
const everyMs = Number(process.argv[3] ?? 0);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(everyMs) || everyMs < 0) {
  console.error('usage: producer.ts [COUNT] [EVERY_MS]');
  process.exit(2);
}

const emails = createClient<Email>({ ...connection(), topic: TOPIC });
let stopping = false;
process.once('SIGINT', () => (stopping = true));

try {
  for (let i = 1; i <= count && !stopping; i++) {
    // Every seventh email fails twice before it goes through: watch the consumer retry it.
    const email: Email = { to: `user${i}@example.com`, subject: `hello #${i}`, ...(i % 7 === 0 ? { failTimes: 2 } : {}) };
    const t = Date.now();
    const { id } = await emails.push(email);
    log(`pushed ${id} → ${email.to} (${Date.now() - t} ms)`);
    if (everyMs > 0 && i < count) await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  const stats = await emails.stats();
  log(`topic ${TOPIC}: ${stats.pending} pending, ${stats.claimed} claimed, ${stats.counters.completed} completed; leader ${stats.broker?.id ?? 'none'} at ${stats.broker?.url ?? '-'}`);
} catch (err) {
  log(`push failed: ${isQueueError(err) ? `${err.code} ${err.message}` : String(err)}`);
  process.exitCode = 1;
} finally {
  await emails.close();
}
