/**
 * Argument helpers shared by the two implementations of the Queue interface (embedded
 * `createQueue` and remote `createClient`): the same caller mistakes get the same errors.
 */
import { QueueError } from './errors.js';
import { checkJsonDepth } from './protocol.js';
import type { LeaseHandle } from './api.js';

function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

/** Only the lease fields: a ClaimedJob carries more, the broker needs these three. */
export function leaseOf(job: LeaseHandle): LeaseHandle {
  if (typeof job !== 'object' || job === null) throw invalid('expected a claimed job or {id, lease, workerId}');
  if (typeof job.id !== 'string' || job.id === '') throw invalid('id must be a non-empty string');
  return { id: job.id, lease: job.lease, workerId: job.workerId };
}

/** An ack result, checked to be JSON-serialisable before it is sent. */
export function jsonSafe(result: unknown): unknown {
  if (result === undefined) return undefined;
  checkJsonDepth(result, 'result'); // before JSON.stringify walks it
  try {
    JSON.stringify(result);
  } catch (err) {
    throw invalid(`result is not JSON-serialisable: ${(err as Error).message}`);
  }
  return result;
}

/** A nack's error as text: an Error's message, or the string itself. */
export function errorText(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  throw invalid('error must be a string or an Error');
}
