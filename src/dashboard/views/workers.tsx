/**
 * The workers holding leases on a topic, their jobs and last heartbeat. Re-read when a claim,
 * ack, nack or expiry event arrives (at most once a second), and every 5 s besides, because
 * heartbeats are not events and the last-heartbeat column would otherwise stand still.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import { when } from '../format.js';
import { useJobEvents } from '../live.js';
import { topicHref } from '../router.js';
import type { Worker } from '../types.js';

const HEARTBEAT_REFRESH_MS = 5000;

export function Workers({ topic }: { topic: string }) {
  const [workers, setWorkers] = useState<Worker[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const load = (): void => {
    last.current = Date.now();
    api.workers(topic).then(
      (r) => (setWorkers(r.workers), setError(null)),
      (err: unknown) => setError(describeError(err)),
    );
  };
  useEffect(() => {
    load();
    const every = setInterval(load, HEARTBEAT_REFRESH_MS);
    return () => {
      clearInterval(every);
      if (timer.current) clearTimeout(timer.current);
    };
  }, [topic]);
  useJobEvents(topic, (e) => {
    if (!['claimed', 'acked', 'nacked', 'dead', 'reset'].includes(e.kind) || timer.current) return;
    timer.current = setTimeout(() => ((timer.current = null), load()), Math.max(0, last.current + 1000 - Date.now()));
  });

  const now = Date.now();
  return (
    <section class="panel">
      <h2>Workers holding leases</h2>
      {error && <p class="error-line">{error}</p>}
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
              <td>{w.lastHeartbeatAt ? when(w.lastHeartbeatAt, now) : '–'}</td>
              <td class={w.leaseUntil < now ? 'bad' : ''}>{when(w.leaseUntil, now)}</td>
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
    </section>
  );
}
