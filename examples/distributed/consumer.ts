/**
 * The consumer: a worker process that claims emails from a network broker (group) and sends them.
 *
 *   npx tsx examples/distributed/consumer.ts              # until Ctrl-C
 *
 * createWorker runs on the network client exactly as on an embedded queue: it claims up to 4 jobs
 * at a time (long-polling when there are none), heartbeats them while the handler runs, acks what
 * the handler returns and nacks what it throws (retried with backoff). Broker trouble is reported
 * as an `error` event and retried; it never stops the worker. Ctrl-C (or SIGTERM) stops claiming,
 * lets running handlers finish, then exits. See env.ts for BUCKETQ_URL, BUCKETQ_STORE, BUCKETQ_TOKEN.
 */
import { createClient } from '../../src/client/index.js';
import { createWorker } from '../../src/index.js';
import { connection, log, TOPIC, type Email } from './env.js';

const emails = createClient<Email>({ ...connection(), topic: TOPIC });

const worker = createWorker(
  emails,
  async (job, signal) => {
    log(`sending ${job.id} to ${job.payload.to} (attempt ${job.attempt}/${job.maxAttempts})`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // pretend to talk to SMTP
    if (signal.aborted) throw signal.reason; // the lease was lost: another worker has the job now
    if (job.attempt <= (job.payload.failTimes ?? 0)) throw new Error('SMTP 451: try again later');
    return { messageId: `<${job.id}@example.com>` };
  },
  { concurrency: 4 },
);

worker.on('completed', (job, result) => log(`✓ ${job.id} ${job.payload.to} → ${result.messageId}`));
worker.on('failed', (job, error, outcome) =>
  log(`✗ ${job.id} ${job.payload.to}: ${(error as Error).message} (${outcome.state}${outcome.runAt ? `, retry in ${outcome.runAt - Date.now()} ms` : ''})`),
);
worker.on('error', (error) => log(`broker trouble, retrying: ${error.code} ${error.message}`));
log(`worker ${worker.id} consuming topic ${TOPIC}; Ctrl-C to stop`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: finishing running jobs`);
    void worker
      .close()
      .then(() => emails.close())
      .then(() => log('stopped cleanly'));
  });
}
