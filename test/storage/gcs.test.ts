/**
 * The GCS driver. No local server honours GCS preconditions (the Firebase Storage emulator and
 * mock-gcs ignore ifGenerationMatch), so:
 * - with BUCKETQ_TEST_GCS_URL=gs://BUCKET/PREFIX (and ADC credentials) the conformance suite runs
 *   against real GCS;
 * - always, "wire checks" run the driver against an in-process HTTP endpoint written here. That
 *   endpoint is NOT a GCS server and proves nothing about GCS itself: it records what the SDK
 *   sends and answers as the JSON API documents, to check that every write carries
 *   ifGenerationMatch (0 for create), that generations come from the responses that carry the
 *   data, and how 412, 5xx, 429, dropped connections and timeouts are mapped.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGcsStore, gcsOptionsFromUrl } from '../../src/storage/gcs.js';
import { openStore } from '../../src/storage/open.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf } from '../codes.js';
import { describeDriver } from './driver-suite.js';

const REAL_URL = process.env.BUCKETQ_TEST_GCS_URL;

if (REAL_URL) {
  describeDriver('gcs (real GCS from BUCKETQ_TEST_GCS_URL)', async () => {
    const base = REAL_URL.replace(/\/+$/, '');
    // minWriteInterval=0: the suite's own pace is slow enough, and the commit loop is not involved.
    return { store: await openStore(`${base}/run-${randomBytes(6).toString('hex')}?minWriteInterval=0`), cleanup: async () => {} };
  }, { racers: 5, rounds: 5 });
} else {
  describe('StorageDriver conformance: gcs', () => {
    it.skip('needs a real bucket: set BUCKETQ_TEST_GCS_URL=gs://BUCKET/PREFIX (no local server honours ifGenerationMatch)', () => {});
  });
}

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
  /** The Range header, if any. */
  range?: string;
}

type Fate = 'pass' | 'drop-after' | 'hang' | number;

/** The in-process endpoint: objects by name, with generations, and a per-request fate. */
interface Endpoint {
  url: string;
  requests: Recorded[];
  objects: Map<string, { body: Buffer; generation: string }>;
  /** Generations sent in responses, by request index. */
  answered: Map<number, string>;
  fate: (r: Recorded) => Fate;
  /** Answer ranged reads with the whole object (200), as a server that ignores Range would. */
  ignoreRange: boolean;
  close(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  // Generations look like GCS's (microsecond timestamps) and never repeat.
  let nextGeneration = 1_700_000_000_000_000 + Math.floor(Math.random() * 1_000_000);
  const ep: Endpoint = { url: '', requests: [], objects: new Map(), answered: new Map(), fate: () => 'pass', ignoreRange: false, close: async () => {} };
  const json = (res: http.ServerResponse, status: number, value: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  const error = (res: http.ServerResponse, status: number, message: string): void => json(res, status, { error: { code: status, message, errors: [{ message, reason: message }] } });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const raw = Buffer.concat(chunks);
      const r: Recorded = { method: req.method!, path: url.pathname, query: url.searchParams, body: raw.toString('latin1'), ...(req.headers.range ? { range: req.headers.range } : {}) };
      const index = ep.requests.push(r) - 1;
      const fate = ep.fate(r);
      if (fate === 'hang') return;
      if (typeof fate === 'number') return error(res, fate, 'injected');
      const answer = (fn: () => void): void => (fate === 'drop-after' ? void req.socket.destroy() : fn());

      const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
      const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
      if (req.method === 'POST' && upload) {
        const name = url.searchParams.get('name')!;
        const boundary = /boundary=([^;]+)/.exec(req.headers['content-type'] ?? '')![1]!;
        // multipart/related: part 1 is the JSON metadata, part 2 the media.
        const media = r.body.split(`--${boundary}`)[2]!;
        const body = Buffer.from(media.slice(media.indexOf('\r\n\r\n') + 4, -2), 'latin1');
        const current = ep.objects.get(name);
        const cond = url.searchParams.get('ifGenerationMatch');
        if (cond !== null && (cond === '0' ? current !== undefined : current?.generation !== cond)) return error(res, 412, 'conditionNotMet');
        const generation = String(nextGeneration++);
        ep.objects.set(name, { body, generation });
        ep.answered.set(index, generation);
        return answer(() => json(res, 200, { kind: 'storage#object', name, bucket: upload[1], generation, metageneration: '1', size: String(body.length) }));
      }
      if (object) {
        const name = decodeURIComponent(object[2]!);
        const current = ep.objects.get(name);
        if (req.method === 'DELETE') {
          if (!current) return error(res, 404, 'notFound');
          ep.objects.delete(name);
          return answer(() => void res.writeHead(204).end());
        }
        if (!current) return error(res, 404, 'notFound');
        if (url.searchParams.get('alt') === 'media') {
          ep.answered.set(index, current.generation);
          const range = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
          if (range && !ep.ignoreRange) {
            // As GCS does: 416 when the range starts at or past the end, else 206 clamped to the end.
            const size = current.body.length;
            const first = Number(range[1]);
            const last = Math.min(Number(range[2]), size - 1);
            if (first >= size) return answer(() => void res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 416, message: 'The requested range cannot be satisfied.' } })));
            return answer(() => void res.writeHead(206, { 'x-goog-generation': current.generation, 'content-range': `bytes ${first}-${last}/${size}`, 'content-type': 'application/octet-stream' }).end(current.body.subarray(first, last + 1)));
          }
          return answer(() => void res.writeHead(200, { 'x-goog-generation': current.generation, 'x-goog-stored-content-encoding': 'identity', 'content-type': 'application/octet-stream' }).end(current.body));
        }
        // A metadata call. The driver must never need one; answer with a generation that is wrong
        // on purpose, so a driver that used it would also fail the etag checks.
        return json(res, 200, { name, generation: String(Number(current.generation) + 1) });
      }
      if (req.method === 'GET' && /^\/storage\/v1\/b\/[^/]+\/o$/.test(url.pathname)) {
        const prefix = url.searchParams.get('prefix') ?? '';
        const max = Number(url.searchParams.get('maxResults') ?? 1000);
        const names = [...ep.objects.keys()].filter((n) => n.startsWith(prefix)).sort();
        const after = url.searchParams.get('pageToken');
        const from = after ? names.findIndex((n) => n > after) : 0;
        const page = from < 0 ? [] : names.slice(from, from + max);
        const more = from >= 0 && from + max < names.length;
        return answer(() => json(res, 200, { kind: 'storage#objects', items: page.map((name) => ({ name })), ...(more ? { nextPageToken: page.at(-1) } : {}) }));
      }
      error(res, 400, `unexpected request ${req.method} ${url.pathname}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ep.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ep.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return ep;
}

describe('gcs driver wire checks (in-process HTTP endpoint, not a GCS server)', () => {
  let ep: Endpoint;
  let store: StorageDriver;
  beforeAll(async () => {
    console.log('gcs: these are wire checks against an in-process HTTP endpoint, NOT a GCS server test; set BUCKETQ_TEST_GCS_URL to run the conformance suite on real GCS');
    ep = await startEndpoint();
  });
  afterAll(() => ep.close());
  beforeEach(async () => {
    ep.requests.length = 0;
    ep.answered.clear();
    ep.fate = () => 'pass';
    ep.ignoreRange = false;
    store = await createGcsStore({ bucket: 'wire-bucket', prefix: `p${randomBytes(4).toString('hex')}`, apiEndpoint: ep.url, requestTimeoutMs: 300, retry: { attempts: 3, baseMs: 1, maxMs: 5 } });
  });
  const uploads = (): Recorded[] => ep.requests.filter((r) => r.method === 'POST');

  it('sends ifGenerationMatch on every conditional write (0 for create) as a simple upload', async () => {
    const created = await store.write('t/queue.json', '{"v":1}', { ifNoneMatch: '*' });
    const replaced = await store.write('t/queue.json', '{"v":2}', { ifMatch: created.etag });
    await store.write('archive/x.json', 'plain'); // unconditional: no precondition
    const [create, replace, plain] = uploads();
    expect(create!.query.get('ifGenerationMatch')).toBe('0');
    expect(replace!.query.get('ifGenerationMatch')).toBe(created.etag);
    expect(plain!.query.has('ifGenerationMatch')).toBe(false);
    for (const u of uploads()) expect(u.query.get('uploadType')).toBe('multipart'); // not resumable
    expect(replaced.etag).not.toBe(created.etag);
    expect(store.minWriteIntervalMs).toBe(1000);
  });

  it("returns the generation from the write's own response, with no other request", async () => {
    const { etag } = await store.write('k', 'v1', { ifNoneMatch: '*' });
    expect(ep.requests).toHaveLength(1);
    expect(etag).toBe(ep.answered.get(0));
  });

  it('takes the generation of a read from the response that carries the bytes, with no metadata call', async () => {
    await store.write('k', 'v1');
    ep.requests.length = 0;
    ep.answered.clear();
    const got = await store.read('k');
    expect(ep.requests.map((r) => `${r.method} ${r.query.get('alt')}`)).toEqual(['GET media']);
    expect(got?.etag).toBe(ep.answered.get(0));
    expect(Buffer.from(got!.body).toString()).toBe('v1');
    expect(await store.read('missing')).toBeNull();
  });

  it('reads a range with one Range request (end inclusive on the wire): 416 is no bytes, 404 null, 5xx retried', async () => {
    const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    await store.write('segments/t/x.seg', bytes);
    ep.requests.length = 0;
    expect(Array.from((await store.readRange!('segments/t/x.seg', 10, 14))!)).toEqual([10, 11, 12, 13]);
    expect(ep.requests.map((r) => `${r.method} ${r.query.get('alt')} ${r.range}`)).toEqual(['GET media bytes=10-13']);
    expect(Array.from((await store.readRange!('segments/t/x.seg', 98, 200))!)).toEqual([98, 99]);
    expect((await store.readRange!('segments/t/x.seg', 100, 110))!.length).toBe(0);
    expect((await store.readRange!('segments/t/x.seg', 5, 5))!.length).toBe(0);
    expect(ep.requests.at(-1)!.range).toBe('bytes=5-5'); // an empty range still asks whether the key exists
    expect(await store.readRange!('segments/t/missing.seg', 0, 4)).toBeNull();
    let failures = 2;
    ep.fate = () => (failures-- > 0 ? 503 : 'pass');
    expect(Array.from((await store.readRange!('segments/t/x.seg', 0, 2))!)).toEqual([0, 1]);
    ep.fate = () => 503;
    expect(await codeOf(store.readRange!('segments/t/x.seg', 0, 2))).toBe('STORE_UNAVAILABLE');
    ep.fate = () => 403;
    expect(await codeOf(store.readRange!('segments/t/x.seg', 0, 2))).toBe('FAILED_PRECONDITION');
  });

  it('takes only the asked bytes from a server that ignores Range and sends the whole object', async () => {
    await store.write('segments/t/x.seg', Buffer.from('0123456789'));
    ep.ignoreRange = true;
    expect(Buffer.from((await store.readRange!('segments/t/x.seg', 3, 6))!).toString()).toBe('345');
    expect((await store.readRange!('segments/t/x.seg', 12, 20))!.length).toBe(0);
  });

  it('maps 412 to STORE_CONFLICT, and refuses etags that are not generations without sending', async () => {
    const { etag } = await store.write('k', 'v1', { ifNoneMatch: '*' });
    expect(await codeOf(store.write('k', 'v2', { ifNoneMatch: '*' }))).toBe('STORE_CONFLICT');
    await store.write('k', 'v2', { ifMatch: etag });
    expect(await codeOf(store.write('k', 'v3', { ifMatch: etag }))).toBe('STORE_CONFLICT');
    const sent = ep.requests.length;
    for (const bad of ['', 'whatever', '0', '-1', '1.5']) expect(await codeOf(store.write('k', 'x', { ifMatch: bad }))).toBe('STORE_CONFLICT');
    expect(ep.requests).toHaveLength(sent);
  });

  it('sends a conditional write once: 5xx and a dropped answer are STORE_AMBIGUOUS, 429 is STORE_UNAVAILABLE', async () => {
    const { etag } = await store.write('k', 'v1', { ifNoneMatch: '*' });
    ep.requests.length = 0;
    ep.fate = (r) => (r.method === 'POST' ? 503 : 'pass');
    expect(await codeOf(store.write('k', 'v2', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
    expect(uploads()).toHaveLength(1);
    ep.fate = (r) => (r.method === 'POST' ? 'drop-after' : 'pass');
    expect(await codeOf(store.write('k', 'v2', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
    expect(uploads()).toHaveLength(2); // it landed, and was not re-sent (a re-send would meet 412)
    ep.fate = () => 'pass';
    expect(Buffer.from((await store.read('k'))!.body).toString()).toBe('v2');
    ep.requests.length = 0;
    ep.fate = (r) => (r.method === 'POST' ? 429 : 'pass');
    expect(await codeOf(store.write('k', 'v3', { ifNoneMatch: '*' }))).toBe('STORE_UNAVAILABLE');
    expect(uploads()).toHaveLength(3); // throttled means not applied: retried, then given up
  });

  it('retries reads, lists and deletes on 5xx; times out hung requests', async () => {
    const { etag } = await store.write('a', '1');
    await store.write('b', '2');
    let failures = 2;
    ep.fate = () => (failures-- > 0 ? 503 : 'pass');
    expect(Buffer.from((await store.read('a'))!.body).toString()).toBe('1');
    failures = 1;
    expect(await store.list('')).toEqual(['a', 'b']);
    failures = 1;
    await store.delete('b');
    ep.fate = () => 503;
    expect(await codeOf(store.read('a'))).toBe('STORE_UNAVAILABLE');
    ep.fate = () => 'hang';
    expect(await codeOf(store.write('a', 'x', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
    expect(await codeOf(store.read('a'))).toBe('STORE_UNAVAILABLE');
  });

  it('pages through list results and strips the prefix', async () => {
    const paged = await createGcsStore({ bucket: 'wire-bucket', prefix: 'paged', apiEndpoint: ep.url, listPageSize: 2 });
    const keys = ['a/1', 'a/2', 'a/3', 'b/1', 'b/2'];
    for (const k of keys) await paged.write(k, k);
    ep.requests.length = 0;
    expect(await paged.list('')).toEqual(keys);
    expect(ep.requests.filter((r) => r.method === 'GET')).toHaveLength(3);
    expect(ep.requests[0]!.query.get('prefix')).toBe('paged/');
    expect(await paged.list('a/')).toEqual(['a/1', 'a/2', 'a/3']);
  });

  it('reports a refused connection on a conditional write as STORE_UNAVAILABLE (nothing was sent)', async () => {
    const other = await startEndpoint();
    const url = other.url;
    await other.close();
    const dead = await createGcsStore({ bucket: 'wire-bucket', apiEndpoint: url, retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
    expect(await codeOf(dead.write('k', 'v', { ifNoneMatch: '*' }))).toBe('STORE_UNAVAILABLE');
  });
});

describe('gs:// URLs', () => {
  const target = (url: string) => ({ url, location: url.slice('gs:'.length).split('?')[0]!, cwd: '/', params: new Map<string, string>() });

  it('takes bucket and prefix; the one-write-per-second default can be overridden', async () => {
    expect(gcsOptionsFromUrl(target('gs://my-bucket/a/b/'))).toEqual({ bucket: 'my-bucket', prefix: 'a/b' });
    expect(gcsOptionsFromUrl(target('gs://my.bucket_1'))).toEqual({ bucket: 'my.bucket_1', prefix: '' });
    const store = await openStore('gs://my-bucket/x?minWriteInterval=250');
    expect(store.name).toBe('gcs');
    expect(store.minWriteIntervalMs).toBe(250);
    expect((await openStore('gs://my-bucket/x')).minWriteIntervalMs).toBe(1000);
  });

  it('rejects bad URLs with INVALID_ARGUMENT naming the part', async () => {
    const cases: Array<[string, RegExp]> = [
      ['gs:bucket', /two slashes/],
      ['gs://Bucket', /bucket name "Bucket"/],
      ['gs://b', /bucket name "b"/],
      ['gs://bucket/a//b', /key prefix/],
      ['gs://bucket?region=x', /unknown query parameter "region"/],
    ];
    for (const [url, pattern] of cases) {
      const err = await openStore(url).then(() => null, (e: unknown) => e);
      expect(err, url).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(pattern) });
    }
  });
});
