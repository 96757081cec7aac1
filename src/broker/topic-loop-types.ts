/**
 * The types the files of a topic's commit loop share: a request and what a caller may attach to
 * it, the loop's options, its modes. Apart from topic-loop.ts so that the loop's parts
 * (topic-committer.ts, hand-off.ts, batch-deferral.ts) use them without importing the loop;
 * topic-loop.ts exports them to the rest of the broker.
 */
import type { OpInput, OpName, OpOutput, OpResult } from '../core/apply.js';
import type { SweepOutput } from '../core/ops/sweep.js';
import type { QueueState } from '../core/state.js';
import type { BacklogLimits } from '../core/segments/manifest.js';
import type { QueueError } from '../errors.js';
import type { StorageDriver } from '../storage/types.js';
import type { Clock } from '../clock.js';
import type { BrokerEvents } from './broker-events.js';
import type { RetryPolicy } from './retry.js';

export interface TopicRequest<K extends OpName = OpName> {
  op: K;
  input: OpInput<K>;
  resolve(value: OpOutput<K>): void;
  reject(err: QueueError): void;
  /** Long-poll claims: park an empty result until this time. */
  deadline?: number;
  signal?: AbortSignal;
  /** Called with the commit seq when the request succeeded in a landed commit, before it resolves (tracing; must not throw). */
  onLanded?: (seq: number) => void;
  /** The broker's own housekeeping (archived, expireDead, resign, ...): reads do not wait for it. */
  internal?: boolean;
  /** Starts no batch: it joins the next one, or commits after a short wait (batch-deferral.ts). */
  deferrable?: boolean;
  /** An ack that starts no batch while a claim of its worker is parked (batch-deferral.ts). */
  lingers?: boolean;
  /** Enqueue time, for the standby wait limit. */
  since: number;
}

export interface TopicLoopOptions {
  topic: string;
  store: StorageDriver;
  clock: Clock;
  /** This broker instance: lease holder id and commit writer id. */
  brokerId: string;
  url: string;
  leaseMs: number;
  standby: 'wait' | 'reject';
  retry: RetryPolicy;
  random: () => number;
  events: BrokerEvents;
  /** Runs after every landed commit that changed the state (archiving, payload clean-up). */
  afterCommit(state: QueueState, requests: readonly TopicRequest[], results: readonly OpResult<OpName>[], swept: SweepOutput | undefined): void;
  /** Called when this broker takes the lease of the topic. */
  onLeading?(): void;
  /** Bounds of the head's window (docs/format.md, section 8); the defaults when omitted. */
  backlogLimits?: Partial<BacklogLimits>;
  /** How often the leader lists segments for orphans (BrokerOptions.orphanListingMs). */
  orphanListingMs?: number;
}

/** The modes of a topic's loop (the header of topic-loop.ts). */
export type Mode = 'unloaded' | 'leading' | 'standby' | 'lost' | 'stopped';

/** What a caller may attach to a request besides its op and input. */
export type SubmitExtra = Pick<TopicRequest, 'deadline' | 'signal' | 'onLanded' | 'internal' | 'deferrable'>;
