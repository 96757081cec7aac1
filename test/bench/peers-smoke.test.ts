/**
 * The peer benchmark's harness works end to end (no speed assertions): the runner, run as a user
 * runs it, on bucketq-memory only with tiny job counts, gives a figure for every workload (the
 * broker's CPU per job included) and the broker's commits during W1, W1i and W3, and the markdown
 * table built from them has a row per figure and a column per system.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMarkdown, ROWS, type PeerResults } from '../../bench/peers/report.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('bench:peers harness', () => {
  it('runs every workload on bucketq-memory and reports them as JSON and as a table', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/peers/run.ts', '--only', 'bucketq-memory', '--jobs', '100', '--probes', '5', '--json', '--node', 'system'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as PeerResults;
    expect(results.systems.map((s) => s.name)).toEqual(['bucketq-memory']);
    expect(results.systems[0]!.version).toMatch(/^bucketq /);
    expect(results.sizes).toEqual({ w1Jobs: 100, bulkJobs: 500, probes: 5, drainBudgetS: 180 });
    for (const row of ROWS) {
      const f = results.figures[row.key]['bucketq-memory'];
      expect(f, row.key).toBeDefined();
      // CPU is counted in 10 ms ticks: a hundred jobs may take less than one.
      if (row.unit === 'µs/job') expect(f!.value, row.key).toBeGreaterThanOrEqual(0);
      else expect(f!.value, row.key).toBeGreaterThan(0);
      expect(f!.note, row.key).toBeUndefined(); // nothing partial at this size
    }
    expect(results.figures.w4p99['bucketq-memory']!.value).toBeGreaterThanOrEqual(results.figures.w4p50['bucketq-memory']!.value);
    for (const w of ['w1', 'w1i'] as const) {
      const c = results.commits['bucketq-memory']?.[w];
      expect(c, w).toBeDefined();
      expect(c!.jobs, w).toBe(100);
      expect(c!.commits, w).toBeGreaterThan(0);
      expect(c!.pushRequests, w).toBeGreaterThan(0);
    }
    // W1i's producers send one job per request, whatever the client library does.
    expect(results.commits['bucketq-memory']!.w1i!.pushRequests).toBe(100);
    for (const w of ['w3x1', 'w3x4'] as const) {
      const c = results.commits['bucketq-memory']?.[w];
      expect(c!.jobs, w).toBe(500); // the drains push nothing: only claims and acks commit
      expect(c!.commits, w).toBeGreaterThan(0);
      expect(c!.meanBytes, w).toBeGreaterThan(0);
    }

    const markdown = renderMarkdown(results);
    const table = markdown.slice(0, markdown.indexOf('\n\n', markdown.indexOf('| figure'))).split('\n').filter((l) => l.startsWith('| '));
    expect(table[0]).toBe('| figure | bucketq-memory |');
    expect(table.slice(1)).toHaveLength(ROWS.length);
    expect(markdown).toContain('## bucketq broker commits');
    expect(markdown).toMatch(/\| bucketq-memory \| W3, 4 workers \| 500 \|/);
  }, 60_000);

  it('refuses an unknown system with one readable line', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/peers/run.ts', '--only', 'rabbitmq'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('bench:peers: --only: no system "rabbitmq"; there are bucketq-file, bucketq-memory, bullmq, bullmq-fsync, pgboss');
  });

  it('refuses a --node other than lts or system with one readable line', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/peers/run.ts', '--node', '20'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('bench:peers: --node takes lts or system, got "20"');
  });
});
