/**
 * The two bucketq operations Redis has no word for, named like module commands (`BQ.*`) so they
 * never collide with a Redis command: a client library sends them with its generic call
 * (`redis.call('BQ.NACK', ...)`, `redis-cli BQ.NACK ...`).
 *
 * - `BQ.NACK key group id [DELAY ms] [ERROR text]` fails a delivery of the group now instead of
 *   waiting for its lease to expire: the job is retried with the topic's backoff (or DELAY), or
 *   is dead once its attempts are spent. Replies the job's state: pending, delayed or dead (a
 *   replayed BQ.NACK the state its first try replied); an unknown or expired delivery is `-LEASE_LOST`.
 * - `BQ.RETRY key id` sends a dead job back to pending with its attempts reset; replies its state.
 */
import { QueueError } from '../../../errors.js';
import { intArg, syntaxError, topicOf, type CommandCall, type CommandTable } from '../command.js';
import { simple, type Reply } from '../writer.js';

async function nack(call: CommandCall): Promise<Reply> {
  const [key, group, id, ...rest] = call.args;
  const topic = topicOf(key!);
  let delayMs: number | undefined;
  let error: string | undefined;
  for (let i = 0; i < rest.length; i += 2) {
    const word = rest[i]!.toUpperCase();
    const value = rest[i + 1];
    if (value === undefined) throw syntaxError();
    if (word === 'DELAY') delayMs = intArg(value, 'DELAY');
    else if (word === 'ERROR') error = value;
    else throw syntaxError();
  }
  const lease = call.ctx.leases.get(topic, group!, id!);
  if (!lease) throw new QueueError('LEASE_LOST', `no live delivery of ${id} to group ${group} on this broker`);
  try {
    const out = await call.ctx.broker.nack(topic, { id: id!, workerId: lease.worker, lease: lease.token, ...(delayMs !== undefined ? { delayMs } : {}), ...(error !== undefined ? { error } : {}) });
    call.ctx.leases.delete(topic, id!);
    return simple(out.state);
  } catch (err) {
    // Refused by the broker: the lease is spent. A transient failure keeps it for a retry or an XACK.
    if (err instanceof QueueError && (err.code === 'LEASE_LOST' || err.code === 'NOT_FOUND')) call.ctx.leases.delete(topic, id!);
    throw err;
  }
}

async function retry(call: CommandCall): Promise<Reply> {
  const [key, id] = call.args;
  return simple((await call.ctx.broker.retry(topicOf(key!), id!)).state);
}

export const BUCKETQ_COMMANDS: CommandTable = {
  'bq.nack': { arity: -4, flags: ['write', 'fast'], keys: [1, 1, 1], run: nack },
  'bq.retry': { arity: 3, flags: ['write', 'fast'], keys: [1, 1, 1], run: retry },
};
