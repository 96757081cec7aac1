/**
 * The workers holding leases on a topic, their jobs and last heartbeat. Re-read when a claim,
 * ack, nack or expiry event arrives (at most once a second), and every 5 s besides, because
 * heartbeats are not events and the last-heartbeat column would otherwise stand still.
 */
import { api } from '../api.js';
import { Time } from '../parts/time.js';
import { topicHref } from '../router.js';
import { useLiveRead } from './use-live-read.js';

const HEARTBEAT_REFRESH_MS = 5000;
const LEASE_EVENTS = ['claimed', 'acked', 'nacked', 'dead'];

export function Workers({ topic }: { topic: string }) {
  const { data, error } = useLiveRead(topic, () => api.workers(topic), LEASE_EVENTS, HEARTBEAT_REFRESH_MS);
  const workers = data?.workers ?? null;

  const now = Date.now();
  return (
    <section class="panel">
      <h2>Workers holding leases</h2>
      {error && <p class="error-line">{error}</p>}
      <div class="scroll">
      <table class="grid" id="workers">
        <thead>
          <tr>
            <th>worker</th>
            <th class="num">jobs</th>
            <th>last heartbeat</th>
            <th>lease until</th>
            <th>jobs held</th>
          </tr>
        </thead>
        <tbody>
          {workers?.length === 0 && (
            <tr>
              <td colSpan={5} class="empty">
                No worker holds a lease.
              </td>
            </tr>
          )}
          {workers?.map((w) => (
            <tr key={w.workerId} data-worker={w.workerId}>
              <td class="mono">{w.workerId}</td>
              <td class="num">{w.jobs.length}</td>
              <td>
                <Time at={w.lastHeartbeatAt} now={now} />
              </td>
              <td class={w.leaseUntil < now ? 'bad' : ''}>
                <Time at={w.leaseUntil} now={now} />
              </td>
              <td class="mono clip">
                {w.jobs.slice(0, 8).map((j) => (
                  <a key={j.id} href={topicHref(topic, { state: 'claimed', job: j.id })}>
                    {j.id}{' '}
                  </a>
                ))}
                {w.jobs.length > 8 && `+${w.jobs.length - 8} more`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </section>
  );
}
