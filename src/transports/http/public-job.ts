import type { JobRecord } from '../../core/types.js';

/** A job as shown over the wire: large payloads already inlined, and never another claim's lease token. */
export function publicJob(job: JobRecord): Record<string, unknown> {
  const { payloadRef: _ref, lease, ...rest } = job;
  return lease ? { ...rest, lease: { worker: lease.worker, until: lease.until } } : rest;
}
