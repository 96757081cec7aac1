/**
 * The small tables under bench:peers' main one: a bucketq broker's commits during workloads 1, 1i
 * and 3 (from its GET /metrics; bench/peers/broker-metrics.ts) and, with --strace, its syscalls
 * per commit during an extra W1 pass (bench/peers/strace.ts).
 */
import type { CommitStats } from './broker-metrics.js';
import type { SyscallCount } from './strace.js';

/** A broker's commits over one timed window, and the jobs completed in it. */
export type CommitWindow = CommitStats & { jobs: number };

export type StraceResult =
  | { skipped: string }
  | {
      jobs: number;
      /** W1's jobs/s with strace attached: how much strace slowed the broker down. */
      jobsPerS: number;
      commits: number;
      syscalls: number;
      /** Busiest first. */
      top: SyscallCount[];
    };

const n = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const line = (cells: string[]) => `| ${cells.join(' | ')} |`;

function bucket([lo, hi]: [number, number]): string {
  return hi === Infinity || hi === null ? `over ${n(lo, 1)}` : `${n(lo, 1)}–${n(hi, 1)}`;
}

/** The workloads whose commits are kept, and their names in the table. */
export const COMMIT_WINDOWS = { w1: 'W1', w1i: 'W1i', w3x1: 'W3, 1 worker', w3x4: 'W3, 4 workers' } as const;
export type CommitWindowName = keyof typeof COMMIT_WINDOWS;

export function commitsTable(commits: Record<string, Partial<Record<CommitWindowName, CommitWindow>>>): string[] {
  const rows: string[] = [];
  for (const [system, byWindow] of Object.entries(commits)) {
    for (const w of Object.keys(COMMIT_WINDOWS) as CommitWindowName[]) {
      const c = byWindow[w];
      if (!c) continue;
      const done = c.jobs;
      rows.push(line([system, COMMIT_WINDOWS[w], n(done), n(c.commits), c.commits > 0 ? n(done / c.commits, 1) : '–', n(c.opsPerCommit, 1), done > 0 ? n(c.pushRequests / done, 2) : '–', `${n(c.p50Ms, 1)} (${bucket(c.p50BucketMs)})`, n(c.meanMs, 2), n(c.meanBytes / 1024, 1)]));
    }
  }
  if (rows.length === 0) return [];
  return [
    '## bucketq broker commits',
    '',
    line(['system', 'workload', 'jobs', 'commits', 'jobs per commit', 'ops per commit', 'push requests per job', 'commit p50 ms (bucket)', 'commit mean ms', 'queue.json mean KiB']),
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'From the broker\'s GET /metrics before and after the timed window: `bucketq_commit_duration_seconds` (the p50 is estimated within its bucket, as Prometheus\' histogram_quantile does; the mean is its sum ÷ count), `bucketq_commit_requests` (ops: each push, claim or settle request a commit carried), `bucketq_commit_bytes` (the size of queue.json each commit wrote) and `bucketq_http_requests_total` of POST /v1/topics/:topic/jobs.',
    '',
  ];
}

export function straceTable(strace: Record<string, StraceResult>): string[] {
  const entries = Object.entries(strace);
  if (entries.length === 0) return [];
  const rows = entries.map(([system, s]) => {
    if ('skipped' in s) return line([system, `skipped: ${s.skipped}`, '', '', '', '', '']);
    const per = (calls: number) => (s.commits > 0 ? n(calls / s.commits, 1) : '–');
    const top = s.top
      .slice(0, 6)
      .map((c) => `${c.name} ${per(c.calls)}`)
      .join(', ');
    return line([system, n(s.jobs), n(s.jobsPerS), n(s.commits), n(s.syscalls), per(s.syscalls), top]);
  });
  return [
    '## bucketq broker syscalls per commit (--strace)',
    '',
    line(['system', 'jobs (W1 pass under strace)', 'jobs/s under strace', 'commits', 'syscalls', 'syscalls per commit', 'busiest syscalls, calls per commit']),
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    '`strace -c -f -p BROKER_PID` attached to every thread of the broker during an extra W1 pass after the timed ones (strace slows each syscall down: this pass times nothing of the main table). All the broker\'s syscalls are counted, HTTP included, and divided by the commits of the pass.',
    '',
  ];
}
