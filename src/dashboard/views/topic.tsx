/**
 * A topic: its counts as tabs (live from the stats stream), one page of jobs in the chosen state
 * with search by id prefix, the job drawer, the actions (retry, retry all dead, cancel, pause /
 * resume, push) and the workers holding leases.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, describeRetried } from '../api.js';
import { count, duration, rate } from '../format.js';
import { useStats } from '../live.js';
import { Chart, type SeriesSpec } from '../parts/chart.js';
import { act } from '../parts/notices.js';
import { topicHref } from '../router.js';
import { LIST_STATES, type ListState, type StatsSample } from '../types.js';
import { JobDrawer } from './job-drawer.js';
import { JobTable } from './job-table.js';
import { PushEditor } from './push-editor.js';
import { useJobPage } from './use-job-page.js';
import { Workers } from './workers.js';

const SEARCH_PAUSE_MS = 200;

interface TopicProps {
  topic: string;
  params: URLSearchParams;
  readOnly: boolean;
}

export function Topic({ topic, params, readOnly }: TopicProps) {
  const state = (LIST_STATES as readonly string[]).includes(params.get('state') ?? '') ? (params.get('state') as ListState) : 'pending';
  const selected = params.get('job');
  const [q, setQ] = useState('');
  const [pushing, setPushing] = useState(false);
  const stats = useStats();
  const live = stats.latest?.topics[topic];
  const charts = useMemo(() => topicSeries(topic), [topic]);
  // The list follows the search box once typing pauses, not at every keystroke.
  const [query, setQuery] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQuery(q.trim()), SEARCH_PAUSE_MS);
    return () => clearTimeout(t);
  }, [q]);
  const list = useJobPage(topic, state, query);
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  useEffect(() => setPicked(new Set()), [state, query]);
  const go = (next: Record<string, string>): void => {
    location.hash = topicHref(topic, next);
  };
  const lockedTitle = readOnly ? 'this session may only read' : undefined;

  const togglePause = (): void => {
    const paused = !live?.paused;
    void act(paused ? 'pause' : 'resume', () => api.setPaused(topic, paused), () => `${topic} ${paused ? 'paused: claims get nothing' : 'resumed'}`);
  };
  const retryAll = (): void => {
    if (!confirm(`Send every dead job of ${topic} back to pending?`)) return;
    void act('retry all dead', () => api.retryDead(topic), (r) => describeRetried(r)).then(list.reload);
  };
  const retryPicked = (): void => {
    const ids = [...picked];
    void act('retry selected', () => api.retryDead(topic, ids), (r) => describeRetried(r, ids.length)).then(() => {
      setPicked(new Set());
      list.reload();
    });
  };
  const picking =
    state === 'dead' && !readOnly
      ? {
          picked,
          toggle: (id: string) => setPicked((p) => (p.has(id) ? new Set([...p].filter((x) => x !== id)) : new Set([...p, id]))),
          toggleAll: (ids: string[]) => setPicked((p) => (ids.every((id) => p.has(id)) ? new Set() : new Set([...p, ...ids]))),
        }
      : undefined;

  return (
    // With a job open the page makes room for the drawer, so no action hides under it.
    <main class={selected ? 'topic with-drawer' : 'topic'}>
      <header class="topic-head">
        <h2>
          <a href="#/">topics</a> / <span id="topic-name">{topic}</span>
          {live?.paused && <span class="badge badge-warn">paused</span>}
        </h2>
        <div class="facts-inline">
          <span>oldest pending {duration(live?.oldestPendingMs)}</span>
          <span>pushed {rate(live?.pushedPerSec)}/s</span>
          <span>acked {rate(live?.ackedPerSec)}/s</span>
          <span>completed {count(live?.completed)}</span>
        </div>
        <div class="actions">
          <button id="push-open" disabled={readOnly} title={lockedTitle} onClick={() => setPushing(true)}>
            Push job
          </button>
          <button id="pause-toggle" disabled={readOnly} title={lockedTitle} onClick={togglePause}>
            {live?.paused ? 'Resume' : 'Pause'}
          </button>
          <button id="retry-all" class="danger" disabled={readOnly || (live?.dead ?? 0) === 0} title={lockedTitle} onClick={retryAll}>
            Retry all dead
          </button>
        </div>
      </header>

      <nav class="tabs" role="tablist">
        {LIST_STATES.map((s) => (
          <a key={s} role="tab" href={topicHref(topic, { state: s })} class={s === state ? 'tab active' : 'tab'} aria-selected={s === state} data-state={s}>
            {s} <span class="tab-count">{count(live?.[s])}</span>
          </a>
        ))}
        <input class="search" type="search" placeholder="search by id prefix" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} aria-label="search by id" />
      </nav>

      <section class="charts">
        <Chart title="Throughput" samples={stats.samples} series={charts.throughput} height={120} />
        <Chart title="Backlog" samples={stats.samples} series={charts.backlog} height={120} />
      </section>

      <section class="panel">
        {list.error && <p class="error-line">{list.error}</p>}
        {picking && (
          <div class="actions list-actions">
            <button id="retry-selected" disabled={picked.size === 0} onClick={retryPicked}>
              Retry selected ({picked.size})
            </button>
          </div>
        )}
        <JobTable jobs={list.page?.jobs ?? []} state={state} onOpen={(id) => go({ state, job: id })} selected={selected} loading={list.loading && !list.page} picking={picking} />
        <footer class="pager">
          <button onClick={list.previous} disabled={!list.hasPrevious}>
            ← previous
          </button>
          <span id="page-info">
            page {list.number} · {count(list.page?.total)} {state}
            {query && ` matching “${query}”`}
          </span>
          <button onClick={list.next} disabled={!list.page?.next}>
            next →
          </button>
        </footer>
      </section>

      <Workers topic={topic} />

      {selected && <JobDrawer topic={topic} id={selected} readOnly={readOnly} onClose={() => go({ state })} onChanged={list.reload} />}
      {pushing && <PushEditor topic={topic} onClose={() => setPushing(false)} />}
    </main>
  );
}

/** This topic's lines in the stats samples (a sample from before the topic existed draws a gap). */
function topicSeries(topic: string): { throughput: SeriesSpec[]; backlog: SeriesSpec[] } {
  const field = (name: 'pushedPerSec' | 'ackedPerSec' | 'pending' | 'claimed' | 'dead' | 'delayed') => (s: StatsSample) => s.topics[topic]?.[name] ?? null;
  return {
    throughput: [
      { label: 'pushed/s', color: '#3b82f6', value: field('pushedPerSec') },
      { label: 'acked/s', color: '#10b981', value: field('ackedPerSec') },
    ],
    backlog: [
      { label: 'pending', color: '#6366f1', value: field('pending') },
      { label: 'delayed', color: '#f59e0b', value: field('delayed') },
      { label: 'claimed', color: '#0ea5e9', value: field('claimed') },
      { label: 'dead', color: '#ef4444', value: field('dead') },
    ],
  };
}
