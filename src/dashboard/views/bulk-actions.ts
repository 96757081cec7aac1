/**
 * The actions on many jobs of a topic, each behind its confirm step (parts/confirm.tsx) and each
 * reporting its outcome (parts/notices.tsx): cancel the picked jobs or every pending (or delayed)
 * one, retry the picked dead jobs or all of them, purge the picked dead jobs or all of them.
 * Each resolves true when something was sent (the caller re-reads its list). An "all" action
 * counts the jobs afresh before it asks (the live figures may be a second old), so the dialog
 * says how many there are now.
 */
import { api, describeError, describeRetried, describeSkipped, type Skipped } from '../api.js';
import { count } from '../format.js';
import { confirmStep } from '../parts/confirm.js';
import { act, notify } from '../parts/notices.js';

/** One call of POST cancel takes at most this many jobs of a state (the broker's page). */
const CANCEL_PAGE = 500;

const jobs = (n: number): string => `${count(n)} job${n === 1 ? '' : 's'}`;

/** How many jobs of `topic` are in `state` now; null (and why reported) when there are none or the broker cannot say. */
async function countNow(topic: string, state: 'pending' | 'delayed' | 'dead'): Promise<number | null> {
  try {
    const n = (await api.topic(topic))[state];
    if (n === 0) notify('ok', `${topic} has no ${state} jobs now: nothing to do`);
    return n === 0 ? null : n;
  } catch (err) {
    notify('error', `counting the ${state} jobs of ${topic} failed — ${describeError(err)}`);
    return null;
  }
}

export async function cancelPicked(topic: string, ids: string[]): Promise<boolean> {
  const yes = await confirmStep({
    title: `Cancel ${jobs(ids.length)}?`,
    body: `The picked jobs of ${topic} leave the queue as cancelled and will not run. A job a worker claimed meanwhile is left alone. This cannot be undone: push them again to run them.`,
    action: `Cancel ${jobs(ids.length)}`,
    danger: true,
  });
  if (!yes) return false;
  await act('cancel selected', () => api.cancelMany(topic, { ids }), (r) => `${r.cancelled} of ${ids.length} selected job(s) cancelled${describeSkipped(r.skipped)}`);
  return true;
}

/**
 * Every job in `state`, as many as there were when the operator confirmed (`seen`): a page at a
 * time, each page one commit, never more than confirmed, so jobs pushed after the click stay.
 */
export async function cancelAll(topic: string, state: 'pending' | 'delayed'): Promise<boolean> {
  const seen = await countNow(topic, state);
  if (seen === null) return false;
  const yes = await confirmStep({
    title: `Cancel all ${count(seen)} ${state} jobs of ${topic}?`,
    body: `Every ${state} job of ${topic} (${count(seen)} now) leaves the queue as cancelled and will not run. Jobs pushed after this click are kept; jobs a worker claims meanwhile are left alone. This cannot be undone.`,
    action: `Cancel ${jobs(seen)}`,
    danger: true,
  });
  if (!yes) return false;
  await act(
    `cancel all ${state}`,
    async () => {
      let cancelled = 0;
      const skipped: Skipped[] = [];
      let remaining = seen;
      while (cancelled + skipped.length < seen) {
        const r = await api.cancelMany(topic, { state, max: Math.min(CANCEL_PAGE, seen - cancelled - skipped.length) });
        cancelled += r.cancelled;
        skipped.push(...r.skipped);
        remaining = r.remaining ?? 0;
        if (r.cancelled + r.skipped.length === 0 || remaining === 0) break;
      }
      return { cancelled, skipped, remaining };
    },
    (r) => `${r.cancelled} ${state} job(s) cancelled${describeSkipped(r.skipped)}; ${count(r.remaining)} ${state} now`,
  );
  return true;
}

export async function retryPicked(topic: string, ids: string[]): Promise<boolean> {
  // Retrying is undone by nothing worse than the job failing again: no confirm step for a pick.
  await act('retry selected', () => api.retryDead(topic, ids), (r) => describeRetried(r, ids.length));
  return true;
}

export async function retryAll(topic: string): Promise<boolean> {
  const dead = await countNow(topic, 'dead');
  if (dead === null) return false;
  const yes = await confirmStep({
    title: `Retry all ${count(dead)} dead jobs of ${topic}?`,
    body: `Every dead job of ${topic} goes back to pending with its attempts reset, and workers run it again.`,
    action: `Retry ${jobs(dead)}`,
  });
  if (!yes) return false;
  await act('retry all dead', () => api.retryDead(topic), (r) => describeRetried(r));
  return true;
}

export async function purgePicked(topic: string, ids: string[]): Promise<boolean> {
  const yes = await confirmStep({
    title: `Purge ${jobs(ids.length)}?`,
    body: `The picked dead jobs of ${topic} are thrown away: they can no longer be retried or looked up here (their records stay in the archive objects until retention deletes them). This cannot be undone.`,
    action: `Purge ${jobs(ids.length)}`,
    danger: true,
  });
  if (!yes) return false;
  await act('purge selected', () => api.purgeDead(topic, ids), (r) => `${r.purged} of ${ids.length} selected dead job(s) purged${describeSkipped(r.skipped)}`);
  return true;
}

export async function purgeAll(topic: string): Promise<boolean> {
  const dead = await countNow(topic, 'dead');
  if (dead === null) return false;
  const yes = await confirmStep({
    title: `Purge all ${count(dead)} dead jobs of ${topic}?`,
    body: `Every dead job of ${topic} is thrown away: none can be retried or looked up here any more (their records stay in the archive objects until retention deletes them). This cannot be undone.`,
    action: `Purge ${jobs(dead)}`,
    danger: true,
  });
  if (!yes) return false;
  await act('purge all dead', () => api.purgeDead(topic), (r) => `${r.purged} dead job(s) purged`);
  return true;
}
