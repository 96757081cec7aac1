/**
 * The events of a broker (`broker.events`, a typed EventEmitter), declared once for every listener:
 * metrics and logs (server/), readiness's view of leadership (server/leadership.ts), the live event
 * feed (transports/http/events/event-feed.ts), commit spans (tracing.ts). They are the broker's own view, as
 * the topic loops, the archiver and the janitor report it. The events a client reads on the wire
 * (GET /v1/events: `QueueEvent`, its `CommitEvent` and `LeaderEvent`) are built from these by the
 * event feed and declared in src/event-types.ts; the names here say they are not those.
 *
 * Each is emitted after what it reports (a commit once it landed). A listener that throws never
 * breaks the loop that emitted, but it keeps the listeners after it from hearing the event.
 */
import type { EventEmitter } from 'node:events';
import type { BatchRequest } from '../core/batch.js';
import type { OpName, OpResult } from '../core/apply.js';
import type { SweepOutput } from '../core/ops/sweep.js';
import type { BrokerLease } from '../core/types.js';
import type { QueueError } from '../errors.js';
import type { ResetOutcome } from './topic-reset.js';

/** A landed commit, measured. */
export interface CommitStats {
  topic: string;
  seq: number;
  /** Requests in the batch. */
  requests: number;
  /** Bytes of queue.json written. */
  bytes: number;
  /** Time from taking the batch to the write landing, conflicts included. */
  ms: number;
  /** Write conflicts on the way (each re-applied the batch). */
  conflicts: number;
}

/** This broker took the lease of a topic (its first commit as leader landed). */
export interface LeadershipTaken {
  topic: string;
  /** This broker's id. */
  broker: string;
  epoch: number;
}

/** This broker led a topic and found another broker's live lease: it stopped at once (fenced). */
export interface LeadershipLost {
  topic: string;
  /** The lease that took over, when the read showed one. */
  leader: BrokerLease | null;
}

/** A topic's queue.json vanished or went back after this broker saw it (once per loss). */
export interface StateLost {
  topic: string;
  error: QueueError;
  /** The last commit this broker knows the object held. */
  seq: number;
  /** The commit it holds in memory (restorable), or null. */
  memorySeq: number | null;
}

/** A lost topic is served again: reset here, or `found` back in place (reset through another broker). */
export interface StateReset {
  topic: string;
  action: ResetOutcome['action'] | 'found';
  seq: number;
}

export interface SegmentLost {
  topic: string;
  key: string;
  error: QueueError;
}

/** Housekeeping that failed (archiving, a payload clean-up, the janitor, an internal op); nothing a caller waited on. */
export interface InternalErrorReport {
  topic: string;
  /** What failed, e.g. `janitor`, `delete payload`, an op name. */
  op: string;
  error: unknown;
}

/**
 * The `batch` event: a landed commit's requests and their results, in order, emitted after the
 * commit and only while someone listens. Read it synchronously: the inputs belong to the loop.
 */
export interface LandedBatch {
  topic: string;
  seq: number;
  time: number;
  requests: readonly BatchRequest[];
  results: readonly OpResult<OpName>[];
  /** Leases that expired in this commit (their jobs went back to pending, or dead). */
  expired: SweepOutput['expired'];
}

export interface BrokerEventMap {
  commit: [CommitStats];
  /** A commit's write lost its compare-and-swap; `round` counts the conflicts of one batch. */
  conflict: [{ topic: string; round: number }];
  /** A write whose outcome the store could not tell was resolved by a re-read. */
  ambiguous: [{ topic: string; landed: boolean }];
  leader: [LeadershipTaken];
  fenced: [LeadershipLost];
  'state-lost': [StateLost];
  'state-reset': [StateReset];
  /** A segment the head names is missing from the store or does not decode: its jobs wait, nothing is skipped (once per segment). */
  'segment-lost': [SegmentLost];
  'internal-error': [InternalErrorReport];
  batch: [LandedBatch];
  /** Not emitted by the broker: it listens itself, so that an 'error' emitted by anyone never crashes the process. */
  error: [unknown];
}

export type BrokerEvents = EventEmitter<BrokerEventMap>;
