/**
 * Shapes of the pure core. A `JobRecord` is exactly what is stored in queue.json (and in archive
 * objects); everything else here is input and output of ops.
 */

/** Where a job is. `completed`, `dead` and `cancelled` jobs leave queue.json after their commit. */
export type JobState = 'pending' | 'delayed' | 'claimed' | 'completed' | 'dead' | 'cancelled';

export type Backoff =
  /** delay = min(maxMs, baseMs * 2^(attempt-1)), then `jitter` (0..1) of it randomised. */
  | { type: 'exponential'; baseMs: number; maxMs?: number; jitter?: number }
  | { type: 'fixed'; delayMs: number };

export interface Lease {
  worker: string;
  token: string;
  /** Epoch ms after which the lease is expired and the job goes back to pending. */
  until: number;
}

export interface JobRecord {
  id: string;
  state: JobState;
  /** Inline payload; absent when the payload lives in its own object (`payloadRef`). */
  payload?: unknown;
  /** Storage key of an externalised large payload. */
  payloadRef?: string;
  priority: number;
  /** Enqueue sequence: FIFO order within one priority. Re-assigned when the job becomes pending again. */
  order: number;
  /** Epoch ms at which the job is due. */
  runAt: number;
  /** Number of times the job was claimed. */
  attempts: number;
  maxAttempts: number;
  backoff?: Backoff;
  lease?: Lease;
  createdAt: number;
  updatedAt: number;
  lastError?: string;
  /**
   * The job's last nack: its worker and lease token and what it answered. A replay of that nack
   * (its answer was lost, the client tries again) gets the same answer, whatever happened since.
   */
  nackedBy?: NackedBy;
  result?: unknown;
  finishedAt?: number;
  /** For jobs that left the queue: the archive object they were written to. */
  archive?: string;
}

/** A nack: the worker and lease token that made it, and its answer (the state it left the job in, and when a retry is due). */
export interface NackedBy {
  worker: string;
  token: string;
  state: JobState;
  runAt?: number;
}

export interface BrokerLease {
  id: string;
  url: string;
  epoch: number;
  leaseUntil: number;
}

export interface TopicSettings {
  maxAttempts: number;
  backoff: Backoff;
  /** Paused topics accept pushes but hand out no claims. */
  paused: boolean;
}

export interface Counters {
  pushed: number;
  claimed: number;
  completed: number;
  nacked: number;
  dead: number;
  cancelled: number;
  retried: number;
  leasesExpired: number;
  /** Dead-letter entries dropped from the index because their archive passed retention. */
  deadExpired: number;
}

/** A compact pointer to a dead job whose full record lives in an archive object. */
export interface DeadEntry {
  archive: string;
  at: number;
  attempts: number;
  lastError?: string;
  /** The nack that made the job dead (not set when a lease expiry did): its replay still answers `dead` once the record is archived. */
  nackedBy?: NackedBy;
}

export interface StateCounts {
  pending: number;
  delayed: number;
  claimed: number;
}

export interface JobStats extends StateCounts {
  dead: number;
  /** Finished in a commit but not yet archived. */
  archiving: number;
  /** Age in ms of the oldest due pending job (0 when none). */
  oldestPendingMs: number;
  counters: Counters;
  paused: boolean;
  /** The topic's settings (PATCH /v1/topics/{topic}); `paused` repeats the field above. */
  settings: TopicSettings;
  seq: number;
  broker: BrokerLease | null;
}

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_BACKOFF: Backoff = { type: 'exponential', baseMs: 1000, maxMs: 3_600_000, jitter: 0.5 };
