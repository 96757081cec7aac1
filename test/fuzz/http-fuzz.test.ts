/**
 * HTTP fuzzing of an in-process broker server (memory store, a token, small limits), on raw
 * sockets: thousands of requests built from the route table with random topics, ids, headers and
 * JSON bodies, sent with Content-Length or chunked, sometimes pipelined, then mutated byte by byte
 * (flips, inserts, deletions, truncation, repetition), plus plain random bytes. A control client
 * pushes jobs in between.
 *
 * Asserted: no answer is a 5xx (every case here is a client mistake or a valid call; none
 * justifies a server error), the server reports no bug through onError, it still answers a valid
 * request at the end, the heap after GC grew by a bounded amount, every control job is still there
 * and pending, every topic's queue.json holds a valid state (assertInvariants), and close() does
 * not hang on a request left in flight.
 *
 * FUZZ_SEED=N replays a run; FUZZ_RUNS=N changes its length; FUZZ_LEAKS=1 checks after every case
 * that no request stays in flight, to find the case that leaks one.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKey } from '../../src/core/keys.js';
import { ROUTES } from '../../src/transports/http/index.js';
import { exchange, mutate, mutationArb } from './raw.js';
import { controlJobs, expectCloseWithin, expectValidStates, fuzzCases, startFuzzTarget, type FuzzTarget } from './target.js';

const TOKEN = 'fuzz-token-h77';
const CONTROL = 'control-topic-q9';
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

let target: FuzzTarget;
let port: number;

beforeAll(async () => {
  target = await startFuzzTarget({
    token: TOKEN,
    maxBodyBytes: 32 * 1024,
    limits: { maxWaitMs: 50, maxBatch: 50, maxPayloadBytes: 4096 },
  });
  port = Number(new URL(target.server.url).port);
});

afterAll(async () => {
  await target?.server.close(); // idempotent: the test closes it itself, this is for a test that failed early
});

// ---- valid-ish requests ----------------------------------------------------------------------

const topicArb = fc.oneof(fc.constantFrom('a', 'b', 'jobs', 'x.y_z-1', 'bad topic', '..', '%2F', 'é', 't'.repeat(300)), fc.string({ maxLength: 12 }));
const idArb = fc.oneof(fc.constantFrom('j1', 'j2', '', '%00', 'a/b'), fc.string({ maxLength: 10 }));
const jsonValue = fc.jsonValue({ maxDepth: 3 });
const small = fc.oneof(fc.integer({ min: -2, max: 100 }), fc.constantFrom(1e300, -0, 0.5, Number.MAX_SAFE_INTEGER), fc.string({ maxLength: 3 }), fc.constant(null));

const jobArb = fc.record(
  { id: idArb, payload: jsonValue, priority: small, delayMs: small, maxAttempts: small, backoff: fc.oneof(jsonValue, fc.record({ kind: fc.constantFrom('fixed', 'exponential', 'x'), baseMs: small })) },
  { requiredKeys: [] },
);
const bodyArb: fc.Arbitrary<unknown> = fc.oneof(
  jobArb,
  fc.record({ jobs: fc.array(jobArb, { maxLength: 4 }) }),
  fc.record({ workerId: fc.oneof(idArb, small), max: small, waitMs: fc.integer({ min: -1, max: 60 }), leaseMs: small }, { requiredKeys: [] }),
  fc.record({ workerId: idArb, lease: idArb, error: fc.string({ maxLength: 20 }), delayMs: small, result: jsonValue }, { requiredKeys: [] }),
  fc.record({ acks: fc.array(fc.record({ id: idArb, lease: idArb }), { maxLength: 3 }), nacks: jsonValue }, { requiredKeys: [] }),
  fc.record({ paused: fc.oneof(fc.boolean(), small) }),
  fc.record({ ids: fc.array(idArb, { maxLength: 3 }) }),
  jsonValue,
);

interface Req {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: string | null;
  chunks: number[] | null;
}

const queryArb = fc.oneof(fc.constant(''), fc.constantFrom('?state=dead', '?state=pending&limit=2', '?limit=999999', '?after=zz&q=%ff', '?topics=a,b', '?&&=', '?limit=-1'));

const requestArb: fc.Arbitrary<Req> = fc
  .record({
    route: fc.constantFrom(...ROUTES),
    topic: topicArb,
    id: idArb,
    raw: fc.boolean(),
    query: queryArb,
    method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'get', 'XYZ'), { freq: 5 }),
    auth: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'none', 'wrong', 'basic', 'lower'),
    type: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/vnd.x+json', ''),
    body: fc.option(bodyArb, { freq: 8 }),
    rawBody: fc.option(fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', '{"payload":', '[1,2', '\u0000', '{"payload":1}{"payload":2}', 'null', '"x"')), { freq: 6 }),
    chunks: fc.option(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }), { freq: 3 }),
    extra: fc.array(
      fc.oneof(
        fc.constantFrom<[string, string]>(['origin', 'https://evil.example'], ['expect', '100-continue'], ['connection', 'keep-alive'], ['content-length', '5'], ['transfer-encoding', 'chunked'], ['last-event-id', 'zz-9'], ['accept', 'text/event-stream'], ['content-encoding', 'gzip'], ['x-forwarded-for', '1.2.3.4']),
        fc.tuple(fc.stringMatching(/^[a-z-]{1,12}$/), fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, ''))),
      ),
      { maxLength: 3 },
    ),
  })
  .map((r) => {
    const enc = (s: string) => (r.raw ? s : encodeURIComponent(s));
    const path = '/' + r.route.path.map((s) => (s === ':topic' ? enc(r.topic) : s === ':id' ? enc(r.id) : s)).join('/') + r.query;
    const headers: Array<[string, string]> = [['host', '127.0.0.1']];
    if (r.auth === 'ok') headers.push(['authorization', `Bearer ${TOKEN}`]);
    if (r.auth === 'wrong') headers.push(['authorization', 'Bearer nope']);
    if (r.auth === 'basic') headers.push(['authorization', `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`]);
    if (r.auth === 'lower') headers.push(['authorization', `bearer ${TOKEN}`]);
    const body = r.rawBody ?? (r.body === null ? null : JSON.stringify(r.body));
    if (body !== null && r.type !== '') headers.push(['content-type', r.type]);
    headers.push(...r.extra);
    return { method: r.method ?? r.route.method, path, headers, body, chunks: body === null ? null : r.chunks };
  });

/** Requests a well-behaved client would send (pushes, claims, reads), so state changes are fuzzed too, not only refusals. */
const wellFormedArb: fc.Arbitrary<Req> = fc
  .record({
    topic: fc.constantFrom('a', 'b'),
    kind: fc.constantFrom('push', 'push', 'claim', 'stats', 'list', 'get'),
    payload: jsonValue,
    id: fc.constantFrom('j1', 'j2', 'j3'),
    max: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ topic, kind, payload, id, max }) => {
    const headers: Array<[string, string]> = [['host', '127.0.0.1'], ['authorization', `Bearer ${TOKEN}`]];
    const json = (b: unknown) => {
      headers.push(['content-type', 'application/json']);
      return JSON.stringify(b);
    };
    if (kind === 'push') return { method: 'POST', path: `/v1/topics/${topic}/jobs`, headers, body: json({ payload, ...(max === 1 ? { id } : {}) }), chunks: null };
    if (kind === 'claim') return { method: 'POST', path: `/v1/topics/${topic}/claim`, headers, body: json({ workerId: 'fuzz', max, leaseMs: 60_000 }), chunks: null };
    if (kind === 'get') return { method: 'GET', path: `/v1/topics/${topic}/jobs/${id}`, headers, body: null, chunks: null };
    return { method: 'GET', path: kind === 'stats' ? `/v1/topics/${topic}` : '/v1/topics', headers, body: null, chunks: null };
  });

function serialise(r: Req): Buffer {
  const head = [`${r.method} ${r.path} HTTP/1.1`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  const body = r.body === null ? Buffer.alloc(0) : Buffer.from(r.body, 'utf8');
  if (r.chunks) {
    head.push('transfer-encoding: chunked');
    const parts: Buffer[] = [];
    let at = 0;
    for (const n of [...r.chunks, Infinity]) {
      if (at >= body.length) break;
      const piece = body.subarray(at, at + n);
      at += piece.length;
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n'), ...parts]);
  }
  if (r.body !== null) head.push(`content-length: ${body.length}`);
  return Buffer.concat([Buffer.from(head.join('\r\n') + '\r\n\r\n'), body]);
}

/** A case: 1-3 pipelined requests, then 0-4 mutations; or random bytes. */
const caseArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: fc.array(wellFormedArb, { minLength: 1, maxLength: 3 }).map((reqs) => Buffer.concat(reqs.map(serialise))) },
  { weight: 6, arbitrary: fc.tuple(fc.array(fc.oneof({ weight: 4, arbitrary: requestArb }, { weight: 1, arbitrary: wellFormedArb }), { minLength: 1, maxLength: 3 }), fc.array(mutationArb, { maxLength: 4 })).map(([reqs, ms]) => mutate(Buffer.concat(reqs.map(serialise)), ms)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('GET ', 'POST ', '/v1/topics/a', '/jobs', ' HTTP/1.1', ' HTTP/1.0', ' HTTP/2', '\r\n', 'content-length: ', '99999999999', '-1', 'transfer-encoding: chunked', 'ffffffff', `authorization: Bearer ${TOKEN}`, 'content-type: application/json', '{"payload":1}', ': ', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), { maxLength: 20 }).map((a) => Buffer.from(a.join(''))) },
);

/** Status codes of the HTTP/1 responses in `out`, in order (a streamed or unparseable rest is ignored). */
function statuses(out: Buffer): number[] {
  const found: number[] = [];
  let at = 0;
  while (at < out.length) {
    const text = out.subarray(at, at + 16_384).toString('latin1');
    const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
    if (!m) break;
    found.push(Number(m[1]));
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) break;
    const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
    if (!len) break; // a stream (events) or no body: nothing after it to parse
    at += end + 4 + Number(len[1]);
  }
  return found;
}

describe('HTTP fuzzing', () => {
  it(`${RUNS} random and mutated requests: no 5xx, no crash, bounded heap, nothing lost`, async () => {
    const { server, bugs, store } = target;
    const control = controlJobs(server, CONTROL, TOKEN);
    let answered = 0;
    const seen = new Map<number, number>();
    try {
      const run = await fuzzCases(caseArb, RUNS, control, async (bytes) => {
        const out = await exchange(port, bytes);
        if (process.env.FUZZ_LEAKS) {
          for (let i = 0; i < 40 && server.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 5));
          if (server.inFlight > 0) throw new Error(`LEAK ${server.inFlight}: ${JSON.stringify(bytes.toString('latin1'))}`);
        }
        const codes = statuses(out);
        if (codes.length > 0) answered++;
        for (const c of codes) seen.set(c, (seen.get(c) ?? 0) + 1);
        const fivexx = codes.filter((c) => c >= 500);
        if (fivexx.length > 0) throw new Error(`answered ${fivexx.join(', ')}: ${out.toString('utf8').slice(0, 400)}`);
      });
      console.log(`http fuzz: ${run.cases} cases, ${answered} answered; statuses ${JSON.stringify(Object.fromEntries([...seen].sort((a, b) => a[0] - b[0])))}; heap ${run.heap}`);
      expect(bugs).toEqual([]);
      expect(answered).toBeGreaterThan(RUNS / 2); // the cases mostly reached the router, not only the parser
      expect(run.heapGrowth).toBeLessThan(64 * 2 ** 20);

      // Still serving; every control job is there, pending, untouched.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await control.checkUntouched();
    } finally {
      await control.close();
    }
    // Nothing is left in flight: close() waits for every request to have its answer.
    await expectCloseWithin(server);
    // Every topic the fuzzer created holds a valid state.
    expect(await expectValidStates(store)).toContain(queueKey(CONTROL));
  }, 120_000);
});
