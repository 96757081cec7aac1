/**
 * The op table and `apply`: the one entry point of the pure core.
 *
 * apply(state, op, now) runs one op against a draft state. It is deterministic: no I/O, no clock,
 * no randomness (ids, lease nonces and jitter are inputs). It mutates the draft in place for speed;
 * the broker never keeps a draft it cannot rebuild, because the last committed state is always
 * in storage and a conflict reloads it. An op validates before it mutates, so a failing op leaves
 * the draft untouched and its error fails only itself.
 */
import { isQueueError, QueueError } from '../errors.js';
import { claim, type ClaimInput, type ClaimOutput } from './ops/claim.js';
import { cancel, configure, get, retry, stats, type ConfigureInput, type GetInput, type RetryInput } from './ops/admin-ops.js';
import { archived, elect, expireDead, resign, sealArchive, type ArchivedInput, type ElectInput } from './ops/housekeeping.js';
import { ack, heartbeat, nack, unclaim, type AckInput, type HeartbeatInput, type NackInput, type NackOutput, type UnclaimInput, type UnclaimOutput } from './ops/lease-ops.js';
import { push, type PushInput, type PushOutput } from './ops/push.js';
import { sweep, type SweepOutput } from './ops/sweep.js';
import { listJobs, workers, type ListJobsInput, type ListJobsOutput, type WorkerLeases } from './ops/browse-ops.js';
import { retryDead, type RetryDeadInput, type RetryDeadOutput } from './ops/retry-dead.js';
import { purgeDead, type PurgeDeadInput, type PurgeDeadOutput } from './ops/purge-dead.js';
import type { OpContext, OpHandler } from './ops/_context.js';
import type { QueueState } from './state.js';
import type { BrokerLease, JobRecord, JobStats } from './types.js';

/** Every op: name → [input, output]. Shared by the broker, the embedded API and the transports. */
export interface OpTable {
  push: [PushInput, PushOutput];
  claim: [ClaimInput, ClaimOutput];
  heartbeat: [HeartbeatInput, { leaseUntil: number }];
  ack: [AckInput, { id: string }];
  nack: [NackInput, NackOutput];
  unclaim: [UnclaimInput, UnclaimOutput];
  cancel: [GetInput, { id: string; state: 'cancelled' }];
  retry: [RetryInput, { id: string; state: JobRecord['state'] }];
  get: [GetInput, JobRecord];
  stats: [Record<string, never>, JobStats];
  sweep: [Record<string, never>, SweepOutput];
  configure: [ConfigureInput, ConfigureInput];
  elect: [ElectInput, BrokerLease];
  resign: [{ id: string }, { resigned: boolean }];
  archived: [ArchivedInput, { removed: number }];
  sealArchive: [{ key: string }, { sealed: boolean }];
  expireDead: [{ before: number }, { expired: number }];
  listJobs: [ListJobsInput, ListJobsOutput];
  workers: [Record<string, never>, { workers: WorkerLeases[] }];
  retryDead: [RetryDeadInput, RetryDeadOutput];
  purgeDead: [PurgeDeadInput, PurgeDeadOutput];
}

export type OpName = keyof OpTable;
export type OpInput<K extends OpName> = OpTable[K][0];
export type OpOutput<K extends OpName> = OpTable[K][1];

const HANDLERS: { [K in OpName]: OpHandler<OpInput<K>, OpOutput<K>> } = {
  push, claim, heartbeat, ack, nack, unclaim, cancel, retry, get, stats, sweep, configure, elect, resign, archived, sealArchive, expireDead, listJobs, workers, retryDead, purgeDead,
};

export const OP_NAMES = Object.keys(HANDLERS) as OpName[];

export type OpResult<K extends OpName> = { ok: true; value: OpOutput<K>; changed: boolean } | { ok: false; error: QueueError };

export function apply<K extends OpName>(state: QueueState, op: K, input: OpInput<K>, now: number): OpResult<K> {
  const handler = HANDLERS[op] as OpHandler<OpInput<K>, OpOutput<K>> | undefined;
  if (!handler) return { ok: false, error: new QueueError('INVALID_ARGUMENT', `unknown op ${String(op)}`) };
  const ctx: OpContext = { changed: false };
  try {
    const value = handler(state, input, now, ctx);
    return { ok: true, value, changed: ctx.changed };
  } catch (err) {
    if (isQueueError(err)) return { ok: false, error: err };
    return { ok: false, error: new QueueError('INTERNAL', `op ${op} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }) };
  }
}

/** Stamps a draft for the next commit: the sequence goes up, the writer is this broker instance. */
export function beginCommit(state: QueueState, writer: string, now: number): void {
  state.seq++;
  state.writer = writer;
  state.time = now;
}
