/**
 * What a batch's lookups by id need from segments before apply (docs/format.md, "Cancel, get,
 * idempotent push"): the ids of segments with a fingerprint hit, to be confirmed, and the records
 * of jobs a get finds in a segment. The broker reads them, hands them in (provideIds, the get's
 * `record`), and applies; a lookup it could not resolve answers UNAVAILABLE (retryable).
 */
import type { BatchRequest } from '../batch.js';
import type { PushInput } from '../ops/push.js';
import type { QueueState } from '../state.js';

export interface SegmentLookups {
  /** Segments whose id lists confirm or refute fingerprint hits. */
  confirm: string[];
  /** Gets and cancels of jobs waiting in a segment: id → segment key (the broker reads the record). */
  records: Map<string, string>;
  /** Whether some lookup met segments not indexed yet (after a load): the index must be complete first. */
  unindexed: boolean;
}

/** Passes each job id a request names (a push's jobs, a cancel's or a get's id) to `visit`, in order. */
function eachId(req: BatchRequest, visit: (id: string) => void): void {
  const input = req.input as { id?: unknown; jobs?: Array<{ id?: unknown }> };
  if (req.op === 'push' && Array.isArray(input.jobs)) {
    // A loop, not map().filter(): two arrays of a push's size less a batch.
    const jobs = input.jobs;
    for (let i = 0; i < jobs.length; i++) {
      const id = jobs[i]?.id;
      if (typeof id === 'string') visit(id);
    }
  } else if ((req.op === 'cancel' || req.op === 'get') && typeof input.id === 'string') visit(input.id);
}

export function segmentLookups(s: QueueState, requests: readonly BatchRequest[]): SegmentLookups {
  const out: SegmentLookups = { confirm: [], records: new Map(), unindexed: false };
  const b = s.backlog;
  // The next attempt begins without the last one's planned ids: what it must confirm is asked now.
  b.reg.dropPlanned();
  if (b.reg.refs.size === 0) return out;
  const confirm = new Set<string>();
  for (const req of requests) {
    if (req.op === 'push' && (req.input as PushInput).newIds === true) continue; // nothing to find (PushInput.newIds)
    let absent = req.op === 'push';
    eachId(req, (id) => {
      if (s.jobs.has(id)) {
        absent = false;
        return;
      }
      const loc = b.locate(id);
      if (!loc) return;
      absent = false;
      if (loc.at === 'unconfirmed') for (const k of loc.keys) confirm.add(k);
      else if (loc.at === 'unindexed') out.unindexed = true;
      else if (loc.at === 'segment' && (req.op === 'get' || req.op === 'cancel')) out.records.set(id, loc.key);
    });
    // The push op then skips the second probe of the id index for these ids (Backlog.absentChecked).
    if (absent && typeof req.input === 'object' && req.input !== null) b.markAbsent(req.input);
  }
  out.confirm = [...confirm];
  return out;
}
