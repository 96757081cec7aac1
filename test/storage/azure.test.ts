/**
 * The Azure driver against Azurite (a real Blob service emulator started here), or against a real
 * account when BUCKETQ_TEST_AZURE_URL names one (az://CONTAINER/PREFIX?account=..., credentials
 * from the environment). Each fixture gets a fresh key prefix, so keys of other tests never show.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureOptionsFromUrl, createAzureStore, type AzureStoreOptions } from '../../src/storage/azure.js';
import { openStore } from '../../src/storage/open.js';
import type { StorageDriver } from '../../src/storage/types.js';
import { codeOf } from '../codes.js';
import { startAzurite, AZURITE_ACCOUNT, AZURITE_KEY, type Azurite } from '../servers/azurite.js';
import { describeDriver } from './driver-suite.js';

const REAL_URL = process.env.BUCKETQ_TEST_AZURE_URL;
const text = (body: Uint8Array): string => new TextDecoder().decode(body);
const freshPrefix = (): string => `run-${randomBytes(6).toString('hex')}`;

let azurite: Azurite | undefined;
beforeAll(async () => {
  if (!REAL_URL) azurite = await startAzurite();
}, 30_000);
afterAll(() => azurite?.stop());

/** Opens a store on a fresh prefix: Azurite's container, or the real account's URL. */
async function freshStore(extra: Partial<AzureStoreOptions> = {}): Promise<StorageDriver> {
  if (REAL_URL) {
    const [base, query = ''] = REAL_URL.split('?');
    return openStore(`${base!.replace(/\/+$/, '')}/${freshPrefix()}${query ? `?${query}` : ''}`);
  }
  return createAzureStore({ connectionString: azurite!.connectionString, container: azurite!.container, prefix: freshPrefix(), ...extra });
}

describeDriver(REAL_URL ? 'azure (real account from BUCKETQ_TEST_AZURE_URL)' : 'azure (Azurite)', async () => ({
  store: await freshStore(),
  cleanup: async () => {},
}), REAL_URL ? { racers: 10, rounds: 10 } : { racers: 20, rounds: 30 });

/** An HTTP proxy in front of Azurite whose behaviour per request a test decides. */
interface Proxy {
  url: string;
  /** Requests seen, as "METHOD path". */
  seen: string[];
  /**
   * Decides a request's fate: 'pass' forwards it; 'drop-after' forwards it and then destroys the
   * client's connection instead of answering; 'hang' never answers; a number answers with that
   * status without forwarding.
   */
  fate: (method: string, path: string) => 'pass' | 'drop-after' | 'hang' | number;
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const upstream = new URL(target);
  const proxy: Proxy = { url: '', seen: [], fate: () => 'pass', close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      proxy.seen.push(`${req.method} ${req.url}`);
      const fate = proxy.fate(req.method!, req.url!);
      if (fate === 'hang') return;
      if (typeof fate === 'number') {
        res.writeHead(fate, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
        return;
      }
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          if (fate === 'drop-after') return void req.socket.destroy();
          res.writeHead(up.statusCode!, up.headers).end(Buffer.concat(body));
        });
      });
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return proxy;
}

describe.skipIf(REAL_URL)('azure driver on Azurite: failures and URLs', () => {
  /** A store that talks to Azurite through `proxy`, with short timeouts and quick retries. */
  const throughProxy = (proxy: Proxy, prefix = freshPrefix()): Promise<StorageDriver> =>
    createAzureStore({
      account: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      endpoint: `${proxy.url}/${AZURITE_ACCOUNT}`,
      container: azurite!.container,
      prefix,
      requestTimeoutMs: 500,
      retry: { attempts: 3, baseMs: 1, maxMs: 5 },
    });

  it('sends a conditional write once and reports STORE_AMBIGUOUS when the answer is lost (it landed)', async () => {
    const proxy = await startProxy(azurite!.endpoint);
    try {
      const store = await throughProxy(proxy);
      const { etag } = await store.write('q.json', 'v1', { ifNoneMatch: '*' });
      proxy.fate = (method) => (method === 'PUT' ? 'drop-after' : 'pass');
      proxy.seen.length = 0;
      expect(await codeOf(store.write('q.json', 'v2', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
      // An SDK retry here would have met 412 and called a landed write a conflict.
      expect(proxy.seen.filter((r) => r.startsWith('PUT'))).toHaveLength(1);
      proxy.fate = () => 'pass';
      expect(text((await store.read('q.json'))!.body)).toBe('v2');
      // The same for create-if-absent: a retry would see 409 BlobAlreadyExists.
      proxy.fate = (method) => (method === 'PUT' ? 'drop-after' : 'pass');
      expect(await codeOf(store.write('new.json', 'x', { ifNoneMatch: '*' }))).toBe('STORE_AMBIGUOUS');
      proxy.fate = () => 'pass';
      expect(text((await store.read('new.json'))!.body)).toBe('x');
    } finally {
      await proxy.close();
    }
  });

  it('maps a 5xx on a conditional write to STORE_AMBIGUOUS, and retries reads, lists and unconditional writes', async () => {
    const proxy = await startProxy(azurite!.endpoint);
    try {
      const store = await throughProxy(proxy);
      const { etag } = await store.write('k', 'v1');
      proxy.fate = (method) => (method === 'PUT' ? 500 : 'pass');
      expect(await codeOf(store.write('k', 'v2', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
      let failures = 1;
      proxy.fate = () => (failures-- > 0 ? 503 : 'pass');
      expect(text((await store.read('k'))!.body)).toBe('v1');
      failures = 2;
      expect(await store.list('')).toEqual(['k']);
      failures = 1;
      await store.write('k', 'v3');
      expect(text((await store.read('k'))!.body)).toBe('v3');
      proxy.fate = () => 503;
      expect(await codeOf(store.read('k'))).toBe('STORE_UNAVAILABLE');
      expect(await codeOf(store.write('k', 'v4'))).toBe('STORE_AMBIGUOUS'); // unconditional, may have landed
      proxy.fate = () => 429;
      expect(await codeOf(store.write('k', 'v4', { ifMatch: etag }))).toBe('STORE_UNAVAILABLE'); // throttled: not applied
    } finally {
      await proxy.close();
    }
  });

  it('times out a request that hangs: STORE_AMBIGUOUS for a conditional write, STORE_UNAVAILABLE for a read', async () => {
    const proxy = await startProxy(azurite!.endpoint);
    try {
      const store = await throughProxy(proxy);
      const { etag } = await store.write('k', 'v1');
      proxy.fate = () => 'hang';
      expect(await codeOf(store.write('k', 'v2', { ifMatch: etag }))).toBe('STORE_AMBIGUOUS');
      expect(await codeOf(store.read('k'))).toBe('STORE_UNAVAILABLE');
      expect(proxy.seen.filter((r) => r.startsWith('GET'))).toHaveLength(3); // retried
    } finally {
      await proxy.close();
    }
  });

  it('reports a refused connection on a conditional write as STORE_UNAVAILABLE (nothing was sent)', async () => {
    const proxy = await startProxy(azurite!.endpoint);
    const store = await throughProxy(proxy);
    await proxy.close(); // the port is now closed
    expect(await codeOf(store.write('k', 'v', { ifNoneMatch: '*' }))).toBe('STORE_UNAVAILABLE');
  });

  it('pages through list results and strips the prefix', async () => {
    const prefix = freshPrefix();
    const store = await createAzureStore({ connectionString: azurite!.connectionString, container: azurite!.container, prefix, listPageSize: 2 });
    const keys = ['a/1', 'a/2', 'a/3', 'b/1', 'b/2'];
    await Promise.all(keys.map((k) => store.write(k, k)));
    expect(await store.list('')).toEqual(keys);
    expect(await store.list('a/')).toEqual(['a/1', 'a/2', 'a/3']);
    // Another prefix of the same container is invisible.
    const other = await createAzureStore({ connectionString: azurite!.connectionString, container: azurite!.container, prefix: `${prefix}x` });
    expect(await other.list('')).toEqual([]);
    expect(await other.read('a/1')).toBeNull();
  });

  it('keys without a prefix live at the container root', async () => {
    const container = await azurite!.newContainer();
    const store = await createAzureStore({ connectionString: azurite!.connectionString, container });
    await store.write('topics/t/queue.json', '{}', { ifNoneMatch: '*' });
    expect(await store.list('')).toEqual(['topics/t/queue.json']);
  });

  it('fails on a missing container with FAILED_PRECONDITION naming it, not with null', async () => {
    const store = await createAzureStore({ connectionString: azurite!.connectionString, container: 'no-such-container', retry: { attempts: 1 } });
    const read = store.read('k');
    await expect(read).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/container/i) });
    expect(await codeOf(store.write('k', 'x'))).toBe('FAILED_PRECONDITION');
  });

  it('refuses calls after close (close is idempotent)', async () => {
    const store = await freshStore();
    await store.close();
    await store.close();
    expect(await codeOf(store.read('k'))).toBe('CLOSED');
  });

  it('opens az:// URLs with a connection string from the environment, or an account, key and endpoint', async () => {
    const prefix = freshPrefix();
    const saved = { ...process.env };
    try {
      process.env.AZURE_STORAGE_CONNECTION_STRING = azurite!.connectionString;
      delete process.env.AZURE_STORAGE_ACCOUNT;
      const viaEnv = await openStore(`az://${azurite!.container}/${prefix}`);
      expect(viaEnv.name).toBe('azure');
      const { etag } = await viaEnv.write('k', 'from-env', { ifNoneMatch: '*' });
      delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      process.env.AZURE_STORAGE_KEY = AZURITE_KEY;
      const viaKey = await openStore(`az://${azurite!.container}/${prefix}/?account=${AZURITE_ACCOUNT}&endpoint=${encodeURIComponent(azurite!.endpoint)}&minWriteInterval=5`);
      expect(viaKey.minWriteIntervalMs).toBe(5);
      expect((await viaKey.read('k'))?.etag).toBe(etag);
    } finally {
      process.env = saved;
    }
  });
});

describe('az:// URL parsing', () => {
  const target = (url: string, params: Record<string, string> = {}) => ({
    url,
    location: url.slice('az:'.length).split('?')[0]!,
    cwd: '/',
    params: new Map(Object.entries(params)),
  });

  it('takes container, prefix, account and the standard environment variables', () => {
    expect(azureOptionsFromUrl(target('az://box/a/b/'), { AZURE_STORAGE_CONNECTION_STRING: 'cs' })).toEqual({ container: 'box', prefix: 'a/b', connectionString: 'cs' });
    expect(azureOptionsFromUrl(target('az://box', { account: 'acct1' }), { AZURE_STORAGE_KEY: 'k' })).toEqual({ container: 'box', prefix: '', account: 'acct1', endpoint: undefined, accountKey: 'k' });
    // A key that belongs to another account is not sent; DefaultAzureCredential is used instead.
    expect(azureOptionsFromUrl(target('az://box', { account: 'acct1' }), { AZURE_STORAGE_ACCOUNT: 'other', AZURE_STORAGE_KEY: 'k' }).accountKey).toBeUndefined();
    expect(azureOptionsFromUrl(target('az://box'), { AZURE_STORAGE_ACCOUNT: 'acct2' })).toMatchObject({ account: 'acct2', accountKey: undefined });
  });

  it('rejects bad URLs with INVALID_ARGUMENT naming the part', async () => {
    const cases: Array<[string, RegExp]> = [
      ['az:box', /two slashes/],
      ['az://Bad_Name', /container name "Bad_Name"/],
      ['az://ab', /container name "ab"/],
      ['az://box/a//b', /key prefix/],
      ['az://box?account=UPPER', /account must be/],
      ['az://box?endpoint=ftp://x', /endpoint must be an http/],
      ['az://box?region=x', /unknown query parameter "region"/],
    ];
    const saved = { ...process.env };
    try {
      delete process.env.AZURE_STORAGE_CONNECTION_STRING;
      delete process.env.AZURE_STORAGE_ACCOUNT;
      cases.push(['az://box', /\?account=NAME/]);
      for (const [url, pattern] of cases) {
        const err = await openStore(url).then(() => null, (e: unknown) => e);
        expect(err, url).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(pattern) });
      }
    } finally {
      process.env = saved;
    }
  });
});
