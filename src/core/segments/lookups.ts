/**
 * What a batch's lookups by id need from segments before apply (docs/format.md, "Cancel, get,
 * idempotent push"): the ids of segments with a fingerprint hit, to be confirmed, and the records
 * of jobs a get finds in a segment. The broker reads them, hands them in (provideIds, the get's
 * `record`), and applies; a lookup it could not resolve answers UNAVAILABLE (retryable).
 */
import type { BatchRequest } from '../batch.js';
import type { QueueState } from '../state.js';

export interface SegmentLookups {
  /** Segments whose id lists confirm or refute fingerprint hits. */
  confirm: string[];
  /** Gets and cancels of jobs waiting in a segment: id → segment key (the broker reads the record). */
  records: Map<string, string>;
  /** Whether some lookup met segments not indexed yet (after a load): the index must be complete first. */
  unindexed: boolean;
}

function idsOf(req: BatchRequest): string[] {
  const input = req.input as { id?: unknown; jobs?: Array<{ id?: unknown }> };
  if (req.op === 'push' && Array.isArray(input.jobs)) return input.jobs.map((j) => j?.id).filter((id): id is string => typeof id === 'string');
  if ((req.op === 'cancel' || req.op === 'get') && typeof input.id === 'string') return [input.id];
  return [];
}

export function segmentLookups(s: QueueState, requests: readonly BatchRequest[]): SegmentLookups {
  const out: SegmentLookups = { confirm: [], records: new Map(), unindexed: false };
  const b = s.backlog;
  // The next attempt begins without the last one's planned ids: what it must confirm is asked now.
  b.reg.dropPlanned();
  if (b.reg.refs.size === 0) return out;
  const confirm = new Set<string>();
  for (const req of requests) {
    let absent = req.op === 'push';
    for (const id of idsOf(req)) {
      if (s.jobs.has(id)) {
        absent = false;
        continue;
      }
      const loc = b.locate(id);
      if (!loc) continue;
      absent = false;
      if (loc.at === 'unconfirmed') for (const k of loc.keys) confirm.add(k);
      else if (loc.at === 'unindexed') out.unindexed = true;
      else if (loc.at === 'segment' && (req.op === 'get' || req.op === 'cancel')) out.records.set(id, loc.key);
    }
    // The push op then skips the second probe of the id index for these ids (Backlog.absentChecked).
    if (absent && typeof req.input === 'object' && req.input !== null) b.markAbsent(req.input);
  }
  out.confirm = [...confirm];
  return out;
}
