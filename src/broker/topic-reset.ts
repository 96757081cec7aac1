/**
 * What an operator's reset of a topic does (TopicLoop#reset; docs/operations.md, "When a topic's
 * state vanishes"). Decided here from one read of queue.json and what the loop saw of the topic;
 * the loop installs the result and, unless an object was adopted, commits it as its next batch.
 *
 * - The topic must be lost: a reset never touches a topic whose object is in place
 *   (FAILED_PRECONDITION) or that never existed (NOT_FOUND). A loop that has not noticed yet
 *   (a leader finds out at its next write, up to a third of a lease later) looks now.
 * - An object is there again (put back by hand, or reset through another broker): it is adopted
 *   as it is, even behind the commit this broker saw; the operator said so. Restoring from memory
 *   never overwrites it.
 * - No object: a fresh empty state, or the last commit this broker landed while leading. Either
 *   continues the seq (archive keys are named by it and must never repeat) and the epoch, and is
 *   written create-only, so an object that appears meanwhile is never replaced.
 */
import type { QueueState } from '../core/state.js';
import type { JobStats } from '../core/types.js';
import { queueKey } from '../core/keys.js';
import { isQueueError, QueueError } from '../errors.js';
import type { StoredObject } from '../storage/types.js';
import type { StateHistory } from './state-history.js';

/** What a reset did: adopted the object found in place, or wrote a fresh or the remembered state. */
export interface ResetOutcome {
  topic: string;
  action: 'adopted' | 'fresh' | 'restored';
  /** The commit the topic's queue.json holds now. */
  seq: number;
  /** Job counts after the reset (absent when an object was adopted: the next request loads it). */
  jobs?: Pick<JobStats, 'pending' | 'delayed' | 'claimed' | 'dead'>;
}

export interface ResetContext {
  topic: string;
  history: StateHistory;
  /** Whether the loop already serves the topic as lost. */
  lost: boolean;
  /** Reads queue.json (with the loop's retries). */
  read(): Promise<StoredObject | null>;
  /** Parses queue.json bytes (CORRUPT_STATE when they are not this topic's state). */
  parse(body: Uint8Array): QueueState;
  /** A fresh state, with the head bounds of the topic's other states. */
  fresh(): QueueState;
  /** The look found the topic lost: the loop stops serving it (and reports it). */
  lose(err: QueueError): void;
}

export type ResetPlan =
  | { action: 'adopted'; state: QueueState; etag: string }
  /** To be written create-only (etag null) by the loop's next commit. */
  | { action: 'fresh' | 'restored'; state: QueueState; etag: null };

export async function planReset(c: ResetContext, fromMemory: boolean): Promise<ResetPlan> {
  const key = queueKey(c.topic);
  const obj = await c.read();
  if (!c.lost) {
    try {
      if (obj) c.history.loaded(c.parse(obj.body));
      else await c.history.missing();
    } catch (err) {
      if (!isQueueError(err, 'STATE_LOST')) throw err;
      c.lose(err);
      return planLost(c, obj, fromMemory);
    }
    if (obj) throw new QueueError('FAILED_PRECONDITION', `topic ${c.topic} has its state (${key} is in place): there is nothing to reset`, { details: { topic: c.topic } });
    throw new QueueError('NOT_FOUND', `no topic ${c.topic}: ${key} does not exist and nothing shows it ever did; a first push creates it`, { details: { topic: c.topic } });
  }
  return planLost(c, obj, fromMemory);
}

function planLost(c: ResetContext, obj: StoredObject | null, fromMemory: boolean): ResetPlan {
  const key = queueKey(c.topic);
  if (obj) {
    if (fromMemory) {
      throw new QueueError('FAILED_PRECONDITION', `${key} exists again; restoring from memory never overwrites an object: reset without it to serve that object, or delete the object first`, {
        details: { topic: c.topic },
      });
    }
    const state = c.parse(obj.body); // CORRUPT_STATE: fix or delete the object first
    c.history.accept(state);
    return { action: 'adopted', state, etag: obj.etag };
  }
  const memory = c.history.remembered;
  if (fromMemory && !memory) {
    throw new QueueError(
      'FAILED_PRECONDITION',
      `this broker holds no commit of topic ${c.topic} in memory (it did not lead the topic when its state vanished, or it restarted since); a reset without restoring starts the topic empty`,
      { details: { topic: c.topic } },
    );
  }
  const floor = c.history.floor;
  const state = fromMemory && memory ? c.parse(memory.body) : c.fresh();
  state.seq = Math.max(state.seq, floor.seq);
  // The lease went with the object: the first commit's election takes it at once, one epoch on.
  const lease = state.broker;
  state.broker = { id: lease?.id ?? '', url: lease?.url ?? '', epoch: Math.max(lease?.epoch ?? 0, floor.epoch), leaseUntil: 0 };
  return { action: fromMemory ? 'restored' : 'fresh', state, etag: null };
}
