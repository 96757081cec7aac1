import { QueueError } from '../../errors.js';
import { hasPayloadJson, jobJson } from '../job-json.js';
import type { QueueState } from '../state.js';
import type { JobRecord } from '../types.js';

/** What an op may tell the commit loop besides its result. */
export interface OpContext {
  /** Set when the op changed the state; a batch where no op did writes nothing. */
  changed: boolean;
}

export type OpHandler<I, O> = (s: QueueState, input: I, now: number, ctx: OpContext) => O;

/**
 * A detached, JSON-safe copy of a job record: callers can never mutate the state through it. A
 * pushed job's payload is copied from its JSON text (made when it was pushed), never from the
 * payload object, which may be the pusher's own (broker.ts, push): what the job holds is that text.
 */
export function snapshot(job: JobRecord): JobRecord {
  // A stub (neither payload nor payloadRef: its record is archived) stays without a payload field.
  const fromText = job.payload !== undefined && job.payloadRef === undefined && hasPayloadJson(job);
  return JSON.parse(fromText ? jobJson(job) : JSON.stringify(job)) as JobRecord;
}

/** The job behind a lease, or LEASE_LOST: never a silent success for a stale or foreign lease. */
export function ownedJob(s: QueueState, id: string, worker: string, token: string, now: number): JobRecord {
  const job = s.jobs.get(id);
  if (!job || job.state !== 'claimed' || !job.lease) {
    throw new QueueError('LEASE_LOST', `job ${id} is not claimed (${job ? job.state : 'not in the queue'})`, { details: { id } });
  }
  if (job.lease.worker !== worker || job.lease.token !== token) {
    throw new QueueError('LEASE_LOST', `job ${id} is leased by another claim`, { details: { id } });
  }
  if (job.lease.until <= now) {
    throw new QueueError('LEASE_LOST', `the lease on job ${id} expired`, { details: { id } });
  }
  return job;
}
