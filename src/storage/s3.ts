/**
 * The S3 driver: AWS S3 and S3-compatible stores (R2, MinIO, Tigris, Ceph radosgw) through the
 * official `@aws-sdk/client-s3`, an optional peer dependency loaded on first use.
 *
 * Compare-and-swap is PutObject with `If-Match: <etag>` or `If-None-Match: *`. What S3 and its
 * imitators make of that, and what this driver does about it:
 *
 * - Conflicts come as 412 PreconditionFailed, 409 ConditionalRequestConflict (AWS, concurrent
 *   writers) and, for If-Match on a missing key, 404 (AWS documents it) or 412 (radosgw): all
 *   STORE_CONFLICT.
 * - A conditional write is sent exactly once. The SDK's own retries are off for it: if attempt 1
 *   landed and its answer was lost, attempt 2 would meet a 412 and report a conflict, and the
 *   broker would re-apply a batch that already landed. A 5xx, timeout or dropped connection is
 *   STORE_AMBIGUOUS instead, and the broker re-reads (each commit carries a seq and writer id).
 *   radosgw answers most losers of a conditional race with HTTP 500, which lands here too.
 * - ETags are kept without their quotes. radosgw (Ceph 16.2) matches If-Match only against the
 *   bare value and refuses the quoted one with 412. Other servers may want the quoted form, so
 *   until one form has succeeded, a 412 is retried once with the other form: a 412 certainly wrote
 *   nothing, so the second try is safe, and both test the same etag.
 * - ETags are content MD5s, so rewriting identical bytes repeats an etag. Safe for bucketq: every
 *   commit to queue.json carries a new seq, so its bytes never repeat (see types.ts).
 * - Reads, lists, deletes and unconditional writes (archives, payloads: write-once objects) use
 *   the SDK's standard retries with backoff for 5xx, throttling and timeouts; re-sending them is
 *   harmless. Configuration problems (no credentials, no bucket, access denied, wrong region)
 *   are FAILED_PRECONDITION at once: no retry fixes them.
 *
 * Credentials come only from the SDK's default chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * AWS_PROFILE and shared config, SSO, web identity, container and instance metadata.
 */
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { QueueError } from '../errors.js';
import { asBytes, assertValidKey, assertValidPrefix, assertValidRange, contentRangeStart, httpRange, sliceRange } from './keys.js';
import { isNotFound, mapConditionalError, mapPlainError, statusOf } from './s3-errors.js';
import { importSdk, normalisePrefix, prefixedKey } from './sdk.js';
import { invalid, type Target } from './store-url.js';
import type { StorageDriver, StoredObject, WriteCondition } from './types.js';

export const DRIVER_NAME = 's3';

export interface S3StoreOptions {
  /** The bucket. */
  bucket: string;
  /** Key prefix inside the bucket (`a/b`, no leading or trailing slash needed); '' for the whole bucket. */
  prefix?: string;
  /** AWS region; default: the SDK's chain (AWS_REGION, profile), else `us-east-1` when `endpoint` is set. */
  region?: string;
  /** A custom endpoint for S3-compatible stores, e.g. `http://127.0.0.1:9000` or `https://<account>.r2.cloudflarestorage.com`. */
  endpoint?: string;
  /** Address buckets as `endpoint/bucket` rather than `bucket.endpoint` (MinIO, Ceph; default false). */
  forcePathStyle?: boolean;
  /** Milliseconds a request may take once connected before it is abandoned (default 15000). */
  requestTimeoutMs?: number;
  /** Milliseconds to establish a connection (default 5000). */
  connectionTimeoutMs?: number;
  /** Tries in all for reads, lists, deletes and unconditional writes (default 3). Conditional writes always try once. */
  maxAttempts?: number;
  /** Keep-alive sockets per host, shared by all requests of this store (default 64). */
  maxSockets?: number;
  /** See StorageDriver.minWriteIntervalMs (default 0: S3 has no documented per-object write limit). */
  minWriteIntervalMs?: number;
}

type Sdk = typeof import('@aws-sdk/client-s3');

let sdkPromise: Promise<Sdk> | null = null;

/** Loads the AWS SDK once; a missing package becomes one line naming it. */
export function loadS3Sdk(): Promise<Sdk> {
  sdkPromise ??= importSdk('@aws-sdk/client-s3', 's3', () => import('@aws-sdk/client-s3')).catch((err: unknown) => {
    sdkPromise = null;
    throw err;
  });
  return sdkPromise;
}

const unquote = (etag: string): string => etag.replace(/^(?:W\/)?"(.*)"$/, '$1');

export function createS3Store(options: S3StoreOptions): StorageDriver {
  if (typeof options.bucket !== 'string' || options.bucket === '') throw new QueueError('INVALID_ARGUMENT', 'S3 store: bucket is required');
  const bucket = options.bucket;
  const prefix = normalisePrefix(options.prefix ?? '');
  if (prefix !== '') assertValidPrefix(`${prefix}/`);
  const where = `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
  const maxSockets = options.maxSockets ?? 64;
  // One pool of keep-alive sockets for both clients.
  const agents = { httpAgent: new HttpAgent({ keepAlive: true, maxSockets }), httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }) };

  let clients: Promise<{ retrying: S3Client; once: S3Client; sdk: Sdk }> | null = null;
  let closed = false;
  /** Which If-Match form the server accepts, once one has succeeded. */
  let ifMatchForm: 'bare' | 'quoted' | null = null;

  function connect(): Promise<{ retrying: S3Client; once: S3Client; sdk: Sdk }> {
    if (closed) return Promise.reject(new QueueError('CLOSED', `${where}: the store is closed`));
    clients ??= loadS3Sdk().then((sdk) => {
      const base: S3ClientConfig = {
        ...(options.region !== undefined ? { region: options.region } : options.endpoint !== undefined && !process.env.AWS_REGION ? { region: 'us-east-1' } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        forcePathStyle: options.forcePathStyle ?? false,
        // The newer default (CRC checksums on every request) is refused by several S3-compatible
        // stores and buys nothing over TLS + Content-MD5-free small bodies here.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: {
          requestTimeout: options.requestTimeoutMs ?? 15_000,
          // Without it the handler only logs a warning when requestTimeout passes, and waits on.
          throwOnRequestTimeout: true,
          connectionTimeout: options.connectionTimeoutMs ?? 5_000,
          ...agents,
        },
      };
      return {
        sdk,
        retrying: new sdk.S3Client({ ...base, maxAttempts: options.maxAttempts ?? 3, retryMode: 'standard' }),
        // Conditional writes: never re-sent by the SDK (see the header comment).
        once: new sdk.S3Client({ ...base, maxAttempts: 1 }),
      };
    });
    return clients;
  }

  const fullKey = (key: string): string => prefixedKey(prefix, key);

  async function putConditional(key: string, body: Uint8Array, condition: WriteCondition): Promise<{ etag: string }> {
    const { once, sdk } = await connect();
    const send = async (header: { IfMatch: string } | { IfNoneMatch: '*' }) => {
      const out = await once.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: fullKey(key), Body: body, ...header }));
      return { etag: etagOf(out.ETag, key) };
    };
    if ('ifNoneMatch' in condition) return send({ IfNoneMatch: '*' });
    const etag = condition.ifMatch;
    // No server etag is empty; an empty If-Match header would not even be sent.
    if (etag === '') throw new QueueError('STORE_CONFLICT', `${where}: write ${key}: the empty etag matches nothing`);
    const forms = ifMatchForm === 'quoted' ? ['quoted'] : ifMatchForm === 'bare' ? ['bare'] : ['bare', 'quoted'];
    for (const [i, form] of forms.entries()) {
      try {
        const result = await send({ IfMatch: form === 'bare' ? etag : `"${etag}"` });
        ifMatchForm = form as 'bare' | 'quoted';
        return result;
      } catch (err) {
        // Only a plain 412 may mean "wrong form": it certainly wrote nothing, so try the other.
        if (i < forms.length - 1 && statusOf(err) === 412) continue;
        throw err;
      }
    }
    throw new QueueError('INTERNAL', 'unreachable');
  }

  function etagOf(raw: string | undefined, key: string): string {
    // The write landed, but without an etag we cannot chain the next CAS: let the broker re-read.
    if (!raw) throw new QueueError('STORE_AMBIGUOUS', `${where}: write ${key} answered without an ETag`);
    return unquote(raw);
  }

  return {
    name: DRIVER_NAME,
    minWriteIntervalMs: options.minWriteIntervalMs ?? 0,

    async read(key: string): Promise<StoredObject | null> {
      assertValidKey(key);
      const { retrying, sdk } = await connect();
      try {
        const out = await retrying.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
        // Body and ETag from the same response: the etag names exactly these bytes.
        const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
        if (!out.ETag) throw new QueueError('INTERNAL', `${where}: read ${key} answered without an ETag`);
        return { body, etag: unquote(out.ETag) };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw mapPlainError(err, `${where}: read ${key}`);
      }
    },

    async readRange(key: string, start: number, end: number): Promise<Uint8Array | null> {
      assertValidKey(key);
      assertValidRange(start, end);
      const { retrying, sdk } = await connect();
      const { first, last } = httpRange(start, end);
      try {
        const out = await retrying.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: fullKey(key), Range: `bytes=${first}-${last}` }));
        const body = out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
        // 206 carries Content-Range; a server that ignored Range answered 200 with the whole object.
        return sliceRange(body, contentRangeStart(out.ContentRange) ?? 0, start, end);
      } catch (err) {
        if (isNotFound(err)) return null;
        // 416 InvalidRange: the key exists, and `start` is at or past its end (or it is empty).
        if (statusOf(err) === 416) return new Uint8Array(0);
        throw mapPlainError(err, `${where}: read ${key} [${start}, ${end})`);
      }
    },

    async write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }> {
      assertValidKey(key);
      const bytes = asBytes(body);
      if (condition) {
        try {
          return await putConditional(key, bytes, condition);
        } catch (err) {
          throw mapConditionalError(err, `${where}: write ${key}`);
        }
      }
      const { retrying, sdk } = await connect();
      try {
        const out = await retrying.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: fullKey(key), Body: bytes }));
        return { etag: etagOf(out.ETag, key) };
      } catch (err) {
        throw mapPlainError(err, `${where}: write ${key}`, true);
      }
    },

    async list(keyPrefix: string): Promise<string[]> {
      assertValidPrefix(keyPrefix);
      const { retrying, sdk } = await connect();
      const strip = prefix === '' ? 0 : prefix.length + 1;
      const keys: string[] = [];
      let token: string | undefined;
      try {
        do {
          const out = await retrying.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: fullKey(keyPrefix), ContinuationToken: token }));
          for (const item of out.Contents ?? []) if (item.Key) keys.push(item.Key.slice(strip));
          token = out.IsTruncated ? out.NextContinuationToken : undefined;
        } while (token);
      } catch (err) {
        throw mapPlainError(err, `${where}: list ${keyPrefix}`);
      }
      return keys.sort();
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      const { retrying, sdk } = await connect();
      try {
        await retrying.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
      } catch (err) {
        if (isNotFound(err)) return;
        throw mapPlainError(err, `${where}: delete ${key}`);
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const pending = clients;
      clients = null;
      const c = await pending?.catch(() => null);
      c?.retrying.destroy();
      c?.once.destroy();
      agents.httpAgent.destroy();
      agents.httpsAgent.destroy();
    },
  };
}

/** `s3://BUCKET/PREFIX?region=…&endpoint=…&forcePathStyle=true` → options; bad values → INVALID_ARGUMENT. */
export function s3OptionsFromUrl({ location, url, params }: Target): S3StoreOptions {
  if (!location.startsWith('//')) throw invalid(url, 'write s3://BUCKET/PREFIX (with two slashes)');
  const [bucket = '', ...rest] = location.slice(2).split('/');
  // Loose on purpose: AWS wants 3-63 lowercase letters, digits, dots and hyphens, but older
  // buckets and S3-compatible stores allow more; the server has the last word.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) throw invalid(url, `bucket name ${JSON.stringify(bucket)} must be letters, digits, dots, hyphens or underscores (3 or more)`);
  const prefix = normalisePrefix(rest.join('/'));
  try {
    if (prefix !== '') assertValidPrefix(`${prefix}/`);
  } catch {
    throw invalid(url, `key prefix ${JSON.stringify(prefix)} may hold only A-Z a-z 0-9 _ . = - and non-empty / segments`);
  }
  const options: S3StoreOptions = { bucket, prefix };
  const region = params.get('region');
  if (region !== undefined) {
    if (!/^[a-z0-9][a-z0-9-]*$/i.test(region)) throw invalid(url, `region must look like us-east-1 or auto, got ${JSON.stringify(region)}`);
    options.region = region;
  }
  const endpoint = params.get('endpoint');
  if (endpoint !== undefined) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(endpoint);
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
      throw invalid(url, `endpoint must be an http(s) URL such as https://s3.example.com, got ${JSON.stringify(endpoint)}`);
    }
    options.endpoint = endpoint;
  }
  const pathStyle = params.get('forcePathStyle');
  if (pathStyle !== undefined) {
    if (!['true', 'false', '1', '0'].includes(pathStyle)) throw invalid(url, `forcePathStyle must be true or false, got ${JSON.stringify(pathStyle)}`);
    options.forcePathStyle = pathStyle === 'true' || pathStyle === '1';
  }
  return options;
}
