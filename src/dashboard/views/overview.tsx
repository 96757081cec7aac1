/**
 * The overview: every topic's counts and rates (live from the stats stream), who leads each
 * topic, the store, and the charts of throughput and commit health over the last minutes.
 */
import { Chart, type SeriesSpec } from '../parts/chart.js';
import { count, duration, millis, rate, when } from '../format.js';
import { useStats } from '../live.js';
import { topicHref } from '../router.js';
import type { BrokerInfo, StatsSample, TopicLive } from '../types.js';

const sum = (s: StatsSample, field: 'pushedPerSec' | 'ackedPerSec'): number => Object.values(s.topics).reduce((n, t) => n + t[field], 0);

const THROUGHPUT: SeriesSpec[] = [
  { label: 'pushed/s', color: '#3b82f6', value: (s) => sum(s, 'pushedPerSec') },
  { label: 'acked/s', color: '#10b981', value: (s) => sum(s, 'ackedPerSec') },
];
const COMMITS: SeriesSpec[] = [
  { label: 'commits/s', color: '#8b5cf6', value: (s) => s.commits.perSec },
  { label: 'CAS conflicts/s', color: '#ef4444', value: (s) => s.commits.conflictsPerSec },
  { label: 'ambiguous/s', color: '#f59e0b', value: (s) => s.commits.ambiguousPerSec },
];
const BATCH: SeriesSpec[] = [{ label: 'jobs/commit', color: '#0ea5e9', value: (s) => s.commits.jobsPerCommit }];
const LATENCY: SeriesSpec[] = [
  { label: 'p50', color: '#10b981', value: (s) => s.commits.p50Ms },
  { label: 'p99', color: '#f97316', value: (s) => s.commits.p99Ms },
];

export function Overview({ broker }: { broker: BrokerInfo | null }) {
  const stats = useStats();
  const latest = stats.latest;
  const leaders = new Map((broker?.topics ?? []).map((t) => [t.topic, t]));
  const names = [...new Set([...Object.keys(latest?.topics ?? {}), ...leaders.keys()])].sort();
  const c = latest?.commits;

  return (
    <main class="overview">
      <section class="kpis" aria-label="commit health now">
        <Kpi label="commits/s" value={rate(c?.perSec)} />
        <Kpi label="jobs/commit" value={rate(c?.jobsPerCommit)} />
        <Kpi label="commit p50" value={millis(c?.p50Ms)} />
        <Kpi label="commit p99" value={millis(c?.p99Ms)} />
        <Kpi label="CAS conflicts/s" value={rate(c?.conflictsPerSec)} warn={(c?.conflictsPerSec ?? 0) > 0} />
        <Kpi label="ambiguous/s" value={rate(c?.ambiguousPerSec)} warn={(c?.ambiguousPerSec ?? 0) > 0} />
      </section>

      <section class="panel">
        <h2>Topics</h2>
        <table class="grid" id="topics">
          <thead>
            <tr>
              <th>topic</th>
              <th class="num">pending</th>
              <th class="num">delayed</th>
              <th class="num">claimed</th>
              <th class="num">dead</th>
              <th class="num">completed</th>
              <th class="num">oldest pending</th>
              <th class="num">pushed/s</th>
              <th class="num">acked/s</th>
              <th>leader</th>
              <th class="num">epoch</th>
              <th>lease until</th>
            </tr>
          </thead>
          <tbody>
            {names.length === 0 && (
              <tr>
                <td colSpan={12} class="empty">
                  {latest ? 'No topics yet: push a job to create one.' : 'Waiting for the first stats sample…'}
                </td>
              </tr>
            )}
            {names.map((name) => {
              const t = latest?.topics[name];
              const lead = leaders.get(name);
              return (
                <tr key={name} data-topic={name}>
                  <td>
                    <a href={topicHref(name)}>{name}</a>
                    {t?.paused && <span class="badge badge-warn">paused</span>}
                    {lead?.stateLost && (
                      // Reset from the command line (bucketq reset TOPIC --confirm): a deliberate act, not a click.
                      <span class="badge badge-bad" data-badge="state-lost" title={lead.stateLost.message}>
                        state lost
                      </span>
                    )}
                    {t && stalled(t) && (
                      <span class="badge badge-bad" title="jobs are due but nothing is claimed or acked: are the workers running?">
                        stalled
                      </span>
                    )}
                  </td>
                  <td class="num" data-col="pending">{count(t?.pending)}</td>
                  <td class="num" data-col="delayed">{count(t?.delayed)}</td>
                  <td class="num" data-col="claimed">{count(t?.claimed)}</td>
                  <td class={`num ${(t?.dead ?? 0) > 0 ? 'bad' : ''}`} data-col="dead">{count(t?.dead)}</td>
                  <td class="num" data-col="completed">{count(t?.completed)}</td>
                  <td class={`num ${(t?.oldestPendingMs ?? 0) > 60_000 ? 'bad' : ''}`}>{duration(t?.oldestPendingMs)}</td>
                  <td class="num">{rate(t?.pushedPerSec)}</td>
                  <td class="num">{rate(t?.ackedPerSec)}</td>
                  <td>
                    {lead?.leading ? (
                      <span class="badge badge-ok">this broker</span>
                    ) : lead?.leader?.url ? (
                      // Another broker leads it: its own dashboard shows the topic.
                      <a href={`${lead.leader.url.replace(/\/$/, '')}/`}>{lead.leader.url}</a>
                    ) : (
                      (lead?.leader?.id ?? '–')
                    )}
                  </td>
                  <td class="num">{lead?.leader?.epoch ?? '–'}</td>
                  <td>{when(lead?.leader?.leaseUntil)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>

      <section class="charts" data-samples={stats.samples.length}>
        <Chart title="Throughput (all topics)" samples={stats.samples} series={THROUGHPUT} />
        <Chart title="Commits and CAS conflicts" samples={stats.samples} series={COMMITS} />
        <Chart title="Jobs per commit (group commit batch)" samples={stats.samples} series={BATCH} />
        <Chart title="Commit latency" samples={stats.samples} series={LATENCY} unit=" ms" />
      </section>

      {broker && (
        <section class="panel">
          <h2>Broker</h2>
          <dl class="facts" id="broker">
            <dt>id</dt>
            <dd>{broker.id}</dd>
            <dt>url</dt>
            <dd>{broker.url}</dd>
            <dt>version</dt>
            <dd>{broker.version}</dd>
            <dt>started</dt>
            <dd>{new Date(broker.startedAt).toLocaleString('en-GB')}</dd>
            <dt>store</dt>
            <dd>
              <code>{broker.store}</code>
            </dd>
          </dl>
        </section>
      )}
    </main>
  );
}

/** Due jobs wait, yet nobody works: the first thing to see on a bad day. */
function stalled(t: TopicLive): boolean {
  return !t.paused && t.pending > 0 && t.claimed === 0 && t.ackedPerSec === 0 && t.oldestPendingMs > 10_000;
}

function Kpi({ label, value, warn }: { label: string; value: string; warn?: boolean }) {
  return (
    <div class={`kpi ${warn ? 'kpi-warn' : ''}`}>
      <div class="kpi-value">{value}</div>
      <div class="kpi-label">{label}</div>
    </div>
  );
}
