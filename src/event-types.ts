/**
 * The live events of a broker (`GET /v1/events`, `client.events()`, `bucketq watch`): one shape
 * per kind, shared by the server that emits them and the client that reads them.
 *
 * Every event but `reset` is emitted only after the commit that caused it landed in storage, so an
 * event never announces something a crash could take back. `id` is `<boot>-<n>`: `boot` names
 * the broker process, `n` increases by one per event of that process.
 */

/** A job changed state in a landed commit. `seq` is that commit's sequence number. */
interface JobEventBase {
  id: string;
  topic: string;
  /** The commit's time (broker clock, epoch ms). */
  time: number;
  seq: number;
  job: string;
}

export interface PushedEvent extends JobEventBase {
  kind: 'pushed';
  /** `pending` (due now) or `delayed`. */
  state: string;
  priority?: number;
  runAt?: number;
}

export interface ClaimedEvent extends JobEventBase {
  kind: 'claimed';
  worker: string;
  /** 1 on the first delivery. */
  attempt: number;
  maxAttempts: number;
  leaseUntil: number;
}

export interface AckedEvent extends JobEventBase {
  kind: 'acked';
  worker: string;
}

/** A nack that scheduled another attempt. */
export interface NackedEvent extends JobEventBase {
  kind: 'nacked';
  worker: string;
  error?: string;
  /** When the job is due again. */
  runAt?: number;
}

/** A nack that spent the job's last attempt: the job is in the dead-letter list. */
export interface DeadEvent extends JobEventBase {
  kind: 'dead';
  worker: string;
  error?: string;
}

export interface CancelledEvent extends JobEventBase {
  kind: 'cancelled';
}

/** A dead job sent back to pending. */
export interface RetriedEvent extends JobEventBase {
  kind: 'retried';
}

/** A claimed job handed back untouched (Queue.release, or a claim whose caller left): pending again, the attempt not counted. */
export interface ReleasedEvent extends JobEventBase {
  kind: 'released';
  worker: string;
}

/** This broker took the topic (`leading: true`) or lost it to another broker. */
export interface LeaderEvent {
  id: string;
  kind: 'leader';
  topic: string;
  time: number;
  leading: boolean;
  /** Taken: this broker's id and the new epoch. */
  broker?: string;
  epoch?: number;
  /** Lost: the new leader's id and URL, when known. */
  leaderId?: string | null;
  leader?: string | null;
}

/** One landed commit: how many requests it carried, its size, how long it took, conflicts on the way. */
export interface CommitEvent {
  id: string;
  kind: 'commit';
  topic: string;
  time: number;
  seq: number;
  requests: number;
  bytes: number;
  ms: number;
  conflicts: number;
}

/**
 * The stream could not resume where the client left off (too old for the window, another broker
 * process, or the broker was not recording): events were missed; re-read state if it matters.
 */
export interface ResetEvent {
  id: string;
  kind: 'reset';
  time: number;
  /** The Last-Event-ID the client asked to resume after. */
  lastEventId: string;
  reason: string;
}

export type JobEvent = PushedEvent | ClaimedEvent | AckedEvent | NackedEvent | DeadEvent | CancelledEvent | RetriedEvent | ReleasedEvent;
export type QueueEvent = JobEvent | LeaderEvent | CommitEvent | ResetEvent;
export type QueueEventKind = QueueEvent['kind'];

export const EVENT_KINDS: readonly QueueEventKind[] = ['pushed', 'claimed', 'acked', 'nacked', 'dead', 'cancelled', 'retried', 'released', 'leader', 'commit', 'reset'];
