/**
 * The nemesis: breaks processes on purpose at seeded times. The whole plan is drawn from the
 * seed before the run starts (planNemesis, pure), so a seed names one sequence of faults; the
 * processes' own timing still varies from run to run, as it does in production.
 *
 * Faults, one every 1 to 3.5 s after a warm-up:
 *   kill broker / kill worker      SIGKILL, then a restart (a new incarnation) after downMs
 *   freeze broker / freeze worker  SIGSTOP for longer than its lease (the broker's leadership
 *                                  lease, or the jobs' lease), then SIGCONT: it wakes up believing
 *                                  it still holds what it held
 *   term worker                    SIGTERM (a deploy): the worker closes, finishing or nacking what
 *                                  runs and releasing what it holds ahead, exits, and is restarted
 *                                  after downMs. A third of the worker "kills" of the plan are
 *                                  these (decided from the same draw, so plans of older seeds keep
 *                                  their times and targets); nothing but nacks and releases may
 *                                  explain what it hands back.
 * Half the broker faults (`leader: true`) hit whichever broker leads the topic when the fault
 * comes, the others the planned slot. At run time a fault is left out when its target is still
 * down or booting from an earlier one, or when it would leave no broker or no worker up; every
 * fault is over (restarted, continued) by the end of the period, so the drain starts whole.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { mulberry32 } from '../src/storage/faulty.js';
import type { Cluster } from './cluster.js';
import type { HistoryWriter } from './history.js';

export interface Fault {
  /** Ms after the nemesis starts. */
  at: number;
  action: 'kill' | 'freeze' | 'term';
  role: 'broker' | 'worker';
  slot: string;
  /** A broker fault that goes to the current leader instead of `slot`, if it can. */
  leader: boolean;
  /** Until the restart (kill) or SIGCONT (freeze). */
  downMs: number;
}

export interface PlanOptions {
  seed: number;
  periodMs: number;
  brokers: string[];
  workers: string[];
  brokerLeaseMs: number;
  jobLeaseMs: number;
  warmupMs?: number;
}

export function planNemesis(o: PlanOptions): Fault[] {
  const rnd = mulberry32(o.seed ^ 0x5eed);
  const faults: Fault[] = [];
  for (let at = o.warmupMs ?? 3000; ; at += 1000 + Math.floor(rnd() * 2500)) {
    const role = rnd() < 0.45 ? 'broker' : 'worker';
    const roll = rnd();
    const action = roll >= 0.5 ? 'freeze' : role === 'worker' && roll < 0.5 / 3 ? 'term' : 'kill';
    const lease = role === 'broker' ? o.brokerLeaseMs : o.jobLeaseMs;
    const downMs = action === 'freeze' ? lease + 300 + Math.floor(rnd() * 1500) : 300 + Math.floor(rnd() * 1500);
    const slots = role === 'broker' ? o.brokers : o.workers;
    const slot = slots[Math.floor(rnd() * slots.length)]!;
    const leader = role === 'broker' && rnd() < 0.5;
    if (at + downMs > o.periodMs) break;
    faults.push({ at, action, role, slot, leader, downMs });
  }
  return faults;
}

/** Runs `plan` against the cluster from now on, recording each act; resolves when every fault is over. */
export async function runNemesis(plan: Fault[], cluster: Cluster, history: HistoryWriter, signal: AbortSignal): Promise<{ skipped: number }> {
  const t0 = Date.now();
  const at = (ms: number) => delay(Math.max(0, t0 + ms - Date.now()), undefined, { signal }).catch(() => {});
  /** Slots down, or restarting, because of a fault. */
  const busy = new Set<string>();
  const slotsOf = (role: string) => [...cluster.members.values()].filter((m) => m.role === role).map((m) => m.slot);
  let skipped = 0;
  await Promise.all(
    plan.map(async (f) => {
      await at(f.at);
      if (signal.aborted) return;
      const leader = cluster.leaderSlot;
      const slot = f.leader && leader !== null && !busy.has(leader) ? leader : f.slot;
      const target = cluster.members.get(slot)!;
      // Never the last one up: some broker leads and some worker works throughout.
      const upAfter = slotsOf(f.role).filter((s) => s !== slot && !busy.has(s)).length;
      if (busy.has(slot) || !target.ready || upAfter === 0) return void skipped++;
      busy.add(slot);
      history.record({ op: 'nemesis', action: f.action === 'freeze' ? 'stop' : f.action, target: target.name, role: f.role });
      cluster.signal(slot, f.action === 'kill' ? 'SIGKILL' : f.action === 'term' ? 'SIGTERM' : 'SIGSTOP');
      await at(f.at + f.downMs);
      if (f.action === 'freeze') {
        history.record({ op: 'nemesis', action: 'cont', target: target.name, role: f.role });
        cluster.signal(slot, 'SIGCONT');
      } else if (!signal.aborted) {
        await target.exited;
        const next = await cluster.start(slot, f.role);
        history.record({ op: 'nemesis', action: 'start', target: next.name, role: f.role });
      }
      busy.delete(slot);
    }),
  );
  return { skipped };
}
