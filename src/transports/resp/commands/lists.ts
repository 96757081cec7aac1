/**
 * Lists: a key is a topic used as a plain queue, at most once by design.
 *
 * - LPUSH/RPUSH push every value of the call as one job each, in one commit. The payload is the
 *   value as a string, always (what you push is what you pop; "42" stays a string). Both push to
 *   the back: a topic is a queue (priority, then FIFO), not a deque.
 * - RPOP/LPOP claim and acknowledge in one step: the reply is sent once the ack has landed, so a
 *   client that dies before reading it loses those jobs. Use streams (XREADGROUP/XACK) for
 *   at-least-once. If the ack fails, the error is returned and the job comes back when its short
 *   lease expires: nothing is lost on the broker's side.
 * - BRPOP/BLPOP long-poll the keys until a job is due; timeout 0 waits for ever (in rounds of the
 *   broker's longest long poll).
 * - LLEN is the number of pending jobs (due now); delayed and claimed ones are not in the "list".
 */
import type { ClaimedJob } from '../../../core/ops/claim.js';
import { QueueError } from '../../../errors.js';
import { intArg, payloadText, secondsArg, syntaxError, topicOf, type CommandCall, type CommandTable } from '../command.js';
import { NULL_ARRAY, type Reply } from '../writer.js';

function worker(call: CommandCall): string {
  return `resp-pop-${call.conn.id}`;
}

async function push(call: CommandCall): Promise<Reply> {
  const [key, ...values] = call.args;
  const topic = topicOf(key!);
  await call.ctx.broker.push(topic, values.map((v) => ({ payload: v })));
  const stats = await call.ctx.broker.stats(topic);
  return stats.pending + stats.delayed;
}

/** Acks claimed jobs together (one commit); the first failure is the reply. */
async function ackAll(call: CommandCall, topic: string, jobs: ClaimedJob[]): Promise<void> {
  const results = await Promise.allSettled(jobs.map((j) => call.ctx.broker.ack(topic, { id: j.id, workerId: worker(call), lease: j.lease })));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function pop(call: CommandCall): Promise<Reply> {
  const [key, countText, ...rest] = call.args;
  if (rest.length > 0) throw syntaxError();
  const topic = topicOf(key!);
  const count = countText === undefined ? undefined : intArg(countText);
  if (count === 0) return countText === undefined ? null : [];
  const jobs = await call.ctx.broker.claim(topic, { workerId: worker(call), max: count ?? 1, leaseMs: call.ctx.popLeaseMs });
  if (jobs.length === 0) return countText === undefined ? null : NULL_ARRAY;
  await ackAll(call, topic, jobs);
  const values = jobs.map((j) => payloadText(j.payload));
  return countText === undefined ? values[0]! : values;
}

/**
 * Claims one job from the first of `topics` to have one. Every key is long-polled at once; a job
 * that a second key's claim took in the same instant is nacked back at once (no delay).
 */
async function claimAny(call: CommandCall, topics: string[], waitMs: number): Promise<{ topic: string; job: ClaimedJob } | null> {
  const { broker } = call.ctx;
  for (const topic of topics) {
    const [job] = await broker.claim(topic, { workerId: worker(call), max: 1, leaseMs: call.ctx.popLeaseMs });
    if (job) return { topic, job };
  }
  if (waitMs === 0) return null;
  const stop = new AbortController();
  const onGone = () => stop.abort(call.conn.signal.reason);
  call.conn.signal.addEventListener('abort', onGone, { once: true });
  try {
    let winner: { topic: string; job: ClaimedJob } | null = null;
    const claims = topics.map(async (topic) => {
      const jobs = await broker.claim(topic, { workerId: worker(call), max: 1, leaseMs: call.ctx.popLeaseMs, waitMs }, stop.signal).catch((err: unknown) => {
        if (stop.signal.aborted) return [];
        throw err;
      });
      for (const job of jobs) {
        if (!winner && !call.conn.signal.aborted) {
          winner = { topic, job };
          stop.abort(new QueueError('CLOSED', 'another key answered'));
        } else {
          await broker.nack(topic, { id: job.id, workerId: worker(call), lease: job.lease, delayMs: 0, error: 'handed back: another key of the same BRPOP answered first' }).catch(() => {});
        }
      }
    });
    await Promise.all(claims);
    return winner;
  } finally {
    call.conn.signal.removeEventListener('abort', onGone);
  }
}

async function blockingPop(call: CommandCall): Promise<Reply> {
  const keys = call.args.slice(0, -1);
  const topics = keys.map(topicOf);
  const timeoutMs = secondsArg(call.args.at(-1)!);
  const { clock, broker } = call.ctx;
  const forever = timeoutMs === 0;
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const left = forever ? broker.limits.maxWaitMs : Math.min(broker.limits.maxWaitMs, Math.max(0, deadline - clock.now()));
    const got = await claimAny(call, topics, left);
    if (got) {
      await ackAll(call, got.topic, [got.job]);
      return [got.topic, payloadText(got.job.payload)];
    }
    if (call.conn.signal.aborted || call.ctx.draining() || (!forever && clock.now() >= deadline) || left === 0) return NULL_ARRAY;
  }
}

async function llen(call: CommandCall): Promise<Reply> {
  return (await call.ctx.broker.stats(topicOf(call.args[0]!))).pending;
}

export const LIST_COMMANDS: CommandTable = {
  lpush: { arity: -3, flags: ['write', 'denyoom', 'fast'], keys: [1, 1, 1], run: push },
  rpush: { arity: -3, flags: ['write', 'denyoom', 'fast'], keys: [1, 1, 1], run: push },
  rpop: { arity: -2, flags: ['write', 'fast'], keys: [1, 1, 1], run: pop },
  lpop: { arity: -2, flags: ['write', 'fast'], keys: [1, 1, 1], run: pop },
  brpop: { arity: -3, flags: ['write', 'blocking'], keys: [1, -2, 1], run: blockingPop },
  blpop: { arity: -3, flags: ['write', 'blocking'], keys: [1, -2, 1], run: blockingPop },
  llen: { arity: 2, flags: ['readonly', 'fast'], keys: [1, 1, 1], run: llen },
};
