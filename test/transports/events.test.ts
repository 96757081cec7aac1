/**
 * GET /v1/events in process: the feed and its streams on a fake socket (slow and vanished readers,
 * heartbeats, drain, resume across a recording gap), then a real server on a memory store whose
 * commit is held back, to show an event is sent only once its commit landed.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { FakeClock } from '../../src/clock.js';
import { drive } from '../embedded-helpers.js';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { createMemoryStore } from '../../src/storage/memory.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { EventStreams, parseEventsQuery } from '../../src/transports/http/events/event-streams.js';
import { watch, type Watcher } from './sse-reader.js';

/** A socket stand-in: takes `capacity` writes, then reports a full buffer until drained by hand. */
class FakeSink extends EventEmitter {
  chunks: string[] = [];
  ended = false;
  destroyed = false;
  writableFinished = false;
  constructor(public capacity = Infinity) {
    super();
  }
  write(chunk: string): boolean {
    if (this.ended || this.destroyed) throw new Error('write after end');
    this.chunks.push(chunk);
    this.emit('wrote', chunk);
    return this.chunks.length < this.capacity;
  }
  end(): void {
    this.ended = true;
    this.writableFinished = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  /** The SSE events written so far: [event name, data]. */
  events(): Array<[string, any]> {
    return this.chunks.join('').split('\n\n').flatMap((frame) => {
      const ev = /^event: (.+)$/m.exec(frame);
      const data = /^data: (.+)$/m.exec(frame);
      return ev && data ? [[ev[1]!, JSON.parse(data[1]!)] as [string, any]] : [];
    });
  }
  until(match: (chunk: string) => boolean): Promise<string> {
    const seen = this.chunks.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const on = (c: string) => {
        if (!match(c)) return;
        this.off('wrote', on);
        resolve(c);
      };
      this.on('wrote', on);
    });
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function embedded(): Broker {
  const broker = new Broker({ store: createMemoryStore() });
  cleanups.push(() => broker.stop());
  return broker;
}

const all = { topics: null, lastEventId: undefined };

describe('event streams on a fake socket', () => {
  it('derives pushed, claimed, acked, nacked, dead, cancelled, retried and commit events from landed batches', async () => {
    const broker = embedded();
    const streams = new EventStreams(broker);
    const sink = new FakeSink();
    void streams.stream(sink, all);
    await broker.configure('t', { maxAttempts: 2 });
    await broker.push('t', [{ id: 'a', payload: 1 }, { id: 'b', payload: 2, delayMs: 60_000 }]);
    const [a] = await broker.claim('t', { workerId: 'w', max: 1 });
    await broker.nack('t', { id: 'a', workerId: 'w', lease: a!.lease, error: 'boom', delayMs: 0 });
    const [a2] = await broker.claim('t', { workerId: 'w', max: 1 });
    await broker.nack('t', { id: 'a', workerId: 'w', lease: a2!.lease, error: 'boom again' });
    await broker.retry('t', 'a');
    await broker.cancel('t', 'b');
    const [a3] = await broker.claim('t', { workerId: 'w', max: 1 });
    await broker.ack('t', { id: 'a', workerId: 'w', lease: a3!.lease });
    // The same ack again changes nothing: no second event.
    await broker.ack('t', { id: 'a', workerId: 'w', lease: a3!.lease });
    const jobs = sink.events().filter(([k]) => k !== 'commit' && k !== 'leader').map(([k, d]) => `${k}:${d.job}`);
    expect(jobs).toEqual(['pushed:a', 'pushed:b', 'claimed:a', 'nacked:a', 'claimed:a', 'dead:a', 'retried:a', 'cancelled:b', 'claimed:a', 'acked:a']);
    const events = sink.events();
    expect(events.find(([k]) => k === 'pushed')![1]).toMatchObject({ topic: 't', job: 'a', state: 'pending' });
    expect(events.find(([k, d]) => k === 'pushed' && d.job === 'b')![1]).toMatchObject({ state: 'delayed', runAt: expect.any(Number) });
    expect(events.find(([k]) => k === 'dead')![1]).toMatchObject({ job: 'a', worker: 'w', error: 'boom again' });
    expect(events.find(([k]) => k === 'claimed')![1]).toMatchObject({ worker: 'w', attempt: 1, maxAttempts: 2 });
    expect(events.find(([k]) => k === 'leader')![1]).toMatchObject({ topic: 't', leading: true, broker: broker.id });
    const commit = events.find(([k]) => k === 'commit')![1];
    expect(commit).toMatchObject({ topic: 't', seq: expect.any(Number), requests: expect.any(Number), bytes: expect.any(Number), ms: expect.any(Number), conflicts: 0 });
    // Every job event names its commit, and commits come in order.
    const seqs = events.filter(([k]) => k === 'commit').map(([, d]) => d.seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    const ids = sink.chunks.join('').match(/^id: .+$/gm)!.map((l) => Number(l.split('-')[1]));
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i)); // one id per event, no holes
  });

  it('a release is a released event per job handed back; a lease no longer yours makes none', async () => {
    const broker = embedded();
    const sink = new FakeSink();
    void new EventStreams(broker).stream(sink, all);
    await broker.push('t', [{ id: 'a', payload: 1 }, { id: 'b', payload: 2 }]);
    const jobs = await broker.claim('t', { workerId: 'w', max: 2 });
    expect(await broker.release('t', jobs.map((j) => ({ id: j.id, workerId: 'w', lease: j.lease })))).toEqual({ released: 2 });
    expect(await broker.release('t', [{ id: 'a', workerId: 'w', lease: jobs[0]!.lease }])).toEqual({ released: 0 });
    const seen = sink.events().filter(([k]) => k !== 'commit' && k !== 'leader').map(([k, d]) => `${k}:${d.job}`);
    expect(seen).toEqual(['pushed:a', 'pushed:b', 'claimed:a', 'claimed:b', 'released:a', 'released:b']);
    expect(sink.events().find(([k]) => k === 'released')![1]).toMatchObject({ topic: 't', job: 'a', worker: 'w', seq: expect.any(Number) });
  });

  it('a lease that runs out is an event too: nacked (back to pending), then dead once attempts are spent', async () => {
    const clock = new FakeClock();
    const broker = new Broker({ store: createMemoryStore(), clock });
    cleanups.push(() => drive(clock, broker.stop()));
    const sink = new FakeSink();
    void new EventStreams(broker).stream(sink, all);
    await broker.configure('t', { maxAttempts: 2 });
    await broker.push('t', [{ id: 'x', payload: 1 }]);
    await broker.claim('t', { workerId: 'slow', max: 1, leaseMs: 100 });
    await clock.advance(101);
    await broker.claim('t', { workerId: 'slow', max: 1, leaseMs: 100 }); // the sweep in this commit expires the first lease
    await clock.advance(101);
    await drive(clock, broker.push('t', [{ id: 'y', payload: 2 }])); // a commit whose sweep expires the second
    const jobs = sink.events().filter(([k]) => k !== 'commit' && k !== 'leader').map(([k, d]) => `${k}:${d.job}`);
    expect(jobs).toEqual(['pushed:x', 'claimed:x', 'nacked:x', 'claimed:x', 'dead:x', 'pushed:y']);
    expect(sink.events().find(([k]) => k === 'dead')![1]).toMatchObject({ job: 'x', worker: 'slow', error: 'lease expired' });
    expect(sink.events().find(([k]) => k === 'nacked')![1]).toMatchObject({ job: 'x', worker: 'slow', error: 'lease expired', runAt: expect.any(Number) });
  });

  it('a reader whose socket stops taking writes holds one frame, and is disconnected once the window passes it', async () => {
    const broker = embedded();
    const streams = new EventStreams(broker, { window: 50 });
    const slow = new FakeSink(3); // the preamble, then two events, then "buffer full" for ever
    const fast = new FakeSink();
    const slowDone = streams.stream(slow, all);
    void streams.stream(fast, all);
    for (let i = 0; i < 20; i++) await broker.push('t', [{ id: `j${i}`, payload: i }]);
    expect(slow.destroyed).toBe(false); // 20 pushes are 40+ events, not yet a window of 50 past it
    expect(slow.chunks).toHaveLength(3); // nothing written after the socket said stop: no queue grows
    for (let i = 20; i < 60; i++) await broker.push('t', [{ id: `j${i}`, payload: i }]);
    await slowDone; // disconnected (closed), not merely waiting
    expect(slow.destroyed).toBe(true);
    expect(slow.chunks).toHaveLength(3);
    expect(fast.events().filter(([k]) => k === 'pushed')).toHaveLength(60);
    expect(streams.count).toBe(1);
  });

  it('a paused reader resumes on drain and gets every event in order', async () => {
    const broker = embedded();
    const streams = new EventStreams(broker);
    const sink = new FakeSink(2);
    void streams.stream(sink, all);
    for (let i = 0; i < 5; i++) await broker.push('t', [{ id: `j${i}`, payload: i }]);
    expect(sink.events().length).toBeLessThan(2);
    sink.capacity = Infinity;
    sink.emit('drain');
    expect(sink.events().filter(([k]) => k === 'pushed').map(([, d]) => d.job)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
  });

  it('sends `: ping` heartbeats every heartbeatMs, none to a paused reader, none after the close', async () => {
    const broker = embedded();
    const clock = new FakeClock();
    const streams = new EventStreams(broker, { heartbeatMs: 1000, clock });
    const sink = new FakeSink();
    const done = streams.stream(sink, all);
    const pings = () => sink.chunks.filter((c) => c === ': ping\n\n').length;
    await clock.advance(999);
    expect(pings()).toBe(0);
    await clock.advance(1);
    expect(pings()).toBe(1);
    await clock.advance(2000);
    expect(pings()).toBe(3);
    sink.capacity = sink.chunks.length; // the next write fills it: the reader is paused
    await clock.advance(1000);
    expect(pings()).toBe(4); // the write that paused it
    await clock.advance(3000);
    expect(pings()).toBe(4);
    sink.capacity = Infinity;
    sink.emit('drain');
    await clock.advance(1000);
    expect(pings()).toBe(5);
    sink.destroy();
    await done;
    await clock.advance(5000);
    expect(pings()).toBe(5);
  });

  it('close() (drain) ends every stream and refuses new ones', async () => {
    const broker = embedded();
    const streams = new EventStreams(broker);
    const sink = new FakeSink();
    const done = streams.stream(sink, all);
    streams.close();
    await done;
    expect(sink.ended).toBe(true);
    await broker.push('t', [{ payload: 1 }]); // nothing is written after the end (FakeSink would throw)
  });

  it('resume: the missed events exactly; after a recording gap, from another boot or too old: a reset', async () => {
    const broker = embedded();
    const streams = new EventStreams(broker, { window: 10, lingerMs: 60_000 });
    const first = new FakeSink();
    void streams.stream(first, { topics: new Set(['t']), lastEventId: undefined });
    await broker.push('t', [{ id: 'a', payload: 1 }]);
    const lastSeen = /^id: (.+)$/m.exec(first.chunks.at(-1)!)![1]!;
    first.destroy(); // the reader goes away; the feed keeps recording (linger)
    await broker.push('t', [{ id: 'b', payload: 1 }]);
    await broker.push('u', [{ id: 'other', payload: 1 }]); // another topic: filtered out on resume
    const again = new FakeSink();
    void streams.stream(again, { topics: new Set(['t']), lastEventId: lastSeen });
    expect(again.events().map(([k, d]) => `${k}:${d.job ?? d.seq}`)).toEqual([expect.stringMatching(/^commit:/), 'pushed:b']);
    again.destroy();

    for (const [lastEventId, reason] of [
      ['00000000-1', /another broker process/],
      ['garbage', /not an event id/],
      [`${streams.feed.boot}-999999`, /newer/],
    ] as const) {
      const s = new FakeSink();
      void streams.stream(s, { topics: null, lastEventId });
      expect(s.events()[0]).toEqual(['reset', expect.objectContaining({ kind: 'reset', lastEventId, reason: expect.stringMatching(reason) })]);
      s.destroy();
    }
    // Past the window of 10:
    for (let i = 0; i < 10; i++) await broker.push('t', [{ payload: i }]);
    const old = new FakeSink();
    void streams.stream(old, { topics: null, lastEventId: lastSeen });
    expect(old.events()[0]![0]).toBe('reset');
    old.destroy();

    // The feed stops recording when nobody watches (lingerMs over): resuming across that gap is a reset, never a silent hole.
    streams.feed.close();
    const last = `${streams.feed.boot}-${streams.feed.last}`;
    await broker.push('t', [{ id: 'unseen', payload: 1 }]); // not recorded by anyone
    const afterGap = new FakeSink();
    void streams.stream(afterGap, { topics: null, lastEventId: last });
    expect(afterGap.events()[0]![0]).toBe('reset');
    afterGap.destroy();
  });

  it('checks its query', () => {
    expect(parseEventsQuery('/v1/events?topics=a,b&topics=c', undefined)).toEqual({ topics: new Set(['a', 'b', 'c']), lastEventId: undefined });
    expect(parseEventsQuery('/v1/events?lastEventId=x-1', 'y-2').lastEventId).toBe('y-2');
    expect(() => parseEventsQuery('/v1/events?topic=a', undefined)).toThrow(/unknown query parameter/);
    expect(() => parseEventsQuery('/v1/events?topics=a%20b', undefined)).toThrow();
  });

  it('nobody watching: the broker emits no batch events at all', async () => {
    const broker = embedded();
    expect(broker.events.listenerCount('batch')).toBe(0);
    const streams = new EventStreams(broker, { lingerMs: 0 });
    const sink = new FakeSink();
    const done = streams.stream(sink, all);
    expect(broker.events.listenerCount('batch')).toBe(1);
    sink.destroy();
    await done;
    streams.feed.close();
    expect(broker.events.listenerCount('batch')).toBe(0);
  });
});

/** A memory store whose queue.json writes wait for `release()` while held. */
function heldStore(): { store: StorageDriver; hold(): void; release(): void; writing: () => Promise<void> } {
  const inner = createMemoryStore();
  let gate: Promise<void> | null = null;
  let open: () => void = () => {};
  let announce: (() => void) | null = null;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return async (key: string, body: Uint8Array, cond: never) => {
          if (gate && key.endsWith('queue.json')) {
            announce?.();
            await gate;
          }
          return target.write(key, body, cond);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    store,
    hold: () => (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => {
      gate = null;
      open();
    },
    writing: () => new Promise<void>((resolve) => (announce = resolve)),
  };
}

describe('GET /v1/events on a server', () => {
  let server: BrokerServer;
  let w: Watcher | undefined;
  afterEach(async () => {
    w?.close();
    await server?.close();
  });

  it('sends an event only after its commit landed', async () => {
    const held = heldStore();
    server = await startBrokerServer({ store: held.store, listen: '127.0.0.1:0' });
    await fetch(`${server.url}/v1/topics/t/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"first","payload":1}' });
    w = watch(server.url);
    await w.opened;
    held.hold();
    const writing = held.writing();
    const push = fetch(`${server.url}/v1/topics/t/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"held","payload":1}' });
    await writing; // the commit is being written, not landed
    // A round trip on the same stream's server: anything already emitted would have been sent by now.
    await fetch(`${server.url}/healthz`);
    expect(w.events.find((e) => e.data.job === 'held')).toBeUndefined();
    const releasedAt = Date.now();
    held.release();
    const ev = await w.next((e) => e.kind === 'pushed' && e.data.job === 'held');
    expect((await push).status).toBe(201);
    expect(ev.at).toBeGreaterThanOrEqual(releasedAt);
  });

  it('needs the token: 401 JSON without it or with a wrong one, no CORS headers', async () => {
    server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', token: 'sekret' });
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Array<Record<string, string>>) {
      const res = await fetch(`${server.url}/v1/events`, { headers: { ...headers, origin: 'https://evil.example' } });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(((await res.json()) as any).error.code).toBe('UNAUTHENTICATED');
    }
    const ok = await fetch(`${server.url}/v1/events?topics=t`, { headers: { authorization: 'Bearer sekret' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(ok.headers.get('access-control-allow-origin')).toBeNull();
    await ok.body?.cancel();
    const bad = await fetch(`${server.url}/v1/events?topics=no%20spaces`, { headers: { authorization: 'Bearer sekret' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('INVALID_ARGUMENT');
    expect((await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { authorization: 'Bearer sekret' } })).status).toBe(405);
  });

  it('drain ends the stream cleanly and close() does not wait for readers', async () => {
    server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0' });
    const res = await fetch(`${server.url}/v1/events`);
    const reader = res.body!.getReader();
    const closing = server.close();
    let text = '';
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    // The stream opened (the reader saw the greeting) and then ended cleanly: read() said done, it
    // did not throw (a destroyed socket makes it reject with a network error).
    expect(text).toContain(': connected');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await expect(closing).resolves.toBeUndefined();
  });
});

describe('a reader that stops reading, on a real socket', () => {
  it('is disconnected once the window passes it; the server does not buffer for it', async () => {
    const { createServer } = await import('node:http');
    const { connect } = await import('node:net');
    const { createHttpHandler } = await import('../../src/transports/http/index.js');
    const broker = embedded();
    const handler = createHttpHandler(broker, { events: { window: 1000 } });
    const http = createServer(handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const port = (http.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    let received = 0;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`GET /v1/events HTTP/1.1\r\nhost: x\r\n\r\n`);
    // Read until the stream is open, then never again: the reader has vanished without closing.
    await new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        received += d.length;
        if (d.toString().includes(': connected')) {
          socket.pause();
          resolve();
        }
      }),
    );
    expect(handler.inFlight).toBe(1);
    // Each cycle is 3000 job events, 1000 of them dead with a 1 KiB error (~1.5 MB in all); a
    // few dozen exceed what the kernel's socket buffers hold (tens of MB on loopback): the stream
    // must pause, and then be dropped once the ring has passed it.
    await broker.configure('t', { maxAttempts: 1 });
    const error = 'x'.repeat(1024);
    let cycles = 0;
    for (; handler.inFlight > 0 && cycles < 40; cycles++) {
      await broker.push('t', Array.from({ length: 1000 }, (_, i) => ({ id: `b${cycles}-${i}`, payload: null })));
      const out = await broker.claim('t', { workerId: 'w', max: 1000 });
      await Promise.all(out.map((j) => broker.nack('t', { id: j.id, workerId: 'w', lease: j.lease, error })));
      // A memory store commits in microtasks alone: let the event loop do its socket I/O, as a real store's would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await handler.idle(); // the stream is gone: disconnected by the server, not by the reader
    expect(cycles).toBeLessThan(40);
    socket.resume();
    await closed;
    // What reached the reader is what the sockets could hold, not everything it missed.
    expect(received).toBeLessThan(cycles * 1000 * 1024);
  }, 60_000);
});
