/**
 * Durations, one rule for every CLI flag and the dashboard's push form (src/duration.ts): a
 * number with a unit, or a bare number of milliseconds; the flags that took seconds before keep
 * reading a bare number as seconds, with a notice. The CLI runs as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { bucketq, json } from './cli-helpers.js';

describe('parseDuration', () => {
  it('reads units, decimals and joined parts; a bare number is milliseconds', () => {
    expect(['500ms', '30s', '2m', '1h', '1d', '1.5s', '1m30s', ' 45S ', '250', '0', '0s'].map((t) => parseDuration(t))).toEqual([
      { ms: 500, bare: false },
      { ms: 30_000, bare: false },
      { ms: 120_000, bare: false },
      { ms: 3_600_000, bare: false },
      { ms: 86_400_000, bare: false },
      { ms: 1500, bare: false },
      { ms: 90_000, bare: false },
      { ms: 45_000, bare: false },
      { ms: 250, bare: true },
      { ms: 0, bare: true },
      { ms: 0, bare: false },
    ]);
    for (const bad of ['', 's', '-1s', '1 s', '1x', '1.s', 'ms', '10 seconds', '1e3']) expect(parseDuration(bad), bad).toBeNull();
    expect([0, 500, 30_000, 90_000, 3_600_000, 5_400_500].map(formatDuration)).toEqual(['0s', '500ms', '30s', '1m30s', '1h', '1h30m500ms']);
  });
});

let broker: BrokerServer;
beforeAll(async () => {
  broker = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
});
afterAll(async () => {
  await broker?.close();
});

describe('duration flags of the CLI', () => {
  it('--delay 15m, --lease-for 2m, --wait 200ms: units everywhere', async () => {
    const env = { BUCKETQ_URL: broker.url };
    const before = Date.now();
    json(await bucketq(['push', 'units', '1', '--id', 'later', '--delay', '15m'], { env }));
    json(await bucketq(['push', 'units', '2', '--id', 'now'], { env }));
    const got = await bucketq(['get', 'units', 'later'], { env });
    expect(json(got).runAt - before).toBeGreaterThanOrEqual(15 * 60_000 - 1000);
    const claimed = await bucketq(['claim', 'units', '--worker', 'me', '--lease-for', '2m', '--wait', '200ms'], { env });
    expect(claimed.stderr).toBe('');
    const job = json(claimed).jobs[0];
    expect(job.id).toBe('now');
    expect(job.leaseUntil - Date.now()).toBeGreaterThan(100_000);
    const beat = await bucketq(['heartbeat', 'units', 'now', '--worker', 'me', '--lease', job.lease, '--lease-for', '1h'], { env });
    expect(json(beat).leaseUntil - Date.now()).toBeGreaterThan(3_500_000);
  });

  it('old forms still work, each with a one-line notice: --delay 60 (seconds), --lease-seconds 30', async () => {
    const env = { BUCKETQ_URL: broker.url };
    const before = Date.now();
    const pushed = await bucketq(['push', 'old', '1', '--id', 'o1', '--delay', '60'], { env });
    expect(pushed.stderr).toBe('bucketq push: note: --delay 60 is read as seconds, as before; write --delay 60s (a bare number will mean milliseconds, as on every other duration flag)\n');
    expect(json(pushed)).toEqual({ id: 'o1', created: true });
    expect(json(await bucketq(['get', 'old', 'o1'], { env })).runAt - before).toBeGreaterThanOrEqual(59_000);
    json(await bucketq(['push', 'old', '2', '--id', 'o2'], { env }));
    const claimed = await bucketq(['claim', 'old', '--worker', 'me', '--lease-seconds', '30'], { env });
    expect(claimed.stderr).toBe('bucketq claim: note: --lease-seconds is deprecated: use --lease-for 30s\n');
    const lease = json(claimed).jobs[0].leaseUntil - Date.now();
    expect(lease).toBeGreaterThan(20_000);
    expect(lease).toBeLessThanOrEqual(30_000);
  });

  it('bad durations: one line naming the forms, exit 2', async () => {
    const env = { BUCKETQ_URL: broker.url };
    const runs = await Promise.all([
      bucketq(['push', 'x', '1', '--delay', '10 minutes'], { env }),
      bucketq(['claim', 'x', '--lease-for', '2h'], { env }),
      bucketq(['claim', 'x', '--lease-for', '1m', '--lease-seconds', '60'], { env }),
      bucketq(['claim', 'x', '--wait', '1m'], { env }),
      bucketq(['broker', '--lease-ms', 'soon']),
    ]);
    expect(runs.map((r) => [r.code, r.stderr.trimEnd()])).toEqual([
      [2, 'bucketq push: --delay must be a duration such as 500ms, 30s, 2m or 1h (a bare number is seconds here, for now), got "10 minutes" (see bucketq push --help)'],
      [2, 'bucketq claim: --lease-for must be from 1s to 1h, got "2h" (see bucketq claim --help)'],
      [2, 'bucketq claim: --lease-seconds is the old name of --lease-for: give only --lease-for (see bucketq claim --help)'],
      [2, 'bucketq claim: --wait must be from 0s to 30s, got "1m" (see bucketq claim --help)'],
      [2, 'bucketq broker: --lease-ms must be a duration such as 500ms, 30s, 2m or 1h (a bare number is milliseconds), got "soon" (see bucketq broker --help)'],
    ]);
  });
});
