import { QueueError } from '../../errors.js';
import { newJobRecord } from '../job-json.js';
import { deadStub, findDone, insertJob, recentStub, segmentState, type QueueState } from '../state.js';
import type { Backoff, JobRecord, JobState } from '../types.js';
import { snapshot, type OpHandler } from './_context.js';

export interface PushJob {
  /** Made before apply (client-supplied or generated), so a replayed batch makes the same job. */
  id: string;
  payload?: unknown;
  payloadRef?: string;
  /** JSON.stringify(payload), when the caller has it already: saves serialising it again. */
  payloadJson?: string;
  priority?: number;
  /** Absolute due time (epoch ms); wins over delayMs. */
  runAt?: number;
  delayMs?: number;
  maxAttempts?: number;
  backoff?: Backoff;
}

export interface PushInput {
  jobs: PushJob[];
  /**
   * Every id was made by the broker for this request (unguessable: unguessable-ids.ts), and the
   * request was never applied: no job can hold one yet, so they are not looked up (the head's
   * maps, the done ids, the segments' id index: a tenth of a bulk push's time). The committer
   * clears it once the request was applied, since a re-apply (after a write that landed but was
   * reported otherwise) may meet the jobs of its own first attempt (docs/format.md, "Cancel,
   * get, idempotent push").
   */
  newIds?: boolean;
}

export interface PushOutcome {
  id: string;
  /** false when a job with this id already existed: nothing was duplicated. */
  created: boolean;
  state: JobState;
  /** The existing job, when not created and queue.json still holds its record (not for a dead or archived one: its state says it). */
  existing?: JobRecord;
}

export interface PushOutput {
  jobs: PushOutcome[];
}

/** The job already under `id`: its record while queue.json holds one, else only its state. */
function existingJob(s: QueueState, id: string, now: number, inSegments: boolean): { state: JobState; record?: JobRecord } | undefined {
  const record = s.jobs.get(id) ?? s.backlog.freshJob(id) ?? findDone(s, id);
  if (record) return { state: record.state, record };
  // Dead: the full record is in the archive; the index entry is enough to refuse a duplicate.
  // Archived lately: a client's retry of a push whose answer was lost must not add it again.
  const stub = s.dead.has(id) ? deadStub(id, s.dead.get(id)!) : recentStub(s, id, now);
  if (stub) return { state: stub.state };
  // Waiting in a segment (its record is not in the head): the state is enough to refuse a duplicate.
  // Not asked when the broker found none of the push's ids in a segment before apply (segmentLookups).
  if (!inSegments) return undefined;
  const inSegment = segmentState(s, id);
  return inSegment && { state: inSegment };
}

export const push: OpHandler<PushInput, PushOutput> = (s, input, now, ctx) => {
  if (!Array.isArray(input.jobs) || input.jobs.length === 0) throw new QueueError('INVALID_ARGUMENT', 'push needs at least one job');
  const jobs = input.jobs;
  const out: PushOutcome[] = new Array(jobs.length);
  const newIds = input.newIds === true;
  const inSegments = !newIds && !s.backlog.absentChecked(input);
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i]!;
    const found = newIds ? undefined : existingJob(s, j.id, now, inSegments);
    if (found) {
      out[i] = { id: j.id, created: false, state: found.state, ...(found.record ? { existing: snapshot(found.record) } : {}) };
      continue;
    }
    const runAt = j.runAt ?? now + Math.max(0, j.delayMs ?? 0);
    const job = newJobRecord(j.id, j.priority ?? 0, s.nextOrder++, runAt, j.maxAttempts ?? s.settings.maxAttempts, now, j.payloadRef, j.payloadRef === undefined ? (j.payload ?? null) : undefined, j.payloadJson);
    if (j.backoff) job.backoff = j.backoff;
    insertJob(s, job, now);
    s.counters.pushed++;
    ctx.changed = true;
    out[i] = { id: j.id, created: true, state: job.state };
  }
  return { jobs: out };
};
