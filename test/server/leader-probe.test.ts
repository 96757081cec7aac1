/**
 * The leader probe (src/server/leader-probe.ts): the TCP probe against a real listening socket on
 * loopback, then closed; and the verdict rules, driven round by round (check()) with a scripted
 * probe and a fake time, so no test waits on the timer.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLeaderProbe, tcpProbe, type LeaderProbe, type ProbeResult, type ProbeTarget } from '../../src/server/leader-probe.js';

const probes: LeaderProbe[] = [];
afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.stop()));
});

function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

describe('tcpProbe', () => {
  it('says open while something listens, refused once it is closed, unknown for what it cannot tell', async () => {
    const { server, port } = await listening();
    expect(await tcpProbe(`http://127.0.0.1:${port}`, 2000)).toBe('open');
    expect(await tcpProbe(`https://127.0.0.1:${port}/`, 2000)).toBe('open');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await tcpProbe(`http://127.0.0.1:${port}`, 2000)).toBe('refused');
    expect(await tcpProbe('not a url', 2000)).toBe('unknown');
    const v6 = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => v6.listen(0, '::1', () => resolve()));
    const v6url = `http://[::1]:${(v6.address() as { port: number }).port}`;
    expect(await tcpProbe(v6url, 2000)).toBe('open');
    await new Promise<void>((resolve) => v6.close(() => resolve()));
    expect(await tcpProbe(v6url, 2000)).toBe('refused');
    expect(await tcpProbe('http://no-such-host.invalid:80', 2000)).toBe('unknown');
  });
});

describe('startLeaderProbe: the timer', () => {
  it('probes on its own, confirms a refusal sooner than the interval, survives an onGone that throws, and stops', async () => {
    let refuse = false;
    let rounds = 0;
    const errors: unknown[] = [];
    let gone!: (t: ProbeTarget) => void;
    const found = new Promise<ProbeTarget>((resolve) => (gone = resolve));
    const probe = startLeaderProbe({
      intervalMs: 10,
      confirmMs: 1,
      ownUrl: 'http://me:1',
      targets: () => [{ url: 'http://b:2', id: 'B' }],
      connectTo: async () => {
        rounds++;
        return refuse ? 'refused' : 'open';
      },
      onGone: (t) => {
        gone(t);
        throw new Error('a logger that throws');
      },
      onError: (err) => {
        errors.push(err);
        refuse = false; // the leader is back: probing must go on
      },
    });
    probes.push(probe);
    await vi.waitFor(() => expect(rounds).toBeGreaterThan(0), { timeout: 5_000, interval: 5 }); // seen open
    refuse = true;
    expect(await found).toEqual({ url: 'http://b:2', id: 'B' });
    expect(errors).toEqual([new Error('a logger that throws')]);
    const after = rounds;
    await vi.waitFor(() => expect(rounds).toBeGreaterThan(after + 2), { timeout: 5_000, interval: 5 });
    await probe.stop();
    const stoppedAt = rounds;
    await new Promise((resolve) => setImmediate(resolve));
    expect(rounds).toBe(stoppedAt);
  });
});

describe('startLeaderProbe: the verdict', () => {
  /** A probe over scripted results per URL, with a time the test moves. */
  function scripted(targets: ProbeTarget[], ownUrl = 'http://me:1') {
    const results = new Map<string, ProbeResult>();
    const probed: string[] = [];
    const gone: ProbeTarget[] = [];
    let t = 0;
    const probe = startLeaderProbe({
      intervalMs: 60_000,
      timers: false, // the tests call check()
      confirmMs: 100,
      ownUrl,
      targets: () => targets,
      onGone: (target) => gone.push(target),
      now: () => t,
      connectTo: async (url) => {
        probed.push(url);
        return results.get(url) ?? 'open';
      },
    });
    probes.push(probe);
    return { probe, results, probed, gone, advance: (ms: number) => (t += ms) };
  }

  it('a URL seen open, then refused twice at least confirmMs apart, is gone, once', async () => {
    const x = scripted([{ url: 'http://b:2', id: 'B' }]);
    await x.probe.check();
    x.results.set('http://b:2', 'refused');
    await x.probe.check();
    x.advance(99);
    await x.probe.check(); // a second refusal, but too soon after the first
    expect(x.gone).toEqual([]);
    x.advance(1);
    await x.probe.check();
    expect(x.gone).toEqual([{ url: 'http://b:2', id: 'B' }]);
    x.advance(1000);
    await x.probe.check(); // forgotten after the verdict: it has to be seen open again
    await x.probe.check();
    expect(x.gone).toHaveLength(1);
  });

  it('never says gone for a URL it never saw open (an address this broker cannot reach)', async () => {
    const x = scripted([{ url: 'http://b:2', id: 'B' }]);
    x.results.set('http://b:2', 'refused');
    for (let i = 0; i < 5; i++) {
      await x.probe.check();
      x.advance(1000);
    }
    expect(x.gone).toEqual([]);
  });

  it('a timeout or an unresolvable name between refusals starts the count again: a frozen or cut-off leader keeps its lease', async () => {
    const x = scripted([{ url: 'http://b:2', id: 'B' }]);
    await x.probe.check();
    for (const between of ['unknown', 'open'] as const) {
      x.results.set('http://b:2', 'refused');
      await x.probe.check();
      x.advance(1000);
      x.results.set('http://b:2', between);
      await x.probe.check();
      x.advance(1000);
      x.results.set('http://b:2', 'refused');
      await x.probe.check();
      expect(x.gone).toEqual([]);
      x.results.set('http://b:2', 'open');
      await x.probe.check();
    }
  });

  it('probes each URL once per round, never its own', async () => {
    const x = scripted(
      [
        { url: 'http://b:2', id: 'B' },
        { url: 'http://b:2', id: 'B' },
        { url: 'http://c:3', id: 'C' },
        { url: 'http://me:1', id: 'A' },
      ],
      'http://me:1',
    );
    await x.probe.check();
    expect(x.probed.sort()).toEqual(['http://b:2', 'http://c:3']);
  });
});
