/** The nemesis plan is a function of its seed, and broker output lines become leader events. */
import { describe, expect, it } from 'vitest';
import { leaderLine } from '../../chaos/cluster.js';
import { planNemesis, type PlanOptions } from '../../chaos/nemesis.js';

const options: PlanOptions = { seed: 42, periodMs: 60_000, brokers: ['b0', 'b1', 'b2'], workers: ['w0', 'w1', 'w2'], brokerLeaseMs: 1500, jobLeaseMs: 2000 };

describe('nemesis plan', () => {
  it('is the same for one seed and another for another seed', () => {
    expect(planNemesis(options)).toEqual(planNemesis(options));
    expect(planNemesis({ ...options, seed: 43 })).not.toEqual(planNemesis(options));
  });

  it('kills and freezes brokers and workers and restarts workers gracefully, each fault over within the period, freezes past the lease', () => {
    const plan = planNemesis(options);
    expect(plan.length).toBeGreaterThan(15);
    for (const f of plan) {
      expect(f.at).toBeGreaterThanOrEqual(3000);
      expect(f.at + f.downMs).toBeLessThanOrEqual(options.periodMs);
      if (f.action === 'freeze') expect(f.downMs).toBeGreaterThan(f.role === 'broker' ? options.brokerLeaseMs : options.jobLeaseMs);
    }
    const kinds = new Set(plan.map((f) => `${f.action} ${f.role}`));
    expect([...kinds].sort()).toEqual(['freeze broker', 'freeze worker', 'kill broker', 'kill worker', 'term worker']);
    expect(plan.some((f) => f.leader)).toBe(true);
  });
});

describe('leaderLine', () => {
  it('reads the plain lines and JSON log records of the topic, and nothing else', () => {
    expect(leaderLine('leading topic chaos (epoch 3)', 'chaos')).toEqual({ op: 'leader', epoch: 3 });
    expect(leaderLine('leading topic other (epoch 3)', 'chaos')).toBeNull();
    expect(leaderLine('lost topic chaos to broker b1.0 at http://127.0.0.1:1', 'chaos')).toEqual({ op: 'fenced' });
    expect(leaderLine('{"level":30,"event":"leader","topic":"chaos","epoch":4,"msg":"leading topic chaos"}', 'chaos')).toEqual({ op: 'leader', epoch: 4 });
    expect(leaderLine('{"event":"fenced","topic":"chaos","leader":null}', 'chaos')).toEqual({ op: 'fenced' });
    expect(leaderLine('{"event":"leader","topic":"other","epoch":4}', 'chaos')).toBeNull();
    expect(leaderLine('{not json', 'chaos')).toBeNull();
    expect(leaderLine('bucketq broker b0.0 listening on http://127.0.0.1:1 (…)', 'chaos')).toBeNull();
  });
});
