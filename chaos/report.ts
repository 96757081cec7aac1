/** The chaos report: the checker's result with the run's setup, as a table for people or JSON. */
import type { SegmentUse } from './segment-watch.js';
import type { CheckResult } from './checker.js';

export interface RunInfo {
  seed: number;
  seconds: number;
  brokers: number;
  producers: number;
  workers: number;
  faults: Record<string, number>;
  storeDir: string;
  historyDir: string;
  /** The history files and the store are kept (a check failed, or the caller named them). */
  kept: boolean;
  drainMs: number;
  /** Live jobs (and jobs waiting to be archived) when the drain began. */
  drainBacklog: number;
  /** The brokers' --backlog bounds ("default": the broker's own). */
  backlog: string;
  /** How much the run used segments (segment-watch.ts). */
  segments: SegmentUse;
  /** The drain ended with jobs still live (the checker then reports them as unfinished). */
  drainTimedOut: boolean;
  truncatedLines: number;
  archiveObjects: number;
  faultsPlanned: number;
  /** Planned faults left out at run time (their target still down or booting, or the last one up). */
  faultsSkipped: number;
  /** Why the run itself proves nothing (nothing pushed, no drain, a crash), whatever the checks say. */
  broken: string[];
  /** Processes that exited on their own during the run (not by the nemesis), with their last stderr. */
  crashes: Array<{ name: string; code: number | null; signal: string | null; stderr: string[] }>;
}

export interface ChaosReport {
  ok: boolean;
  run: RunInfo;
  check: CheckResult;
}

const LIST_MAX = 10;

function listed(ids: ReadonlyArray<unknown>): string {
  if (ids.length === 0) return '';
  const shown = ids.slice(0, LIST_MAX).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  return `  ${shown.join(', ')}${ids.length > LIST_MAX ? `, … (${ids.length - LIST_MAX} more)` : ''}`;
}

export function formatReport({ ok, run, check: c }: ChaosReport): string {
  const rows: Array<[string, string, string]> = [];
  const must = (name: string, list: ReadonlyArray<unknown>) => rows.push([name, String(list.length), list.length === 0 ? 'ok (must be 0)' : `FAIL (must be 0)${listed(list)}`]);
  const info = (name: string, value: string) => rows.push([name, value, '']);
  must('acknowledged pushes lost', c.lostPushes);
  must('acknowledged pushes unfinished', c.unfinished);
  must('jobs finished twice', c.finishedTwice);
  must('jobs no producer pushed', c.phantoms);
  must('jobs whose ack was accepted twice', c.doubleAcks);
  must('accepted acks not the final lease', c.ackNotFinal);
  must('refused acks that had landed', c.ackDenied);
  info('jobs delivered more than once', String(c.counts.deliveredMoreThanOnce));
  for (const [reason, n] of Object.entries(c.redeliveries)) if (reason !== 'unexplained') info(`  again after ${reason}`, String(n));
  must('  unexplained redeliveries', c.unexplained);
  must('dead letters not justified', c.deadUnjustified);
  must('epochs led by two brokers', c.epochTwice);
  must('counters that disagree with the records', c.countersOff);
  must('final queue.json invariants broken', c.invariants);
  info('leader changes', String(c.leaderChanges));
  info('availability (seconds with a commit)', `${(c.availability * 100).toFixed(1)}%`);
  const fo = (k: 'kill' | 'stop') => (c.failoverMs[k].count === 0 ? 'none' : `${c.failoverMs[k].p50} / ${c.failoverMs[k].max} ms (${c.failoverMs[k].count})`);
  info('leader SIGKILL → next leader\'s first commit p50 / max', fo('kill'));
  info('leader SIGSTOP → next leader\'s first commit p50 / max', fo('stop'));
  info('push latency p50 / p99 / max', `${c.pushLatencyMs.p50} / ${c.pushLatencyMs.p99} / ${c.pushLatencyMs.max} ms`);
  info('pushes acknowledged / failed', `${c.counts.pushesAcked} / ${c.counts.pushesFailed}`);
  info('completed / dead', `${c.counts.completed} / ${c.counts.dead}`);
  info('deliveries / acks accepted / rejected / nacks', `${c.counts.deliveries} / ${c.counts.acksAccepted} / ${c.counts.acksRejected} / ${c.counts.nacks}`);
  info('nemesis', `${Object.entries(c.counts.nemesis).map(([k, n]) => `${n} ${k}`).join(', ') || 'nothing'} (${run.faultsSkipped} of ${run.faultsPlanned} planned faults left out)`);
  info('segments', `${run.segments.segments} named during the run, up to ${run.segments.maxJobs} jobs in them at once (${run.segments.samples} heads read)`);
  info('drain', `${run.drainBacklog} jobs worked off in ${(run.drainMs / 1000).toFixed(1)} s${run.drainTimedOut ? ' (stalled)' : ''}`);

  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.filter((r) => r[2] !== '').map((r) => r[1].length));
  const faults = Object.entries(run.faults).map(([k, v]) => `${k}=${v}`).join(',');
  const lines = [
    `chaos run: seed ${run.seed}, ${run.seconds} s, ${run.brokers} brokers, ${run.producers} producers, ${run.workers} workers, store faults ${faults || 'none'}, head bounds ${run.backlog}`,
    // Figures (no verdict) may be wide: they are not right-aligned with the counts.
    ...rows.map(([a, b, cc]) => (cc === '' ? `${a.padEnd(w0)}  ${b}` : `${a.padEnd(w0)}  ${b.padStart(w1)}  ${cc}`)),
  ];
  for (const x of run.crashes) lines.push(`process ${x.name} exited by itself (${x.code ?? x.signal}): ${x.stderr.slice(-3).join(' | ')}`);
  if (run.truncatedLines > 0) lines.push(`${run.truncatedLines} history line(s) cut short by a SIGKILL were skipped`);
  if (run.kept) lines.push(`history kept in ${run.historyDir}, store in ${run.storeDir}`);
  for (const why of run.broken) lines.push(`the run proves nothing: ${why}`);
  lines.push(ok ? 'PASS' : `FAIL: ${[...c.failed, ...(run.broken.length > 0 ? ['run'] : [])].join(', ')}; repeat with --seed ${run.seed}`);
  return `${lines.join('\n')}\n`;
}
