/**
 * The hand-off: a batch that may make a job claimable (a push, nack, release, retry, resume) takes
 * every parked claim along, after its own requests: they see its jobs, in priority and FIFO order,
 * and are answered by the same commit, so one write stands between a push and the handler of a
 * waiting worker. Should that write fail, they go back to waiting; a claim it leaves empty parks
 * again, with its own deadline (topic-committer.ts: settle, failAll). Parked claims also run again
 * after a commit that left jobs pending (a claim that came before the push in its batch), and when
 * a delayed job or a lease comes due (parking.ts).
 *
 * Apart from the loop (topic-loop.ts takes the riders, topic-committer.ts answers them) because it
 * is the one rule that puts a request into a batch it was not queued for.
 */
import type { OpName } from '../core/apply.js';
import type { ParkingLot } from './parking.js';
import type { TopicRequest } from './topic-loop-types.js';

/** Ops that can make a job claimable at once: a batch with one takes the parked claims along. */
const READIES: ReadonlySet<OpName> = new Set<OpName>(['push', 'nack', 'unclaim', 'retry', 'retryDead', 'configure']);
/** Parked claims that ride along with a batch (none, for most). */
export type Riders = ReadonlySet<TopicRequest>;
export const NO_RIDERS: Riders = new Set();

/**
 * The hand-off: when `batch` may make a job claimable, every parked claim joins it, after the
 * batch's own requests (so they see its jobs) and in the order they parked. Returns them: a
 * failed write sends them back to waiting instead of failing them (failAll).
 */
export function handOff(parking: ParkingLot<TopicRequest>, batch: TopicRequest[]): Riders {
  if (parking.size === 0 || !batch.some((r) => READIES.has(r.op))) return NO_RIDERS;
  const riders = parking.unparkAll();
  batch.push(...riders);
  return new Set(riders);
}
