/**
 * The S3 driver against a real server: the run's radosgw (Ceph, booted once by
 * test/servers/global-setup.ts) or the bucket of BUCKETQ_TEST_S3_URL. Faults a real server will
 * not produce on demand (a 500 after a write landed, a dropped connection, a hang) come from a
 * small proxy in front of radosgw that forwards requests untouched (test/servers/fault-proxy.ts).
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/open.js';
import { createS3Store, s3OptionsFromUrl, type S3StoreOptions } from '../../src/storage/s3.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf } from '../codes.js';
import { startFaultProxy, type FaultProxy } from '../servers/fault-proxy.js';
import { freePort } from '../client/proxy.js';
import { s3Target } from '../servers/s3-target.js';
import { describeDriver } from './driver-suite.js';

const target = await s3Target();
const text = (body: Uint8Array): string => new TextDecoder().decode(body);

/** Deletes every key under the store's prefix, then closes it. */
async function wipe(store: StorageDriver): Promise<void> {
  for (const key of await store.list('')) await store.delete(key);
  await store.close();
}

if (!target.ready) {
  console.warn(`S3 driver tests skipped: ${target.reason}`);
  describe('StorageDriver conformance: s3', () => it.skip(`skipped: ${target.reason}`, () => {}));
} else {
  describeDriver(
    `s3 (${target.kind})`,
    async () => {
      const url = target.freshUrl('conformance');
      const store = await openStore(url);
      return { store, cleanup: async () => wipe(await openStore(url)) };
    },
    { contentHashEtags: true, ambiguousRaceLosers: target.kind === 'radosgw', ifMatchPrefixQuirk: target.kind === 'radosgw' },
  );
}

const server = target.ready ? target.server : undefined;
if (!server) console.warn(`S3 fault tests skipped: they need the local radosgw (${target.ready ? 'running on a cloud bucket' : target.reason})`);

describe.skipIf(!server)('s3 driver on radosgw: quirks and faults', () => {
  let proxy: FaultProxy;
  let stores: StorageDriver[] = [];
  const prefix = `bq-test-faults-${Date.now()}`;
  /** A store through the proxy (or straight to radosgw), closed after the file. */
  const open = (extra: Partial<S3StoreOptions> = {}, endpoint = proxy.endpoint): StorageDriver => {
    const store = createS3Store({ bucket: server!.bucket, prefix, region: server!.region, endpoint, forcePathStyle: true, ...extra });
    stores.push(store);
    return store;
  };
  const puts = () => proxy.seen.filter((r) => r.method === 'PUT');

  beforeAll(async () => {
    proxy = await startFaultProxy(server!.endpoint);
  });
  afterAll(async () => {
    await wipe(open({}, server!.endpoint));
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
    await proxy.close();
  });

  it('keeps etags without quotes and sends If-Match bare, which radosgw needs', async () => {
    const store = open();
    proxy.seen.length = 0;
    const { etag } = await store.write('quotes', 'one', { ifNoneMatch: '*' });
    expect(etag).toMatch(/^[0-9a-f]{32}$/);
    expect((await store.read('quotes'))?.etag).toBe(etag);
    const next = await store.write('quotes', 'two', { ifMatch: etag });
    expect(puts().at(-1)?.headers['if-match']).toBe(etag);
    expect(puts()).toHaveLength(2); // the bare form worked first time: no fallback try
    expect(text((await store.read('quotes'))!.body)).toBe('two');
    expect((await store.read('quotes'))?.etag).toBe(next.etag);
  });

  it('shows the If-Match prefix quirk of radosgw (why the suite runs with ifMatchPrefixQuirk)', async () => {
    // If this starts failing, radosgw fixed it: drop ifMatchPrefixQuirk above.
    const store = open({}, server!.endpoint);
    const { etag } = await store.write('prefix-quirk', 'one', { ifNoneMatch: '*' });
    expect(await codeOf(store.write('prefix-quirk', 'two', { ifMatch: `${etag}0` }))).toBe('ok');
    expect(await codeOf(store.write('prefix-quirk', 'three', { ifMatch: etag.slice(0, -1) }))).toBe('STORE_CONFLICT');
  });

  it('learns the form: after a bare If-Match succeeded, a stale etag costs one request', async () => {
    const store = open();
    const { etag } = await store.write('learn', 'one', { ifNoneMatch: '*' });
    await store.write('learn', 'two', { ifMatch: etag });
    const before = puts().length;
    expect(await codeOf(store.write('learn', 'three', { ifMatch: etag }))).toBe('STORE_CONFLICT');
    expect(puts().length - before).toBe(1);
  });

  it('reports a 500 after a conditional write landed as STORE_AMBIGUOUS, sent once', async () => {
    const store = open();
    const { etag } = await store.write('amb', 'base', { ifNoneMatch: '*' });
    proxy.decide = (r) => (r.method === 'PUT' ? 'forward-then-500' : 'pass');
    const before = puts().length;
    try {
      expect(await codeOf(store.write('amb', 'landed', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
      expect(puts().length - before).toBe(1); // the SDK did not re-send it
      expect(await codeOf(store.write('amb-new', 'x', { ifNoneMatch: '*' }))).toBe('STORE_AMBIGUOUS');
    } finally {
      proxy.decide = () => 'pass';
    }
    expect(text((await store.read('amb'))!.body)).toBe('landed'); // it had landed: only a re-read can tell
    expect(text((await store.read('amb-new'))!.body)).toBe('x');
  });

  it('reports a connection dropped after sending as STORE_AMBIGUOUS', async () => {
    const store = open();
    const { etag } = await store.write('drop', 'base', { ifNoneMatch: '*' });
    proxy.decide = (r) => (r.method === 'PUT' ? 'forward-then-drop' : 'pass');
    try {
      expect(await codeOf(store.write('drop', 'landed', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
    } finally {
      proxy.decide = () => 'pass';
    }
    expect(text((await store.read('drop'))!.body)).toBe('landed');
  });

  it('abandons a request that hangs after requestTimeoutMs: STORE_AMBIGUOUS for a conditional write', async () => {
    const store = open({ requestTimeoutMs: 300 });
    const { etag } = await store.write('hang', 'base', { ifNoneMatch: '*' });
    proxy.decide = (r) => (r.method === 'PUT' ? 'hang' : 'pass');
    try {
      const started = Date.now();
      expect(await codeOf(store.write('hang', 'late', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      proxy.decide = () => 'pass';
    }
  });

  it('retries reads, lists and deletes through transient 500s; gives STORE_UNAVAILABLE when they persist', async () => {
    const store = open();
    await store.write('retry/k', 'v');
    let failures = 2;
    proxy.decide = (r) => (r.method !== 'PUT' && failures-- > 0 ? 'refuse-500' : 'pass');
    try {
      expect(text((await store.read('retry/k'))!.body)).toBe('v');
      failures = 2;
      expect(await store.list('retry/')).toEqual(['retry/k']);
      proxy.decide = (r) => (r.method === 'GET' ? 'refuse-500' : 'pass');
      const before = proxy.seen.length;
      expect(await codeOf(store.read('retry/k'))).toBe('STORE_UNAVAILABLE');
      expect(proxy.seen.length - before).toBe(3); // maxAttempts 3
    } finally {
      proxy.decide = () => 'pass';
    }
  });

  it('gives STORE_UNAVAILABLE when nothing listens (the write was certainly not sent)', async () => {
    const store = open({ maxAttempts: 1 }, `http://127.0.0.1:${await freePort()}`);
    expect(await codeOf(store.write('k', 'v', { ifNoneMatch: '*' }))).toBe('STORE_UNAVAILABLE');
    expect(await codeOf(store.read('k'))).toBe('STORE_UNAVAILABLE');
  });

  it('reads a missing key as null but a missing bucket as FAILED_PRECONDITION', async () => {
    expect(await open().read('no/such/key')).toBeNull();
    const wrong = createS3Store({ bucket: 'no-such-bucket-bq', region: server!.region, endpoint: server!.endpoint, forcePathStyle: true });
    stores.push(wrong);
    expect(await codeOf(wrong.read('k'))).toBe('FAILED_PRECONDITION');
    expect(await codeOf(wrong.write('k', 'v', { ifNoneMatch: '*' }))).toBe('FAILED_PRECONDITION');
  });

  it('refuses wrong credentials with FAILED_PRECONDITION naming access', async () => {
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = 'wrong';
    try {
      const store = open({}, server!.endpoint);
      const err = await store.read('k').catch((e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect((err as Error).message).toMatch(/access denied/);
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = saved;
    }
  });

  it('lists past one page (ListObjectsV2 continuation), sorted and without the store prefix', async () => {
    const store = open({}, server!.endpoint);
    const keys = Array.from({ length: 1005 }, (_, i) => `page/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.write(k, 'x')));
    expect(await store.list('page/')).toEqual(keys);
  });
});

describe('s3 driver: the If-Match fallback for servers that want the quoted form (in-process fake, not a server test)', () => {
  // radosgw refuses the quoted form and a proxy cannot rewrite a signed header, so this one server
  // quirk is shown against a tiny in-process endpoint that accepts only `If-Match: "<etag>"`.
  let fake: Server;
  let endpoint = '';
  const objects = new Map<string, { body: Buffer; etag: string }>();
  const ifMatches: string[] = [];
  beforeAll(async () => {
    let n = 0;
    fake = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const key = (req.url ?? '').split('?')[0]!;
        const current = objects.get(key);
        if (req.method === 'GET') {
          if (!current) return res.writeHead(404).end('<Error><Code>NoSuchKey</Code></Error>');
          return res.writeHead(200, { etag: `"${current.etag}"` }).end(current.body);
        }
        const ifMatch = req.headers['if-match'];
        if (typeof ifMatch === 'string') ifMatches.push(ifMatch);
        if (ifMatch !== undefined && (!current || ifMatch !== `"${current.etag}"`)) return res.writeHead(412).end('<Error><Code>PreconditionFailed</Code></Error>');
        if (req.headers['if-none-match'] === '*' && current) return res.writeHead(412).end('<Error><Code>PreconditionFailed</Code></Error>');
        const etag = `e${++n}`;
        objects.set(key, { body: Buffer.concat(chunks), etag });
        res.writeHead(200, { etag: `"${etag}"` }).end();
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(fake.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => fake.close(() => resolve())));

  it('retries a 412 once with the quoted form, then sends only that form', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID ??= 'fake';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'fake';
    const store = createS3Store({ bucket: 'b', region: 'us-east-1', endpoint, forcePathStyle: true });
    try {
      const first = await store.write('k', 'one', { ifNoneMatch: '*' });
      const second = await store.write('k', 'two', { ifMatch: first.etag });
      expect(ifMatches).toEqual([first.etag, `"${first.etag}"`]);
      expect(await codeOf(store.write('k', 'stale', { ifMatch: first.etag }))).toBe('STORE_CONFLICT');
      expect(ifMatches.slice(2)).toEqual([`"${first.etag}"`]); // learned: one try
      await store.write('k', 'three', { ifMatch: second.etag });
      expect(text((await store.read('k'))!.body)).toBe('three');
    } finally {
      await store.close();
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});

describe('s3 driver: store URLs', () => {
  // Lazy loading (file: without the SDK, the one-line message for s3://) is tested for every cloud SDK in cloud-sdk.test.ts.
  it('reads bucket, prefix, region, endpoint and path style from the URL', () => {
    const of = (url: string) => {
      const q = url.indexOf('?');
      const params = new Map(new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
      return s3OptionsFromUrl({ location: url.slice(3, q === -1 ? undefined : q), url, cwd: '/', params });
    };
    expect(of('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(of('s3://my-bucket/a/b/?region=eu-west-1')).toEqual({ bucket: 'my-bucket', prefix: 'a/b', region: 'eu-west-1' });
    expect(of('s3://b1x/q?endpoint=http://127.0.0.1:9000&forcePathStyle=true&region=auto')).toEqual({
      bucket: 'b1x', prefix: 'q', region: 'auto', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true,
    });
  });

  it('rejects bad s3:// URLs with INVALID_ARGUMENT before loading anything', async () => {
    const cases: Array<[string, RegExp]> = [
      ['s3:bucket', /with two slashes/],
      ['s3://', /bucket name ""/],
      ['s3://b?region=us-east-1', /bucket name "b"/],
      ['s3://bucket/a//b', /key prefix/],
      ['s3://bucket/p?endpoint=ftp://x', /endpoint must be an http\(s\) URL/],
      ['s3://bucket/p?endpoint=nonsense', /endpoint must be an http\(s\) URL/],
      ['s3://bucket/p?forcePathStyle=yes', /forcePathStyle must be true or false/],
      ['s3://bucket/p?region=us%20east', /region must look like/],
      ['s3://bucket/p?account=x', /unknown query parameter "account"/],
    ];
    for (const [url, pattern] of cases) {
      const err = await openStore(url).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err?.code, url).toBe('INVALID_ARGUMENT');
      expect(err?.message, url).toMatch(pattern);
    }
  });
});
