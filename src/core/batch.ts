/**
 * One batch applied to a draft: every state change a group commit carries, without the writing.
 * Pure and re-runnable like each op (apply.ts): after a conflict the broker reloads and applies the
 * same batch again from scratch, so results are made here each time, never kept from a round
 * before. The broker's loop (broker/topic-committer.ts) decides whether and how to write the outcome.
 *
 * The order is the commit's: stamp it (seq + 1, writer, time); `elect` first when the caller does
 * not hold the lease (a refusal ends the batch: none of it may be written); begin the backlog's
 * commit attempt (segments are named after the epoch, the seq and the attempt's nonce) and refill
 * the head's window from the segments the broker has read ahead; sweep what came due (expired
 * leases, delayed jobs) so the requests see it; then each request in turn, one op's error failing
 * only that op; last, seal: tails and delayed jobs beyond the head's bounds become segments the
 * broker writes before the head (docs/format.md, section 4).
 */
import type { QueueError } from '../errors.js';
import { apply, beginCommit, type OpInput, type OpName, type OpResult } from './apply.js';
import type { ElectInput } from './ops/housekeeping.js';
import type { SweepOutput } from './ops/sweep.js';
import type { PlannedWrite } from './segments/segment-registry.js';
import type { SegmentSource } from './segments/backlog.js';
import { nextDueAt, type QueueState } from './state.js';

export interface BatchRequest {
  op: OpName;
  input: OpInput<OpName>;
}

export type AppliedBatch =
  | {
      ok: true;
      /** Whether anything changed (an election does): otherwise there is nothing to write. */
      changed: boolean;
      /** One per request, in order. */
      results: OpResult<OpName>[];
      /** What the sweep did, when something came due. */
      swept: SweepOutput | undefined;
      /** Segments to write (create-only) before the head: this commit's manifest names them. */
      segmentWrites: readonly PlannedWrite[];
      /** Jobs refill moved from read segments into the head. */
      refilled: number;
      /** Takes the commit stamp back: for a batch that is not written after all. */
      unstamp(): void;
    }
  /** `elect` refused the caller (another broker holds a live lease); the draft is as it was. */
  | { ok: false; error: QueueError };

/** What the broker hands a batch about segments: the attempt's nonce and the segments it has read. */
export interface BatchSegments {
  /** 8 hex digits, random per attempt (a re-application after a conflict gets a new one). */
  nonce: string;
  /** Decoded segments read ahead (refill, compaction); none when omitted. */
  source?: SegmentSource;
}

const NO_SEGMENTS: BatchSegments = { nonce: '00000000' };

/** Applies `requests` to `draft` as one commit by `writer`, electing first with `elect` unless it is null. */
export function applyBatch(draft: QueueState, writer: string, requests: readonly BatchRequest[], elect: ElectInput | null, now: number, segments: BatchSegments = NO_SEGMENTS): AppliedBatch {
  const before = { seq: draft.seq, writer: draft.writer, time: draft.time };
  const unstamp = () => void Object.assign(draft, before);
  beginCommit(draft, writer, now);
  let changed = false;
  if (elect) {
    const e = apply(draft, 'elect', elect, now);
    if (!e.ok) {
      unstamp();
      return { ok: false, error: e.error };
    }
    changed = true;
  }
  const backlog = draft.backlog;
  backlog.begin({ epoch: draft.broker?.epoch ?? 0, seq: draft.seq, nonce: segments.nonce });
  const refilled = segments.source ? backlog.refill(segments.source, now) : 0;
  changed ||= refilled > 0;
  const due = nextDueAt(draft, now);
  let swept: SweepOutput | undefined;
  if (due !== undefined && due <= now) {
    const r = apply(draft, 'sweep', {}, now);
    changed ||= r.ok && r.changed;
    if (r.ok) swept = r.value;
  }
  const results: OpResult<OpName>[] = [];
  for (const req of requests) {
    // A run of pushes adds its tail jobs without entering them in the head's maps: most of a bulk
    // push is sealed at the end of this batch (Backlog.deferHead). Any other op sees them entered.
    if (req.op === 'push') backlog.deferHead((req.input as OpInput<'push'>).newIds !== true);
    else backlog.settleFresh();
    const r = apply(draft, req.op, req.input, now);
    results.push(r);
    changed ||= r.ok && r.changed;
  }
  // Segments with many tombstones, once read, are rewritten with their live jobs (docs/format.md, "Compaction").
  if (segments.source) {
    const source = segments.source;
    const ready = backlog.compactionPlan().filter((key) => source(key) !== undefined);
    if (ready.length > 0) {
      backlog.settleFresh();
      changed ||= backlog.compact(ready, source, now) > 0;
    }
  }
  backlog.seal(now);
  const segmentWrites = backlog.plannedWrites;
  changed ||= segmentWrites.length > 0;
  return { ok: true, changed, results, swept, segmentWrites, refilled, unstamp };
}
