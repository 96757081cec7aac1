/**
 * The one rule for "nothing consumes this topic", shared by the overview's badge and the topic
 * page's warning: jobs are due (pending), none is held by a worker, and no claim has taken one
 * for {@link STALL_MS}. A worker that long-polls claims a due job at once, so jobs waiting that
 * long with no lease held mean no worker is running (or none can reach this broker). A paused
 * topic is not stalled: it hands out nothing on purpose.
 */
import type { TopicLive } from './types.js';

export const STALL_MS = 10_000;

export function stalled(t: TopicLive): boolean {
  return !t.paused && t.pending > 0 && t.claimed === 0 && t.sinceClaimMs >= STALL_MS;
}
