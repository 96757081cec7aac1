import type { JobRecord } from '../../core/types.js';

/** A job as shown over the wire: large payloads already inlined, and never a claim's lease token (a nack's neither). */
export function publicJob(job: JobRecord): Record<string, unknown> {
  const { payloadRef: _ref, lease, nackedBy: _nack, ...rest } = job;
  return lease ? { ...rest, lease: { worker: lease.worker, until: lease.until } } : rest;
}
