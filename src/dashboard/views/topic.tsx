/**
 * A topic: first whether it exists at all (an unknown name gets a page that says so, and
 * creates nothing). Then its figures (live from the stats stream) with a warning when nothing
 * consumes it, its counts as tabs, one page of jobs in the chosen state with search by id prefix
 * and the bulk actions of that state, the job drawer, the jobs completed lately with their
 * results, the workers holding leases, and its settings.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type ApiError } from '../api.js';
import { count, duration, rate } from '../format.js';
import { stalled } from '../health.js';
import { useStats } from '../live.js';
import { Chart, type SeriesSpec } from '../parts/chart.js';
import { act } from '../parts/notices.js';
import { topicHref } from '../router.js';
import { LIST_STATES, type ListState, type LostSegmentInfo, type StatsSample, type TopicInfo, type TopicLive } from '../types.js';
import { cancelAll, cancelPicked, purgeAll, purgePicked, retryAll, retryPicked } from './bulk-actions.js';
import { JobDrawer } from './job-drawer.js';
import { JobTable } from './job-table.js';
import { PushEditor } from './push-editor.js';
import { RecentCompleted } from './recent-completed.js';
import { SettingsPanel } from './settings-panel.js';
import { useJobPage } from './use-job-page.js';
import { useTopicInfo } from './use-topic-info.js';
import { Workers } from './workers.js';

const SEARCH_PAUSE_MS = 200;

interface TopicProps {
  topic: string;
  params: URLSearchParams;
  readOnly: boolean;
  /** A segment of the topic's backlog that the broker found missing or corrupt (GET /v1/broker). */
  segmentLost?: LostSegmentInfo | undefined;
}

export function Topic({ topic, params, readOnly, segmentLost }: TopicProps) {
  const { lookup, reload } = useTopicInfo(topic);
  if (lookup.kind === 'found') return <TopicPage topic={topic} params={params} readOnly={readOnly} segmentLost={segmentLost} info={lookup.info} reloadInfo={reload} />;
  return (
    <main class="topic" id="topic-status" data-status={lookup.kind}>
      <header class="topic-head">
        <h2>
          <a href="#/">topics</a> / <span id="topic-name">{topic}</span>
        </h2>
      </header>
      {lookup.kind === 'loading' && <p class="muted">Loading…</p>}
      {lookup.kind === 'missing' && (
        <section class="panel callout" id="topic-missing">
          <h3>There is no topic “{topic}”</h3>
          <p>
            The broker's store has no topic by that name, and opening this page did not create one. A topic comes into being with its first push (or when its settings are set). Check the name, or
            go back to <a href="#/">all topics</a>.
          </p>
        </section>
      )}
      {lookup.kind === 'failed' && <TopicTrouble topic={topic} error={lookup.error} onRetry={reload} />}
    </main>
  );
}

/** The topic cannot be shown by this broker: another one leads it, its state is lost, the broker is away. */
function TopicTrouble({ topic, error, onRetry }: { topic: string; error: ApiError; onRetry(): void }) {
  const leader = error.code === 'NOT_LEADER' && typeof error.details.leader === 'string' ? error.details.leader.replace(/\/$/, '') : null;
  return (
    <section class="panel callout callout-bad" id="topic-trouble" data-code={error.code}>
      <h3>{leader ? `Another broker leads “${topic}”` : `“${topic}” cannot be shown: ${error.code}`}</h3>
      <p>{error.message}</p>
      <p>
        {leader && (
          <>
            Its own dashboard shows it: <a href={`${leader}/${topicHref(topic)}`}>{leader}</a>.{' '}
          </>
        )}
        <button onClick={onRetry}>Try again</button>
      </p>
    </section>
  );
}

interface TopicPageProps extends TopicProps {
  info: TopicInfo;
  reloadInfo(): void;
}

function TopicPage({ topic, params, readOnly, segmentLost, info, reloadInfo }: TopicPageProps) {
  const state = (LIST_STATES as readonly string[]).includes(params.get('state') ?? '') ? (params.get('state') as ListState) : 'pending';
  const selected = params.get('job');
  const [q, setQ] = useState('');
  const [pushing, setPushing] = useState(false);
  const stats = useStats({ topic });
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
  const paused = live?.paused ?? info.paused;

  const togglePause = (): void => {
    const pause = !paused;
    void act(pause ? 'pause' : 'resume', () => api.setPaused(topic, pause), () => `${topic} ${pause ? 'paused: claims get nothing' : 'resumed'}`).then(reloadInfo);
  };
  /** Runs a bulk action; when it sent something, the picks are spent and the list is read again. */
  const bulk = (action: Promise<boolean>): void =>
    void action.then((sent) => {
      if (!sent) return;
      setPicked(new Set());
      list.reload();
    });
  const ids = [...picked];
  const inState = live?.[state] ?? list.page?.total ?? 0;
  const picking =
    state !== 'claimed' && !readOnly
      ? {
          picked,
          toggle: (id: string) => setPicked((p) => (p.has(id) ? new Set([...p].filter((x) => x !== id)) : new Set([...p, id]))),
          toggleAll: (pageIds: string[]) => setPicked((p) => (pageIds.every((id) => p.has(id)) ? new Set() : new Set([...p, ...pageIds]))),
        }
      : undefined;

  return (
    // With a job open the page makes room for the drawer, so no action hides under it.
    <main class={selected ? 'topic with-drawer' : 'topic'}>
      <header class="topic-head">
        <h2>
          <a href="#/">topics</a> / <span id="topic-name">{topic}</span>
          {paused && <span class="badge badge-warn">paused</span>}
        </h2>
        <div class="facts-inline">
          <span>
            completed <b>{rate(live?.ackedPerSec)}</b>/s
          </span>
          <span>
            pushed <b>{rate(live?.pushedPerSec)}</b>/s
          </span>
          <span class={(live?.failedPerSec ?? 0) > 0 ? 'bad' : ''}>
            failed <b>{rate(live?.failedPerSec)}</b>/s
          </span>
          <span>
            oldest pending <b>{duration(live?.oldestPendingMs)}</b>
          </span>
          <span>
            workers <b>{count(live?.workers)}</b>
          </span>
        </div>
        <div class="actions">
          <button id="push-open" disabled={readOnly} title={lockedTitle} onClick={() => setPushing(true)}>
            Push job
          </button>
          <button id="pause-toggle" disabled={readOnly} title={lockedTitle} onClick={togglePause}>
            {paused ? 'Resume' : 'Pause'}
          </button>
        </div>
      </header>

      {segmentLost && <SegmentLostBanner topic={topic} lost={segmentLost} />}
      {live && <Warnings topic={topic} live={live} />}

      <nav class="tabs" role="tablist">
        <div class="tab-list">
          {LIST_STATES.map((s) => (
            <a key={s} role="tab" href={topicHref(topic, { state: s })} class={s === state ? 'tab active' : 'tab'} aria-selected={s === state} data-state={s}>
              {s} <span class="tab-count">{count(live?.[s])}</span>
            </a>
          ))}
        </div>
        <input class="search" type="search" placeholder="search by id prefix" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} aria-label="search by id" />
      </nav>

      <section class="charts" data-samples={stats.samples.filter((s) => s.topics[topic]).length}>
        <Chart title="Throughput" samples={stats.samples} series={charts.throughput} unit="jobs/s" height={120} />
        <Chart title="Backlog" samples={stats.samples} series={charts.backlog} unit="jobs" height={120} />
      </section>

      <section class="panel">
        {list.error && <p class="error-line">{list.error}</p>}
        {state !== 'claimed' && (
          <div class="actions list-actions" id="list-actions">
            {state === 'dead' ? (
              <>
                <button id="retry-selected" disabled={readOnly || picked.size === 0} title={lockedTitle} onClick={() => bulk(retryPicked(topic, ids))}>
                  Retry selected ({picked.size})
                </button>
                <button id="purge-selected" class="danger" disabled={readOnly || picked.size === 0} title={lockedTitle} onClick={() => bulk(purgePicked(topic, ids))}>
                  Purge selected ({picked.size})
                </button>
                <span class="spacer" />
                <button id="retry-all" disabled={readOnly || inState === 0} title={lockedTitle} onClick={() => bulk(retryAll(topic))}>
                  Retry all dead
                </button>
                <button id="purge-all" class="danger" disabled={readOnly || inState === 0} title={lockedTitle} onClick={() => bulk(purgeAll(topic))}>
                  Purge all dead
                </button>
              </>
            ) : (
              <>
                <button id="cancel-selected" class="danger" disabled={readOnly || picked.size === 0} title={lockedTitle} onClick={() => bulk(cancelPicked(topic, ids))}>
                  Cancel selected ({picked.size})
                </button>
                <span class="spacer" />
                <button id="cancel-all" class="danger" disabled={readOnly || inState === 0} title={lockedTitle} onClick={() => bulk(cancelAll(topic, state))}>
                  Cancel all {state} ({count(inState)})
                </button>
              </>
            )}
          </div>
        )}
        <div class="scroll">
          <JobTable jobs={list.page?.jobs ?? []} state={state} onOpen={(id) => go({ state, job: id })} selected={selected} loading={list.loading && !list.page} picking={picking} />
        </div>
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
        {list.page?.inSegments ? (
          // Honest about where the rows come from: the head, then the segment objects beyond it.
          <p class="muted in-segments" id="in-segments" data-count={list.page.inSegments}>
            {count(list.page.inSegments)} of the {state} jobs wait in segments beyond the head; the pages read on into them in {state === 'pending' ? 'claim' : 'due'} order.{' '}
            {query ? 'A search matches ids in the head by prefix, and an exact id anywhere. ' : ''}
            <code>bucketq inspect {topic} --segments</code> lists the segments.
          </p>
        ) : null}
      </section>

      <RecentCompleted topic={topic} state={state} />
      <Workers topic={topic} />
      <SettingsPanel topic={topic} settings={info.settings} readOnly={readOnly} onSaved={reloadInfo} />

      {selected && <JobDrawer topic={topic} id={selected} readOnly={readOnly} onClose={() => go({ state })} onChanged={list.reload} />}
      {pushing && <PushEditor topic={topic} onClose={() => setPushing(false)} />}
    </main>
  );
}

/** A segment the head names is missing or corrupt: its jobs, and every claim behind them, wait (docs/operations.md). */
function SegmentLostBanner({ topic, lost }: { topic: string; lost: LostSegmentInfo }) {
  return (
    <div class="banner banner-bad" id="segment-lost" role="alert" data-key={lost.key}>
      <b>Segment lost.</b> {lost.message} Jobs ahead of it are served; its jobs and those behind them wait, nothing is skipped. Restore the object (<code>bucketq doctor --topic {topic}</code> names it).
    </div>
  );
}

/** What an operator must see first: nothing consumes the topic, or it is paused. */
function Warnings({ topic, live }: { topic: string; live: TopicLive }) {
  if (stalled(live)) {
    return (
      <div class="banner banner-bad" id="no-consumers" role="alert">
        <b>No consumers.</b> {count(live.pending)} job{live.pending === 1 ? ' is' : 's are'} due and no worker has claimed one for {duration(live.sinceClaimMs)} (none holds a lease). Are the workers of {topic}{' '}
        running, and can they reach this broker?
      </div>
    );
  }
  if (live.paused && live.pending > 0) {
    return (
      <div class="banner banner-warn" id="paused-banner" role="status">
        <b>Paused.</b> {count(live.pending)} due job{live.pending === 1 ? '' : 's'} wait: claims get nothing until you resume.
      </div>
    );
  }
  return null;
}

/** This topic's lines in the stats samples (a sample from before the topic existed draws a gap). */
function topicSeries(topic: string): { throughput: SeriesSpec[]; backlog: SeriesSpec[] } {
  const field = (name: 'pushedPerSec' | 'ackedPerSec' | 'failedPerSec' | 'pending' | 'claimed' | 'dead' | 'delayed') => (s: StatsSample) => s.topics[topic]?.[name] ?? null;
  return {
    throughput: [
      { label: 'completed/s', color: '#10b981', value: field('ackedPerSec') },
      { label: 'pushed/s', color: '#3b82f6', value: field('pushedPerSec') },
      { label: 'failed/s', color: '#ef4444', value: field('failedPerSec') },
    ],
    backlog: [
      { label: 'pending', color: '#6366f1', value: field('pending') },
      { label: 'delayed', color: '#f59e0b', value: field('delayed') },
      { label: 'claimed', color: '#0ea5e9', value: field('claimed') },
      { label: 'dead', color: '#ef4444', value: field('dead') },
    ],
  };
}
