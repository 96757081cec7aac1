/**
 * The history checker: given every event the clients saw (history.ts) and the store at the end
 * (every finished job's record from the archive and queue.json, the jobs still live, the topic's
 * epoch), it decides whether the queue kept its promises. Pure: no I/O, no clock.
 *
 * Must be 0 (see docs/chaos.md for each):
 *   lostPushes          acknowledged pushes of which the store has no record at all
 *   unfinished          acknowledged pushes still pending, delayed or claimed after the drain
 *   finishedTwice       jobs with two final records (completed or dead twice)
 *   phantoms            jobs in the store that no producer ever pushed
 *   doubleAcks          jobs for which two acks were accepted
 *   ackNotFinal         an accepted ack whose lease is not the one the job was completed with
 *   ackDenied           an ack answered LEASE_LOST (not flagged `retried`, and the first try
 *                       of that lease) although the job was completed with that very lease
 *   unexplained         deliveries again that neither a nack, a lease expiry, a leader change nor
 *                       the nemesis explains (explain.ts)
 *   deadUnjustified     dead letters that were not nacked or expired maxAttempts times
 *   epochTwice          two brokers that both said they lead the topic at one epoch
 *   countersOff         queue.json's counters disagree with the records (pushed, completed and
 *                       dead must equal the jobs there are; claimed at least the deliveries seen)
 *   invariants          the final queue.json breaks a core invariant (core/invariants.ts)
 */
import { createExplainer, type Reason } from './explain.js';
import type { DeliverEvent, HistoryEvent, PushEvent, SettleEvent } from './history.js';

/** A job record as the store holds it (queue.json and archive objects), the fields checked. */
export interface StoredJob {
  id: string;
  state: string;
  attempts: number;
  maxAttempts: number;
  lease?: { worker: string; token: string; until: number };
  lastError?: string;
}

export interface FinalStore {
  /** Finished jobs: archive records plus queue.json's not yet archived `done`. */
  finished: StoredJob[];
  /** queue.json's live jobs (pending, delayed, claimed). */
  live: StoredJob[];
  /** queue.json's dead-letter index: id → attempts. */
  deadIndex: Record<string, { attempts: number }>;
  /** The topic's leader epoch at the end (1 = never changed). */
  epoch: number;
  /** queue.json's counters at the end. */
  counters: { pushed: number; completed: number; dead: number; claimed: number };
  /** What assertInvariants said of the final queue.json (null: nothing). */
  invariantError: string | null;
}

export interface CheckInput {
  events: HistoryEvent[];
  final: FinalStore;
  /** The nemesis period, wall ms: availability is measured over its whole seconds. */
  window: { start: number; end: number };
}

export interface Redelivery { id: string; attempts: [number, number]; leases: [string, string]; seen: [number, number]; reason: Reason | null }

export interface CheckResult {
  ok: boolean;
  /** Names of the must-be-0 checks that failed. */
  failed: string[];
  lostPushes: string[];
  unfinished: string[];
  finishedTwice: string[];
  phantoms: string[];
  doubleAcks: string[];
  ackNotFinal: string[];
  ackDenied: string[];
  unexplained: Redelivery[];
  deadUnjustified: Array<{ id: string; why: string }>;
  epochTwice: number[];
  countersOff: string[];
  invariants: string[];
  counts: {
    pushesAcked: number; pushesFailed: number; deliveries: number; acksAccepted: number; acksRejected: number; nacks: number;
    completed: number; dead: number; deliveredMoreThanOnce: number; nemesis: Record<string, number>;
  };
  /** Deliveries again, by what explains them (null: nothing). */
  redeliveries: Partial<Record<Reason | 'unexplained', number>>;
  /** Every delivery again that no nack asked for, each with what explains it (retries after a nack are only counted). */
  redelivered: Redelivery[];
  leaderChanges: number;
  /** Share of the window's whole seconds in which some commit landed (some client saw a write succeed). */
  availability: number;
  pushLatencyMs: { p50: number; p99: number; max: number };
  /** Leader faults: from the SIGKILL (or SIGSTOP) of the broker leading the topic to the first write a client saw land under the next leader. */
  failoverMs: Record<'kill' | 'stop', { count: number; p50: number; max: number }>;
}

const MUST_BE_ZERO = ['lostPushes', 'unfinished', 'finishedTwice', 'phantoms', 'doubleAcks', 'ackNotFinal', 'ackDenied', 'unexplained', 'deadUnjustified', 'epochTwice', 'countersOff', 'invariants'] as const;

export function checkHistory({ events, final, window }: CheckInput): CheckResult {
  const pushes = events.filter((e): e is PushEvent => e.op === 'push');
  const deliveries = events.filter((e): e is DeliverEvent => e.op === 'deliver');
  const settles = events.filter((e): e is SettleEvent => e.op === 'ack' || e.op === 'nack');
  const acksOk = settles.filter((e) => e.op === 'ack' && e.ok);

  const finishedById = new Map<string, StoredJob[]>();
  for (const r of final.finished) {
    const list = finishedById.get(r.id) ?? [];
    // The same record may be both archived and still in `done` for a moment: count it once.
    if (!list.some((x) => x.state === r.state && x.lease?.token === r.lease?.token)) list.push(r);
    finishedById.set(r.id, list);
  }
  const liveIds = new Set(final.live.map((j) => j.id));
  const acked = new Set(pushes.filter((p) => p.ok).map((p) => p.id));
  const sent = new Set(pushes.map((p) => p.id));

  const lostPushes = [...acked].filter((id) => !finishedById.has(id) && !liveIds.has(id));
  const unfinished = [...acked].filter((id) => liveIds.has(id));
  const finishedTwice = [...finishedById].filter(([, l]) => l.length > 1).map(([id]) => id);
  const phantoms = [...new Set([...finishedById.keys(), ...liveIds])].filter((id) => !sent.has(id));

  const acksPerJob = count(acksOk.map((a) => a.id));
  const doubleAcks = [...acksPerJob].filter(([, n]) => n > 1).map(([id]) => id);
  const ackNotFinal = acksOk
    .filter((a) => !(finishedById.get(a.id) ?? []).some((r) => r.state === 'completed' && r.lease?.token === a.lease))
    .map((a) => a.id);
  const ackDenied = deniedAcks(settles, finishedById);

  const { redeliveries, redelivered, unexplained, deliveredMoreThanOnce } = checkRedeliveries(events, deliveries);
  const killed = events.flatMap((e) => (e.op === 'nemesis' && e.action === 'kill' ? [e] : []));
  const deadUnjustified = checkDead(final, finishedById, deliveries, settles, acksPerJob, (d) => killed.some((k) => k.target === d.p && k.m > d.m));

  // A broker may say so twice (a plain line and a log record): brokers per epoch are counted.
  const leadersOf = new Map<number, Set<string>>();
  for (const e of events) if (e.op === 'leader' && e.epoch !== undefined) leadersOf.set(e.epoch, (leadersOf.get(e.epoch) ?? new Set()).add(e.broker));
  const epochTwice = [...leadersOf].filter(([, b]) => b.size > 1).map(([epoch]) => epoch).sort((a, b) => a - b);

  const completedIds = [...finishedById.values()].filter((l) => l.some((r) => r.state === 'completed')).length;
  const deadIds = [...finishedById.values()].filter((l) => l.some((r) => r.state === 'dead')).length;
  const jobs = new Set([...finishedById.keys(), ...liveIds]).size;
  const leasesSeen = new Set(deliveries.map((d) => d.lease)).size;
  const k = final.counters;
  const countersOff = [
    ...(k.pushed !== jobs ? [`pushed ${k.pushed}, jobs ${jobs}`] : []),
    ...(k.completed !== completedIds ? [`completed ${k.completed}, completed records ${completedIds}`] : []),
    ...(k.dead !== deadIds ? [`dead ${k.dead}, dead records ${deadIds}`] : []),
    ...(k.claimed < leasesSeen ? [`claimed ${k.claimed}, deliveries seen ${leasesSeen}`] : []),
  ];

  const nemesis: Record<string, number> = {};
  for (const e of events) if (e.op === 'nemesis') nemesis[`${e.action} ${e.role}`] = (nemesis[`${e.action} ${e.role}`] ?? 0) + 1;
  const latencies = pushes.filter((p) => p.ok).map((p) => p.t - p.st).sort((a, b) => a - b);

  const result: Omit<CheckResult, 'ok' | 'failed'> = {
    lostPushes, unfinished, finishedTwice, phantoms, doubleAcks, ackNotFinal, ackDenied, unexplained, deadUnjustified, epochTwice,
    countersOff, invariants: final.invariantError === null ? [] : [final.invariantError],
    counts: {
      pushesAcked: acked.size,
      pushesFailed: [...sent].filter((id) => !acked.has(id)).length,
      deliveries: deliveries.length,
      acksAccepted: acksOk.length,
      acksRejected: settles.filter((e) => e.op === 'ack' && !e.ok).length,
      nacks: settles.filter((e) => e.op === 'nack').length,
      completed: completedIds,
      dead: deadIds,
      deliveredMoreThanOnce,
      nemesis,
    },
    redeliveries,
    redelivered,
    leaderChanges: Math.max(0, final.epoch - 1),
    availability: availability(events, window),
    pushLatencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
    failoverMs: failover(events),
  };
  const failed = MUST_BE_ZERO.filter((k) => result[k].length > 0);
  return { ok: failed.length === 0, failed, ...result };
}

/**
 * Acks the broker refused although they had landed, with nothing telling the client so: the first
 * ack try of a lease (a worker's own retry of an ack that timed out is ambiguous by nature)
 * answered LEASE_LOST without `retried`, and the job's completed record carries that lease.
 */
function deniedAcks(settles: SettleEvent[], finished: Map<string, StoredJob[]>): string[] {
  const firstTry = new Map<string, SettleEvent>();
  for (const e of settles) if (e.op === 'ack' && (!firstTry.has(e.lease) || e.sm < firstTry.get(e.lease)!.sm)) firstTry.set(e.lease, e);
  return [...firstTry.values()]
    .filter((a) => !a.ok && a.code === 'LEASE_LOST' && !a.retried)
    .filter((a) => (finished.get(a.id) ?? []).some((r) => r.state === 'completed' && r.lease?.token === a.lease))
    .map((a) => a.id);
}

/** Consecutive deliveries of each job (in attempt order) and what explains each. */
function checkRedeliveries(events: HistoryEvent[], deliveries: DeliverEvent[]) {
  const explainer = createExplainer(events);
  const byJob = new Map<string, DeliverEvent[]>();
  for (const d of deliveries) byJob.set(d.id, [...(byJob.get(d.id) ?? []), d]);
  const redeliveries: CheckResult['redeliveries'] = {};
  const redelivered: Redelivery[] = [];
  let deliveredMoreThanOnce = 0;
  for (const [id, list] of byJob) {
    if (list.length < 2) continue;
    deliveredMoreThanOnce++;
    list.sort((a, b) => a.attempt - b.attempt || a.m - b.m);
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1]!, list[i]!];
      const reason = explainer.explain(a, b);
      redeliveries[reason ?? 'unexplained'] = (redeliveries[reason ?? 'unexplained'] ?? 0) + 1;
      if (reason !== 'nack') redelivered.push({ id, attempts: [a.attempt, b.attempt], leases: [a.lease, b.lease], seen: [a.t, b.t], reason });
    }
  }
  return { redeliveries, redelivered, unexplained: redelivered.filter((r) => r.reason === null), deliveredMoreThanOnce };
}

/**
 * A dead letter is justified when its attempts are spent (attempts = maxAttempts), no ack of it
 * was accepted, and its last attempt ended in a nack or a lease expiry: a nack in the history,
 * the record's lastError saying the lease expired, or (a nack that landed while its record died
 * with its worker) the last delivery's worker was SIGKILLed after it and lastError is not an
 * expiry, which by the engine's rules only a nack of that attempt can have written.
 */
function checkDead(final: FinalStore, finished: Map<string, StoredJob[]>, deliveries: DeliverEvent[], settles: SettleEvent[], acks: Map<string, number>, killedAfter: (d: DeliverEvent) => boolean) {
  const dead = new Map<string, StoredJob | null>();
  for (const [id, list] of finished) for (const r of list) if (r.state === 'dead') dead.set(id, r);
  for (const id of Object.keys(final.deadIndex)) if (!dead.has(id)) dead.set(id, null);
  const out: Array<{ id: string; why: string }> = [];
  for (const [id, record] of dead) {
    const seen = deliveries.filter((d) => d.id === id);
    const maxAttempts = record?.maxAttempts ?? seen[0]?.maxAttempts ?? 0;
    const attempts = record?.attempts ?? final.deadIndex[id]!.attempts;
    if (attempts < maxAttempts) out.push({ id, why: `dead after ${attempts} of ${maxAttempts} attempts` });
    else if ((acks.get(id) ?? 0) > 0) out.push({ id, why: 'dead although an ack was accepted' });
    else {
      const last = seen.filter((d) => d.attempt === maxAttempts);
      const nacked = settles.some((s) => s.op === 'nack' && last.some((d) => d.lease === s.lease) && s.code !== 'LEASE_LOST');
      const expired = record?.lastError?.startsWith('lease expired') ?? false;
      const nackUnrecorded = record?.lastError !== undefined && !expired && last.some(killedAfter);
      if (!nacked && !expired && !nackUnrecorded) out.push({ id, why: `its last attempt (${maxAttempts}) ended in neither a nack nor a lease expiry (lastError ${JSON.stringify(record?.lastError ?? null)})` });
    }
  }
  return out;
}

/** A client saw a write land: a delivery, or an accepted push, settle or heartbeat. */
function wrote(e: HistoryEvent): boolean {
  return e.op === 'deliver' || ((e.op === 'push' || e.op === 'ack' || e.op === 'nack' || e.op === 'hb') && e.ok);
}

/**
 * Time to the first commit after a fault of the leader: for each SIGKILL/SIGSTOP whose target was
 * the broker that last said it leads, the time (monotonic) until a client first saw a write land
 * after the next leadership change. Counting from the next 'leader' line, not from the fault,
 * keeps out writes the old leader landed just before the fault and a client recorded just after.
 */
export function failover(events: HistoryEvent[]): CheckResult['failoverMs'] {
  const sorted = [...events].sort((a, b) => a.m - b.m);
  const times: Record<'kill' | 'stop', number[]> = { kill: [], stop: [] };
  let leader: string | null = null;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if (e.op === 'leader') leader = e.broker;
    if (e.op !== 'nemesis' || e.role !== 'broker' || (e.action !== 'kill' && e.action !== 'stop') || e.target !== leader) continue;
    const next = sorted.findIndex((x, j) => j > i && x.op === 'leader' && x.broker !== e.target);
    const first = next === -1 ? undefined : sorted.slice(next).find(wrote);
    if (first) times[e.action].push(first.m - e.m);
  }
  const summary = (list: number[]) => {
    const s = [...list].sort((a, b) => a - b);
    return { count: s.length, p50: Math.round(quantile(s, 0.5)), max: Math.round(s.at(-1) ?? 0) };
  };
  return { kill: summary(times.kill), stop: summary(times.stop) };
}

/** Share of the whole seconds of `window` in which some client saw a write land. */
function availability(events: HistoryEvent[], window: { start: number; end: number }): number {
  const seconds = Math.floor((window.end - window.start) / 1000);
  if (seconds <= 0) return 0;
  const landed = new Set<number>();
  for (const e of events) {
    if (!wrote(e) || e.t < window.start) continue;
    const s = Math.floor((e.t - window.start) / 1000);
    if (s < seconds) landed.add(s);
  }
  return landed.size / seconds;
}

function count(keys: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
