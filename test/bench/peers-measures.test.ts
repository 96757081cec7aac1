/**
 * The parts of bench:peers' measurements that read other programs' output or decide for the user:
 * the broker's Prometheus histogram turned into commit figures, strace's summary table, and when
 * the run installs missing servers itself.
 */
import { describe, expect, it } from 'vitest';
import { commitStats, parseMetrics } from '../../bench/peers/broker-metrics.js';
import { installPlan, type Requirement } from '../../bench/peers/setup.js';
import { parseStraceSummary } from '../../bench/peers/strace.js';

function scrape(buckets: Record<string, number>, sum: number, ops: number, pushes: number, bytes = 0): string {
  const count = buckets['+Inf']!;
  return [
    '# TYPE bucketq_commit_duration_seconds histogram',
    ...Object.entries(buckets).map(([le, c]) => `bucketq_commit_duration_seconds_bucket{le="${le}",topic="w1"} ${c}`),
    `bucketq_commit_duration_seconds_sum{topic="w1"} ${sum}`,
    `bucketq_commit_duration_seconds_count{topic="w1"} ${count}`,
    `bucketq_commit_requests_sum{topic="w1"} ${ops}`,
    `bucketq_commit_requests_count{topic="w1"} ${count}`,
    `bucketq_commit_bytes_sum{topic="w1"} ${bytes}`,
    `bucketq_commit_bytes_count{topic="w1"} ${count}`,
    `bucketq_http_requests_total{method="POST",route="/v1/topics/:topic/jobs",code="201"} ${pushes}`,
    `bucketq_http_requests_total{method="GET",route="/metrics",code="200"} 7`,
  ].join('\n');
}

describe('bench:peers commit figures from GET /metrics', () => {
  it('takes the difference of two scrapes and estimates the p50 inside its bucket', () => {
    const before = parseMetrics(scrape({ '0.001': 10, '0.0025': 10, '0.005': 10, '+Inf': 10 }, 0.005, 20, 10, 40_960));
    // 100 more commits: 20 under 1 ms, 40 in 1–2.5 ms, 40 in 2.5–5 ms; the 50th is 30/40 into 1–2.5 ms.
    const after = parseMetrics(scrape({ '0.001': 30, '0.0025': 70, '0.005': 110, '+Inf': 110 }, 0.305, 1020, 810, 40_960 + 100 * 8192));
    const c = commitStats(before, after);
    expect(c.commits).toBe(100);
    expect(c.meanMs).toBeCloseTo(3, 9);
    expect(c.opsPerCommit).toBe(10);
    expect(c.pushRequests).toBe(800);
    expect(c.meanBytes).toBe(8192);
    expect(c.p50BucketMs).toEqual([1, 2.5]);
    expect(c.p50Ms).toBeCloseTo(1 + 1.5 * (30 / 40), 9);
  });
});

describe('bench:peers strace summary', () => {
  it('reads strace -c -U calls,errors,name, with and without errors, busiest first, total left out', () => {
    const text = ['    calls    errors syscall', '--------- --------- ----------------', '       20           write', '       40           epoll_pwait', '        7         3 openat', '--------- --------- ----------------', '       67         3 total'].join('\n');
    expect(parseStraceSummary(text)).toEqual([
      { name: 'epoll_pwait', calls: 40, errors: 0 },
      { name: 'write', calls: 20, errors: 0 },
      { name: 'openat', calls: 7, errors: 3 },
    ]);
  });
});

describe('bench:peers setup', () => {
  const redis: Requirement = { what: 'redis-server', debianPackage: 'redis-server', present: () => false };
  const pg: Requirement = { what: 'PostgreSQL server binaries', debianPackage: 'postgresql', present: () => false };
  it('installs what is missing in one apt-get when root on Debian', () => {
    expect(installPlan([redis, pg], { root: true, debian: true })).toEqual({ run: true, argv: ['sh', '-c', 'apt-get update && apt-get install -y redis-server postgresql'], command: 'apt-get update && apt-get install -y redis-server postgresql' });
  });
  it('only prints the command when not root or not Debian, and does nothing when nothing is missing', () => {
    expect(installPlan([redis], { root: false, debian: true })).toEqual({ run: false, command: 'apt-get update && apt-get install -y redis-server', reason: 'not root' });
    expect(installPlan([redis], { root: true, debian: false })).toMatchObject({ run: false });
    expect(installPlan([], { root: true, debian: true })).toBeNull();
  });
});
