/** One page of jobs as a dense table; rows can be picked for the bulk actions of their state. */
import { Time } from '../parts/time.js';
import type { Job, ListState } from '../types.js';

interface JobTableProps {
  jobs: Job[];
  state: ListState;
  selected: string | null;
  loading: boolean;
  onOpen(id: string): void;
  /** Given when rows can be picked (pending, delayed and dead lists of an admin session). */
  picking?: { picked: ReadonlySet<string>; toggle(id: string): void; toggleAll(ids: string[]): void };
}

export function JobTable({ jobs, state, selected, loading, onOpen, picking }: JobTableProps) {
  const allPicked = picking !== undefined && jobs.length > 0 && jobs.every((j) => picking.picked.has(j.id));
  return (
    <table class="grid jobs" id="jobs">
      <thead>
        <tr>
          {picking && (
            <th class="pick">
              <input type="checkbox" id="pick-all" aria-label="pick every job on this page" checked={allPicked} onChange={() => picking.toggleAll(jobs.map((j) => j.id))} />
            </th>
          )}
          <th>id</th>
          <th>state</th>
          <th class="num">prio</th>
          <th class="num">attempts</th>
          <th>{state === 'claimed' ? 'lease' : state === 'delayed' ? 'due' : state === 'dead' ? 'died' : 'created'}</th>
          <th>{state === 'dead' ? 'last error' : 'payload'}</th>
        </tr>
      </thead>
      <tbody>
        {jobs.length === 0 && (
          <tr>
            <td colSpan={picking ? 7 : 6} class="empty">
              {loading ? 'Loading…' : `No ${state} jobs.`}
            </td>
          </tr>
        )}
        {jobs.map((job) => (
          <tr key={job.id} data-job={job.id} class={`${job.id === selected ? 'selected' : ''} ${job.state !== state ? 'moved' : ''}`} title={job.state !== state ? `now ${job.state}` : undefined} onClick={() => onOpen(job.id)}>
            {picking && (
              // Picking a row must not open it.
              <td class="pick" onClick={(e) => e.stopPropagation()}>
                <input type="checkbox" aria-label={`pick ${job.id}`} checked={picking.picked.has(job.id)} onChange={() => picking.toggle(job.id)} />
              </td>
            )}
            <td class="mono">{job.id}</td>
            <td>
              <span class={`state state-${job.state}`}>{job.state}</span>
            </td>
            <td class="num">{job.priority}</td>
            <td class="num">
              {job.attempts}/{job.maxAttempts}
            </td>
            <td>
              {state === 'claimed' ? (
                <>
                  <span class="mono">{job.lease?.worker ?? '?'}</span> until <Time at={job.lease?.until} />
                </>
              ) : (
                <Time at={state === 'delayed' ? job.runAt : state === 'dead' ? (job.finishedAt ?? job.updatedAt) : job.createdAt} />
              )}
            </td>
            <td class="mono clip">{state === 'dead' ? (job.lastError ?? '') : JSON.stringify(job.payload ?? null)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
