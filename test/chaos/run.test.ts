/**
 * A real chaos run inside `npm test`: `npm run chaos` as a child process (tsx chaos/run.ts), 45 s
 * of seeded faults on three brokers and three workers, the drain, and the checker. Every
 * must-be-0 check must be 0, and the run must have tested something: pushes acknowledged, the
 * nemesis hitting brokers and workers, leadership changing, jobs delivered again.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../chaos/report.js';

const RUN = join(import.meta.dirname, '..', '..', 'chaos', 'run.ts');
// Seed 20's plan SIGTERMs w1 (a prefetching worker) three times: releases of held jobs happen too.
const SEED = 20;

function chaos(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('npm run chaos', () => {
  it('rejects bad options with one line and exit 2, and prints its manual', async () => {
    const bad = await chaos(['--brokers', '5']);
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: 'chaos: --brokers must be 2 or 3, got 5 (see --help)\n' });
    const faults = await chaos(['--faults', 'latency=5,lightning=1']);
    expect(faults.code).toBe(2);
    expect(faults.stderr).toMatch(/^chaos: --faults: unknown fault "lightning"/);
    const help = await chaos(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--seconds N/);
  });

  it(`a seeded 45 s run (seed ${SEED}) keeps every promise`, { timeout: 240_000 }, async () => {
    const r = await chaos(['--seconds', '45', '--seed', String(SEED), '--json']);
    const report = JSON.parse(r.stdout) as ChaosReport;
    const c = report.check;
    // The verdicts, each by name, so a failure says which.
    expect({
      lostPushes: c.lostPushes, unfinished: c.unfinished, finishedTwice: c.finishedTwice, phantoms: c.phantoms,
      doubleAcks: c.doubleAcks, ackNotFinal: c.ackNotFinal, ackDenied: c.ackDenied, unexplained: c.unexplained, deadUnjustified: c.deadUnjustified,
      epochTwice: c.epochTwice, countersOff: c.countersOff, invariants: c.invariants, broken: report.run.broken,
    }).toEqual({ lostPushes: [], unfinished: [], finishedTwice: [], phantoms: [], doubleAcks: [], ackNotFinal: [], ackDenied: [], unexplained: [], deadUnjustified: [], epochTwice: [], countersOff: [], invariants: [], broken: [] });
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
    // It tested something.
    // On a loaded 2-core machine a run acknowledges a few hundred pushes; on an idle one thousands.
    expect(c.counts.pushesAcked).toBeGreaterThan(150);
    expect(c.counts.completed + c.counts.dead).toBe(c.counts.pushesAcked);
    expect(c.counts.dead).toBeGreaterThan(0);
    expect((c.counts.nemesis['kill worker'] ?? 0) + (c.counts.nemesis['stop worker'] ?? 0)).toBeGreaterThan(0);
    expect((c.counts.nemesis['kill broker'] ?? 0) + (c.counts.nemesis['stop broker'] ?? 0)).toBeGreaterThan(0);
    expect(c.leaderChanges).toBeGreaterThan(0);
    expect(c.redeliveries['lease-expired'] ?? 0).toBeGreaterThan(0);
    // The default small head bounds put the backlog in segments (docs/chaos.md).
    expect(report.run.segments.segments).toBeGreaterThan(0);
    console.log(`[chaos seed ${SEED}] ${JSON.stringify({ counts: c.counts, redeliveries: c.redeliveries, leaderChanges: c.leaderChanges, availability: c.availability, pushLatencyMs: c.pushLatencyMs, failoverMs: c.failoverMs })}`);
  });
});
