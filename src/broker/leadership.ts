/**
 * Leadership of one topic as this broker sees it: the lease rules the commit loop applies to every
 * batch, and what it does while another broker leads. The lease is `broker: {id, url, epoch,
 * leaseUntil}` in queue.json, taken and renewed by the core op `elect` and given up by `resign`
 * (core/ops/housekeeping.ts); docs/operations.md, "Failover and the broker's id", is the user's view.
 *
 * - Term. This broker leads at the epoch its last landed commit carried. A draft that does not
 *   carry that lease (the first batch, a reload, a state another broker wrote) gets `elect` applied
 *   first, which takes only a stale or given-up lease and bumps the epoch: that is the fencing
 *   token. The old leader's next write conflicts, its reload shows the new epoch, and `elect`
 *   refuses its draft before anything is written.
 * - Restart. Until this loop has led or been refused once, a live lease under its own id belongs to
 *   its previous incarnation (a process restarted with the same --id): `restarted` lets `elect` take
 *   it at once with a new epoch instead of waiting it out. Once refused, never again, so two live
 *   processes that share an id cannot both lead.
 * - Renewal. Every commit renews the lease for a whole `leaseMs`; an idle leader writes once a third
 *   of it has passed (the renewal timer, and renewDue for a batch that changes nothing). Once it has
 *   resigned (stop), commits leave the lease given up, so a standby takes over at once.
 * - Gone. A network standby that finds the holder's URL refusing connections (server/leader-probe.ts)
 *   marks it gone: the next batch reads again and elects with `gone`, which may take that holder's
 *   lease, at that epoch only, before it runs out. Fencing is the epoch's, as for any takeover.
 * - Standby. Refused, it remembers the holder. In `reject` mode (network brokers) a request is
 *   answered NOT_LEADER from that read, without I/O, while the read is under STANDBY_RECHECK_MS old
 *   and the holder's lease runs; after that a batch reads again (and takes over a released or stale
 *   lease). In `wait` mode (embedded use) requests wait, for up to three leases, until the holder's
 *   lease is stale; then a batch reads and elects.
 *
 * Apart from the loop so that these rules read, and are tested, on their own
 * (test/broker/leadership.test.ts): the loop keeps the modes and decides when; this says what the
 * lease allows. No I/O; two timers (renewal, stale-lease wait), both cancelled by cancelTimers().
 */
import type { ElectInput } from '../core/ops/housekeeping.js';
import type { QueueState } from '../core/state.js';
import type { BrokerLease } from '../core/types.js';
import { QueueError } from '../errors.js';
import type { Clock } from '../clock.js';

/** How long a standby trusts its last read of the leader before reading again. */
export const STANDBY_RECHECK_MS = 1000;

/**
 * How long a holder found gone may be taken over on that evidence (markGone). The takeover reads
 * and elects right after; if that fails (the store), the probe has to find the holder gone again.
 */
export const GONE_TRUSTED_MS = 5000;

export interface LeadershipOptions {
  topic: string;
  /** This broker's id: the lease holder it writes. */
  brokerId: string;
  /** Where clients reach this broker: written into the lease, named in NOT_LEADER. */
  url: string;
  leaseMs: number;
  standby: 'wait' | 'reject';
  clock: Clock;
}

export class Leadership {
  /** The epoch this broker leads at (null unless it leads): only its own renewals keep it. */
  private heldEpoch: number | null = null;
  private restarted = true;
  /** Another broker's lease, as last read (null while this one leads, or when none is known). */
  private holder: BrokerLease | null = null;
  private holderSeenAt = -Infinity;
  /** The holder found gone (markGone): the next elect may take its lease before it runs out. */
  private gone: { id: string; epoch: number; at: number } | null = null;
  private resigned = false;
  private cancelRenewal: (() => void) | null = null;
  private cancelStaleWait: (() => void) | null = null;

  constructor(private readonly o: LeadershipOptions) {}

  /** The other broker that led at the last read; null while this one leads or when none is known. */
  get leader(): BrokerLease | null {
    return this.holder;
  }

  /** Whether `s` still carries the lease this broker holds. */
  holds(s: QueueState): boolean {
    return s.broker?.id === this.o.brokerId && s.broker.epoch === this.heldEpoch;
  }

  /** The input of `elect` for a draft this broker does not hold. */
  electInput(): ElectInput {
    const { brokerId: id, url, leaseMs } = this.o;
    return { id, url, leaseMs, ...(this.heldEpoch !== null ? { held: this.heldEpoch } : {}), restarted: this.restarted, ...(this.goneHolder ? { gone: this.goneHolder } : {}) };
  }

  /** The holder found gone, while that evidence is fresh (GONE_TRUSTED_MS). */
  private get goneHolder(): { id: string; epoch: number } | null {
    const g = this.gone;
    return g && this.o.clock.now() - g.at < GONE_TRUSTED_MS ? { id: g.id, epoch: g.epoch } : null;
  }

  /** A commit of this broker landed carrying `epoch`: it leads at that epoch. */
  took(epoch: number): void {
    this.heldEpoch = epoch;
    this.restarted = false;
    this.holder = null;
    this.gone = null;
  }

  /** `elect` refused this broker: `holder` leads, as read just now. */
  refused(holder: BrokerLease | null): void {
    this.heldEpoch = null;
    this.restarted = false;
    this.holder = holder ? { ...holder } : null;
    this.holderSeenAt = this.o.clock.now();
    // Refused by a holder other than the one found gone (a new term began meanwhile): that one lives.
    if (this.gone && !(holder && holder.id === this.gone.id && holder.epoch === this.gone.epoch)) this.gone = null;
  }

  /**
   * The holder `lease` names was found gone (its URL refuses connections: server/leader-probe.ts).
   * If it is still the holder as last read, the next batch reads again and elects with `gone`,
   * which takes that lease, and only that one, before it runs out. False if the holder changed.
   */
  markGone(lease: Pick<BrokerLease, 'id' | 'epoch'>): boolean {
    const h = this.holder;
    if (!h || h.id !== lease.id || h.epoch !== lease.epoch) return false;
    this.gone = { id: h.id, epoch: h.epoch, at: this.o.clock.now() };
    h.leaseUntil = 0; // as a stale lease: failFast stops answering from the last read
    return true;
  }

  /** The topic's state was lost: a reset starts a new term, whose first commit elects with a new epoch. */
  forget(): void {
    this.holder = null;
    this.heldEpoch = null;
    this.gone = null;
  }

  /** A third of the lease has passed: the next batch renews it, even if it changes nothing else. */
  renewDue(lease: BrokerLease, now: number): boolean {
    return lease.leaseUntil - now <= (this.o.leaseMs * 2) / 3;
  }

  /** Stamps a commit's lease: a whole lease from now, or still given up once this broker resigned. */
  renew(lease: BrokerLease, now: number): void {
    if (!this.resigned) lease.leaseUntil = now + this.o.leaseMs;
  }

  /** stop() gives the lease up: later commits while draining must not take it back. */
  resign(): void {
    this.resigned = true;
  }

  get resigning(): boolean {
    return this.resigned;
  }

  /** Calls `onDue` once a third of the lease has passed (an idle leader's renewal); replaces an earlier timer. */
  scheduleRenewal(onDue: () => void): void {
    this.cancelRenewal?.();
    this.cancelRenewal = this.o.clock.setTimer(this.o.leaseMs / 3, () => {
      this.cancelRenewal = null;
      onDue();
    });
  }

  get renewalScheduled(): boolean {
    return this.cancelRenewal !== null;
  }

  /**
   * For a standby in `reject` mode: NOT_LEADER from the last read, while it is recent and the
   * holder's lease still runs; null when a batch must read again (and may take over).
   */
  failFast(): QueueError | null {
    if (!this.holder || this.waitsFor(this.holder)) return null;
    const now = this.o.clock.now();
    if (this.holder.leaseUntil <= now || now - this.holderSeenAt >= STANDBY_RECHECK_MS) return null;
    return notLeaderError(this.o.topic, this.holder);
  }

  /**
   * `wait` mode waits out only an embedded holder's lease (no URL: a process like this one, which
   * may have crashed). A network broker (its lease names a URL) leads as long as it runs, so a
   * wait would last as long: its topics fail fast with NOT_LEADER naming it, as in `reject` mode.
   */
  private waitsFor(holder: BrokerLease | null): boolean {
    return this.o.standby === 'wait' && !holder?.url;
  }

  /** For a standby that waits (above): the holder's lease still runs, so requests wait for it. */
  mustWait(): boolean {
    return this.holder !== null && this.waitsFor(this.holder) && this.holder.leaseUntil > this.o.clock.now();
  }

  /** Whether a request queued at `since` may wait on for a takeover (a waiting standby, up to three leases). */
  mayWait(since: number): boolean {
    return this.waitsFor(this.holder) && since >= this.o.clock.now() - 3 * this.o.leaseMs;
  }

  /** Calls `onStale` once the holder's lease has run out, and takes it for stale from then on. */
  waitForStaleLease(onStale: () => void): void {
    if (this.cancelStaleWait || !this.holder) return;
    const wait = this.holder.leaseUntil - this.o.clock.now() + 1;
    this.cancelStaleWait = this.o.clock.setTimer(
      wait,
      () => {
        this.cancelStaleWait = null;
        if (this.holder) this.holder.leaseUntil = 0; // believed stale now: the next batch re-reads and elects
        onStale();
      },
      true,
    );
  }

  get waitingForStaleLease(): boolean {
    return this.cancelStaleWait !== null;
  }

  cancelTimers(): void {
    this.cancelRenewal?.();
    this.cancelStaleWait?.();
    this.cancelRenewal = this.cancelStaleWait = null;
  }
}

export function notLeaderError(topic: string, leader: BrokerLease): QueueError {
  return new QueueError('NOT_LEADER', `topic ${topic} is led by broker ${leader.id}${leader.url ? ` at ${leader.url}` : ''}`, {
    details: { leader: leader.url, leaderId: leader.id, epoch: leader.epoch, leaseUntil: leader.leaseUntil },
  });
}
