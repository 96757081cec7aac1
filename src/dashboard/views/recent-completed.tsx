/**
 * The jobs this topic completed lately, with their results, live while the page is open: read
 * from GET /v1/topics/:topic/completed (the broker's memory of the acks it committed while the
 * page's event stream was open) when the page opens, and again at most once a second while
 * `acked` events arrive. A result too large for that list says so; the job's drawer has it all.
 */
import { api } from '../api.js';
import { count } from '../format.js';
import { Time } from '../parts/time.js';
import { topicHref } from '../router.js';
import type { ListState } from '../types.js';
import { useLiveRead } from './use-live-read.js';

const SHOWN = 20;
const ACKS = ['acked'];

/** `state`: the list tab the page shows (a job opened from here keeps it). */
export function RecentCompleted({ topic, state }: { topic: string; state: ListState }) {
  const { data, error } = useLiveRead(topic, () => api.completed(topic, SHOWN), ACKS);
  const jobs = data?.jobs ?? null;

  return (
    <section class="panel" aria-labelledby="completed-title">
      <h2 id="completed-title">
        Recently completed <span class="muted">— the last {SHOWN} this broker saw while the page was open</span>
      </h2>
      {error && <p class="error-line">{error}</p>}
      <div class="scroll">
        <table class="grid" id="completed">
          <thead>
            <tr>
              <th>completed</th>
              <th>id</th>
              <th>worker</th>
              <th>result</th>
            </tr>
          </thead>
          <tbody>
            {jobs?.length === 0 && (
              <tr>
                <td colSpan={4} class="empty">
                  No job completed since the page opened.
                </td>
              </tr>
            )}
            {jobs?.map((j) => (
              <tr key={`${j.id}@${j.at}`} data-job={j.id}>
                <td>
                  <Time at={j.at} />
                </td>
                <td class="mono">
                  <a href={topicHref(topic, { state, job: j.id })}>{j.id}</a>
                </td>
                <td class="mono">{j.worker}</td>
                <td class="mono clip" data-col="result">
                  {j.resultChars !== undefined ? <span class="muted">{count(j.resultChars)} characters: open the job</span> : j.result === undefined ? <span class="muted">no result</span> : JSON.stringify(j.result)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
