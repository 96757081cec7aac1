/**
 * client.events(): typed events from real in-process brokers; a dropped connection resumes with
 * Last-Event-ID and misses nothing; a broker that drains hands the stream over to the new leader
 * (with a `reset`, as the new broker numbers its own events); abort and close() end the iterator.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, watchEvents, type QueueEvent } from '../../src/client/index.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import { Seen } from '../seen.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(store = createMemoryStore(), extra: Parameters<typeof startBrokerServer>[0] = {}): Promise<BrokerServer> {
  const s = await startBrokerServer({ store, listen: '127.0.0.1:0', ...extra });
  cleanups.push(() => s.close());
  return s;
}

/** A TCP relay whose connections the test can cut. */
async function relay(target: string): Promise<{ url: string; cut(): void }> {
  const port = Number(new URL(target).port);
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const up = connect(port, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s)).on('error', () => {});
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cut: () => sockets.forEach((s) => s.destroy()) };
}

/** Resolves on the next stream opening; pass its `onOpen` to events(). */
function openings() {
  let resolve: () => void = () => {};
  let next = new Promise<void>((r) => (resolve = r));
  return {
    onOpen: () => {
      resolve();
      next = new Promise<void>((r) => (resolve = r));
    },
    next: () => next,
  };
}

/** Reads an iterator in the background; `next(match)` resolves when an event matches. */
function collect(it: AsyncGenerator<QueueEvent, void, undefined>) {
  const seen = new Seen<QueueEvent>();
  const events = seen.items;
  const done = (async () => {
    for await (const e of it) seen.add(e);
  })();
  return {
    events,
    done,
    next: (match: (e: QueueEvent) => boolean) => seen.next(match),
    jobs: () => events.flatMap((e) => ('job' in e ? [`${e.kind}:${e.job}`] : e.kind === 'reset' ? ['reset'] : [])),
  };
}

const pushedJob = (job: string) => (e: QueueEvent) => e.kind === 'pushed' && e.job === job;

describe('client.events()', () => {
  it('yields typed events of its topic, and resumes after a dropped connection with nothing missed', async () => {
    const s = await broker();
    const r = await relay(s.url);
    const direct = createClient({ url: s.url, topic: 't' });
    const q = createClient({ url: r.url, topic: 't' });
    cleanups.push(() => q.close(), () => direct.close());
    await direct.push('warm-up', { id: 'w' }); // the topic exists and is led
    const o = openings();
    const opened = o.next();
    const c = collect(q.events({ onOpen: o.onOpen }));
    await opened;
    await direct.push(0, { id: 'a' });
    const a = await c.next(pushedJob('a'));
    expect(a).toMatchObject({ kind: 'pushed', topic: 't', job: 'a', state: 'pending', seq: expect.any(Number), id: expect.stringMatching(/^[0-9a-f]+-\d+$/) });

    r.cut(); // the connection drops; the iterator reconnects with the last id
    await direct.push(1, { id: 'b' });
    await direct.push(2, { id: 'c' });
    await c.next(pushedJob('c'));
    expect(c.jobs()).toEqual(['pushed:a', 'pushed:b', 'pushed:c']);
    const ids = c.events.map((e) => Number(e.id.split('-')[1]));
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);

    await q.close(); // ends the iterator
    await c.done;
  });

  it('follows its topic to the new leader when the broker drains (the stream is closed), with a reset', async () => {
    const store = createMemoryStore();
    const a = await broker(store, { standbyCheckMs: 20, leaseMs: 3000 });
    const b = await broker(store, { standbyCheckMs: 20, leaseMs: 3000 });
    const q = createClient({ url: a.url, store, topic: 'f', retry: { baseMs: 10, maxMs: 50 } });
    cleanups.push(() => q.close());
    await q.push('x', { id: 'on-a' }); // a leads f
    const o = openings();
    const opened = o.next();
    const c = collect(q.events({ onOpen: o.onOpen }));
    await opened;
    await q.push('y', { id: 'on-a-2' });
    await c.next(pushedJob('on-a-2'));
    // A reader of b's own stream sees b take the topic over.
    const atB = openings();
    const bOpened = atB.next();
    const ac = new AbortController();
    const onB = collect(watchEvents({ url: b.url, signal: ac.signal, onOpen: atB.onOpen }));
    cleanups.push(() => ac.abort());
    await bOpened;
    await a.close(); // drain: the stream ends, the lease is released, b takes the topic
    const reset = await c.next((e) => e.kind === 'reset');
    expect(reset).toMatchObject({ kind: 'reset', reason: expect.stringMatching(/another broker/) });
    await q.push('z', { id: 'on-b' });
    await c.next(pushedJob('on-b'));
    expect(c.jobs()).toEqual(['pushed:on-a-2', 'reset', 'pushed:on-b']);
    expect((await q.stats()).broker?.url).toBe(b.url);
    expect(await onB.next((e) => e.kind === 'leader')).toMatchObject({ kind: 'leader', topic: 'f', leading: true, broker: b.broker.id, epoch: expect.any(Number) });
  });

  it('an AbortSignal ends the iterator cleanly; a wrong token fails it at once', async () => {
    const s = await broker(createMemoryStore(), { token: 'good' });
    const ac = new AbortController();
    const o = openings();
    const opened = o.next();
    const c = collect(watchEvents({ url: s.url, token: 'good', signal: ac.signal, onOpen: o.onOpen }));
    const q = createClient({ url: s.url, token: 'good', topic: 'z' });
    cleanups.push(() => q.close());
    await opened;
    await q.push(1, { id: 'z1' });
    await c.next(pushedJob('z1'));
    ac.abort();
    await c.done;

    const bad = watchEvents({ url: s.url, token: 'bad' });
    await expect(bad.next()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
