/** A job's full record beside the list: payload, attempts, errors, result, lease, history, actions. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import { useJobEvents } from '../live.js';
import { confirmStep } from '../parts/confirm.js';
import { act } from '../parts/notices.js';
import { Time } from '../parts/time.js';
import type { Job } from '../types.js';

interface DrawerProps {
  topic: string;
  id: string;
  readOnly: boolean;
  onClose(): void;
  onChanged(): void;
}

export function JobDrawer({ topic, id, readOnly, onClose, onChanged }: DrawerProps) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  const idRef = useRef(id);
  idRef.current = id;

  const load = (): void => {
    api.job(topic, id).then(
      (j) => idRef.current === id && (setJob(j), setError(null)),
      (err: unknown) => idRef.current === id && setError(describeError(err)),
    );
  };
  useEffect(load, [topic, id]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') onClose();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [onClose]);
  // The record changes with every event about this job: read it again (one job, a small GET).
  useJobEvents(topic, (e) => e.job === idRef.current && load());

  const lockedTitle = readOnly ? 'this session may only read' : undefined;
  const retry = (): void => void act('retry', () => api.retry(topic, id), (r) => `${r.id} is ${r.state} again`).then(() => (load(), onChanged()));
  const cancel = async (): Promise<void> => {
    const yes = await confirmStep({ title: `Cancel job ${id}?`, body: `It leaves the queue as cancelled and will not run. This cannot be undone: push it again to run it.`, action: 'Cancel the job', danger: true });
    if (!yes) return;
    await act('cancel', () => api.cancel(topic, id), (r) => `${r.id} ${r.state}`);
    load();
    onChanged();
  };

  return (
    <aside class="drawer" id="job-drawer" aria-label={`job ${id}`}>
      <header>
        <h3 class="mono">{id}</h3>
        <button class="link" onClick={onClose} aria-label="close">
          ×
        </button>
      </header>
      {error && <p class="error-line">{error}</p>}
      {job && job.createdAt === 0 && (
        // A finished job past the broker's recent window: queue.json keeps only its outcome.
        <p class="muted" id="job-archived">
          <span class={`state state-${job.state}`} id="job-state">
            {job.state}
          </span>{' '}
          — this job left the queue; its full record is in the archive objects, not in queue.json.
        </p>
      )}
      {job && job.createdAt !== 0 && (
        <>
          <div class="actions">
            {job.state === 'dead' && (
              <button id="job-retry" disabled={readOnly} title={lockedTitle} onClick={retry}>
                Retry
              </button>
            )}
            {(job.state === 'pending' || job.state === 'delayed') && (
              <button id="job-cancel" class="danger" disabled={readOnly} title={lockedTitle} onClick={() => void cancel()}>
                Cancel
              </button>
            )}
          </div>
          <dl class="facts">
            <dt>state</dt>
            <dd>
              <span class={`state state-${job.state}`} id="job-state">
                {job.state}
              </span>
            </dd>
            <dt>attempts</dt>
            <dd>
              {job.attempts} of {job.maxAttempts}
            </dd>
            <dt>priority</dt>
            <dd>{job.priority}</dd>
            <dt>created</dt>
            <dd>
              <Time at={job.createdAt} />
            </dd>
            <dt>due</dt>
            <dd>
              <Time at={job.runAt} />
            </dd>
            <dt>updated</dt>
            <dd>
              <Time at={job.updatedAt} />
            </dd>
            {job.finishedAt !== undefined && (
              <>
                <dt>finished</dt>
                <dd>
                  <Time at={job.finishedAt} />
                </dd>
              </>
            )}
            {job.lease && (
              <>
                <dt>lease</dt>
                <dd>
                  <span class="mono">{job.lease.worker}</span> until <Time at={job.lease.until} />
                </dd>
              </>
            )}
            {typeof job.archive === 'string' && (
              <>
                <dt>archive</dt>
                <dd class="mono">{job.archive}</dd>
              </>
            )}
            {job.lastError !== undefined && (
              <>
                <dt>last error</dt>
                <dd class="bad mono">{job.lastError}</dd>
              </>
            )}
          </dl>
          <h4>payload</h4>
          <pre class="json">{JSON.stringify(job.payload ?? null, null, 2)}</pre>
          {job.result !== undefined && (
            <>
              <h4>result</h4>
              <pre class="json">{JSON.stringify(job.result, null, 2)}</pre>
            </>
          )}
          {job.history && job.history.length > 0 && (
            <>
              <h4>history</h4>
              <ol class="history">
                {job.history.map((h, i) => (
                  <li key={i}>
                    <Time at={h.at} /> <span class={`state state-${h.event}`}>{h.event}</span>
                    {h.worker && <span class="mono"> {h.worker}</span>}
                    {h.error && <span class="bad"> {h.error}</span>}
                  </li>
                ))}
              </ol>
            </>
          )}
        </>
      )}
    </aside>
  );
}
