/**
 * The shapes a backlog (backlog.ts) is made of and answers with: its per-priority chains, what a
 * claim takes, where an id is, what a cancel did. Apart from backlog.ts so that its parts
 * (backlog-moves.ts, backlog-seal.ts) use them without importing the class; backlog.ts exports
 * them to the rest of the core.
 */
import type { Deque } from '../heap.js';
import type { JobRecord } from '../types.js';
import type { ReadySegmentRef } from './manifest.js';
import type { DecodedSegment } from './segment-codec.js';

/** Where new orders come from: the topic state's `nextOrder`. */
export interface OrderSource {
  nextOrder: number;
}

/** Decoded segments the broker has read (undefined: not read yet). */
export type SegmentSource = (key: string) => DecodedSegment | undefined;

export interface Chain {
  priority: number;
  window: Deque<JobRecord>;
  windowLive: number;
  windowBytes: number;
  segments: ReadySegmentRef[];
  tail: JobRecord[];
  tailBytes: number;
  /** How many jobs at the end of `tail` are deferred: pushed by this batch, not in `head` yet (Backlog.deferHead). */
  fresh: number;
}

export type Take = { job: JobRecord } | { blocked: string } | undefined;

export type Location =
  | { at: 'head'; job: JobRecord }
  /** In this segment (confirmed against its ids). */
  | { at: 'segment'; key: string }
  /** Cancelled while in this segment: a tombstone waits for refill or compaction. */
  | { at: 'cancelled'; key: string }
  /** Fingerprint hits: read these segments' ids (provideIds), then ask again. */
  | { at: 'unconfirmed'; keys: string[] }
  /** The index is still being built (after a load): provide these segments' fingerprints. */
  | { at: 'unindexed'; keys: string[] }
  | undefined;

export type CancelOutcome =
  | { removed: JobRecord }
  | { tombstoned: string }
  | { needs: string[] }
  | { missing: true; cancelledIn?: string };
