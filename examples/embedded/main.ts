/**
 * bucketq embedded: a queue and a worker in one process, state in a local directory.
 *
 *   npm run example:embedded                          # state in ./bucketq-data/examples
 *   BUCKETQ_STORE=memory:// npm run example:embedded  # or any store URL
 *
 * Every push, claim and ack below is a compare-and-swap write of topics/emails/queue.json under
 * the store; ops issued together share one write (group commit). Run it twice: the second run
 * finds the first one's counters. (After a crash the next run waits up to 10 s for the old
 * process's lease to expire, then takes over.)
 *
 * Its store is not the one `npm start` serves (file:./bucketq-data): a topic that a running
 * broker leads is that broker's, and an embedded queue on it fails at once saying so (go through
 * the broker with createClient, as examples/distributed does).
 */
import { createQueue, createWorker, isQueueError } from '../../src/index.js';

interface Email {
  to: string;
  /** The example's way to simulate a flaky SMTP server: fail this many attempts first. */
  failTimes?: number;
}

const store = process.env.BUCKETQ_STORE || 'file:./bucketq-data/examples';
const started = Date.now();
const log = (msg: string) => console.log(`[+${String(Date.now() - started).padStart(4)} ms] ${msg}`);

/** A failure of the example: one line, no stack trace, exit 1. */
function fail(err: unknown): never {
  console.error(`example:embedded: ${isQueueError(err) ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// One topic, typed. Jobs that fail are retried after 200 ms, doubling, at most 5 attempts.
const emails = createQueue<Email>({ store, topic: 'emails', maxAttempts: 5, backoff: { type: 'exponential', baseMs: 200 } });
log(`opened topic emails in ${store}; pushing 5 jobs (a crashed earlier run's lease is waited out first, up to 10 s)`);

// Push a few jobs: three at once (one commit), one delayed by a second, one that fails twice.
try {
  await emails.pushMany([{ payload: { to: 'ada@example.com' } }, { payload: { to: 'grace@example.com' }, priority: 10 }, { payload: { to: 'linus@example.com' } }]);
  await emails.push({ to: 'later@example.com' }, { delayMs: 1000 });
  await emails.push({ to: 'flaky@example.com', failTimes: 2 });
} catch (err) {
  fail(err); // e.g. the store is a running broker's: the message says what to do instead
}
const total = 5;
log(`pushed ${total} jobs; starting a worker (4 at a time)`);

// The worker claims up to 4 jobs in one call, heartbeats them while they run, acks what the
// handler returns and nacks what it throws.
const worker = createWorker(
  emails,
  async (job, signal) => {
    log(`sending to ${job.payload.to} (attempt ${job.attempt}/${job.maxAttempts})`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // pretend to talk to SMTP
    if (signal.aborted) throw signal.reason; // the lease was lost: another worker has the job
    if (job.attempt <= (job.payload.failTimes ?? 0)) throw new Error('SMTP 451: try again later');
    return { messageId: `<${job.id}@example.com>` };
  },
  { concurrency: 4, waitMs: 1000 },
);

let done = 0;
const allDone = new Promise<void>((resolve) => {
  worker.on('completed', (job, result) => {
    log(`✓ ${job.payload.to} → ${result.messageId}`);
    if (++done === total) resolve();
  });
});
worker.on('failed', (job, error, outcome) => log(`✗ ${job.payload.to}: ${(error as Error).message} (${outcome.state}${outcome.runAt ? `, retry in ${outcome.runAt - Date.now()} ms` : ''})`));
worker.on('error', (error) => log(`worker error: ${error.code} ${error.message}`));

await allDone;
const stats = await emails.stats();
log(`all done: ${stats.counters.completed} completed, ${stats.counters.nacked} nacked over the topic's lifetime`);

// Close the worker (waits for running handlers), then the queue (gives up leadership, closes the store).
await worker.close();
await emails.close();
log('closed cleanly');
