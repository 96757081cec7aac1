/**
 * The overview, in the order an operator asks: is work getting done (throughput), is it failing,
 * how much waits and for how long (backlog), and does anything consume. Then every topic's row,
 * the charts of those over the last minutes, and, lower, the engine's own figures (commits, batch
 * size, latency, CAS conflicts) that explain a group-commit queue when something above looks off.
 */
import { Chart, type SeriesSpec } from '../parts/chart.js';
import { Kpi } from '../parts/kpi.js';
import { Time } from '../parts/time.js';
import { count, duration, millis, rate } from '../format.js';
import { stalled } from '../health.js';
import { useStats } from '../live.js';
import { topicHref } from '../router.js';
import type { BrokerInfo, StatsSample } from '../types.js';

const THROUGHPUT: SeriesSpec[] = [
  { label: 'completed/s', color: '#10b981', value: (s) => s.totals?.ackedPerSec ?? null },
  { label: 'pushed/s', color: '#3b82f6', value: (s) => s.totals?.pushedPerSec ?? null },
  { label: 'failed/s', color: '#ef4444', value: (s) => s.totals?.failedPerSec ?? null },
];
const BACKLOG: SeriesSpec[] = [
  { label: 'pending', color: '#6366f1', value: (s) => s.totals?.pending ?? null },
  { label: 'delayed', color: '#f59e0b', value: (s) => s.totals?.delayed ?? null },
  { label: 'claimed', color: '#0ea5e9', value: (s) => s.totals?.claimed ?? null },
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

/** An hour-old job in pending is an incident on most queues; a minute is worth a colour. */
const OLD_PENDING_MS = 60_000;

export function Overview({ broker }: { broker: BrokerInfo | null }) {
  const stats = useStats({});
  const latest: StatsSample | undefined = stats.latest;
  const leaders = new Map((broker?.topics ?? []).map((t) => [t.topic, t]));
  const names = [...new Set([...Object.keys(latest?.topics ?? {}), ...leaders.keys()])].sort();
  const c = latest?.commits;
  const t = latest?.totals;
  const stalledTopics = Object.entries(latest?.topics ?? {}).filter(([, row]) => stalled(row)).map(([name]) => name);

  return (
    <main class="overview">
      <section class="kpis kpis-main" aria-label="the queue now">
        <Kpi name="throughput" label="Throughput" value={rate(t?.ackedPerSec)} unit="completed/s" sub={`pushed ${rate(t?.pushedPerSec)}/s`} />
        <Kpi
          name="failures"
          label="Failures"
          value={rate(t?.failedPerSec)}
          unit="failed/s"
          sub={`${count(t?.dead)} dead · ${rate(t?.deadPerSec)}/s`}
          tone={(t?.deadPerSec ?? 0) > 0 || (t?.failedPerSec ?? 0) > 0 ? 'bad' : (t?.dead ?? 0) > 0 ? 'warn' : undefined}
        />
        <Kpi
          name="backlog"
          label="Backlog"
          value={count(t === undefined ? undefined : t.pending + t.delayed)}
          unit="waiting"
          sub={`${count(t?.pending)} due · oldest ${duration(t?.oldestPendingMs)}`}
          tone={(t?.oldestPendingMs ?? 0) > OLD_PENDING_MS ? 'warn' : undefined}
        />
        <Kpi
          name="consumers"
          label="Consumers"
          value={count(t?.workers)}
          unit={t?.workers === 1 ? 'worker' : 'workers'}
          sub={stalledTopics.length > 0 ? `none on ${stalledTopics.length > 2 ? `${stalledTopics.length} topics` : stalledTopics.join(', ')}` : `${count(t?.claimed)} leases held`}
          tone={stalledTopics.length > 0 ? 'bad' : undefined}
        />
      </section>

      <section class="panel">
        <h2>Topics</h2>
        <div class="scroll">
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
                <th class="num">completed/s</th>
                <th class="num">pushed/s</th>
                <th class="num">failed/s</th>
                <th class="num">workers</th>
                <th>leader</th>
                <th class="num">epoch</th>
                <th>lease until</th>
              </tr>
            </thead>
            <tbody>
              {names.length === 0 && (
                <tr>
                  <td colSpan={14} class="empty">
                    {latest ? 'No topics yet: push a job to create one.' : 'Waiting for the first stats sample…'}
                  </td>
                </tr>
              )}
              {names.map((name) => {
                const row = latest?.topics[name];
                const lead = leaders.get(name);
                return (
                  <tr key={name} data-topic={name}>
                    <td>
                      <a href={topicHref(name)}>{name}</a>
                      {row?.paused && <span class="badge badge-warn">paused</span>}
                      {lead?.stateLost && (
                        // Reset from the command line (bucketq reset TOPIC --confirm): a deliberate act, not a click.
                        <span class="badge badge-bad" data-badge="state-lost" title={lead.stateLost.message}>
                          state lost
                        </span>
                      )}
                      {lead?.segmentLost && (
                        <span class="badge badge-bad" data-badge="segment-lost" title={lead.segmentLost.message}>
                          segment lost
                        </span>
                      )}
                      {row && stalled(row) && (
                        <span class="badge badge-bad" data-badge="stalled" title="jobs are due but nothing has claimed one for a while: are the workers running?">
                          no consumers
                        </span>
                      )}
                    </td>
                    <td class="num" data-col="pending">{count(row?.pending)}</td>
                    <td class="num" data-col="delayed">{count(row?.delayed)}</td>
                    <td class="num" data-col="claimed">{count(row?.claimed)}</td>
                    <td class={`num ${(row?.dead ?? 0) > 0 ? 'bad' : ''}`} data-col="dead">{count(row?.dead)}</td>
                    <td class="num" data-col="completed">{count(row?.completed)}</td>
                    <td class={`num ${(row?.oldestPendingMs ?? 0) > OLD_PENDING_MS ? 'bad' : ''}`}>{duration(row?.oldestPendingMs)}</td>
                    <td class="num">{rate(row?.ackedPerSec)}</td>
                    <td class="num">{rate(row?.pushedPerSec)}</td>
                    <td class={`num ${(row?.failedPerSec ?? 0) > 0 ? 'bad' : ''}`}>{rate(row?.failedPerSec)}</td>
                    <td class="num" data-col="workers">{count(row?.workers)}</td>
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
                    <td>
                      <Time at={lead?.leader?.leaseUntil} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </section>

      <section class="charts" data-samples={stats.samples.length}>
        <Chart title="Throughput (all topics)" samples={stats.samples} series={THROUGHPUT} unit="jobs/s" />
        <Chart title="Backlog (all topics)" samples={stats.samples} series={BACKLOG} unit="jobs" />
      </section>

      <section class="engine" aria-labelledby="engine-title">
        <h2 id="engine-title">
          Engine <span class="muted">— the group commit behind the figures above</span>
        </h2>
        <div class="kpis kpis-engine">
          <Kpi name="commits" label="commits/s" value={rate(c?.perSec)} small />
          <Kpi name="jobs-per-commit" label="jobs/commit" value={rate(c?.jobsPerCommit)} small />
          <Kpi name="commit-p50" label="commit p50" value={millis(c?.p50Ms)} small />
          <Kpi name="commit-p99" label="commit p99" value={millis(c?.p99Ms)} small />
          <Kpi name="conflicts" label="CAS conflicts/s" value={rate(c?.conflictsPerSec)} tone={(c?.conflictsPerSec ?? 0) > 0 ? 'warn' : undefined} small />
          <Kpi name="ambiguous" label="ambiguous/s" value={rate(c?.ambiguousPerSec)} tone={(c?.ambiguousPerSec ?? 0) > 0 ? 'warn' : undefined} small />
        </div>
        <div class="charts charts-engine">
          <Chart title="Commits and CAS conflicts" samples={stats.samples} series={COMMITS} unit="per s" height={140} />
          <Chart title="Jobs per commit (group commit batch)" samples={stats.samples} series={BATCH} height={140} />
          <Chart title="Commit latency" samples={stats.samples} series={LATENCY} unit="ms" height={140} />
        </div>
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
            <dd>
              <Time at={broker.startedAt} />
            </dd>
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
