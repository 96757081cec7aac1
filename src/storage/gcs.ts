/**
 * Google Cloud Storage on the official SDK (@google-cloud/storage, an optional peer dependency
 * loaded only when a gs:// store is opened). Credentials: Google Application Default Credentials
 * only (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login, workload identity,
 * the metadata server), never anything hand-rolled.
 *
 * The etag is the object's generation, a number GCS assigns per write that never repeats for a
 * name (it is a timestamp in microseconds, not a content hash). Compare-and-swap is a simple
 * (non-resumable) upload with `ifGenerationMatch=G`, or `ifGenerationMatch=0` for create-if-absent;
 * a failed precondition is 412 → STORE_CONFLICT. The generation a write returns is read from that
 * upload's own response body, and a read takes it from the `x-goog-generation` header of the very
 * response that carries the bytes: a second metadata call could see a later version and pair the
 * old bytes with the new generation, which would let a stale write win.
 *
 * The SDK's automatic retries are off: by default it retries uploads that carry a precondition
 * ("conditionally idempotent"), and a retry that meets 412 because the first try landed would be
 * reported as a lost race (see cloud-call.ts). GCS documents about one write per second per
 * object, so minWriteIntervalMs defaults to 1000: the commit loop waits and batches grow.
 * Connections are kept alive by the SDK's HTTP layer (`forever` agents).
 */
import type { Bucket, Storage } from '@google-cloud/storage';
import { QueueError } from '../errors.js';
import { cloudCall, DEFAULT_CLOUD_RETRY, isUnsentNetworkError, networkCode, type CallPolicy, type CloudRetryOptions, type FailureKind } from './cloud-call.js';
import { asBytes, assertValidKey, assertValidPrefix, assertValidRange, contentRangeStart, httpRange, sliceRange } from './keys.js';
import { invalid, type Target } from './store-url.js';
import { importSdk, normalisePrefix, prefixedKey } from './sdk.js';
import type { StorageDriver, StoredObject, WriteCondition } from './types.js';

export const DRIVER_NAME = 'gcs';

export interface GcsStoreOptions {
  /** The bucket; it must exist (bucketq does not create buckets). */
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/` (default: none). */
  prefix?: string;
  /** Project for billing of requester-pays buckets; normally taken from ADC. */
  projectId?: string;
  /**
   * API endpoint for tests and emulators, e.g. `http://127.0.0.1:4443`. The SDK sends no
   * credentials to a custom endpoint.
   */
  apiEndpoint?: string;
  /** Milliseconds before one HTTP attempt is abandoned (default 10000). */
  requestTimeoutMs?: number;
  /** Backoff for transient failures (defaults in cloud-call.ts). */
  retry?: CloudRetryOptions;
  /** Minimum ms between writes to one object that the commit loop keeps (default 1000, GCS's documented rate). */
  minWriteIntervalMs?: number;
  /** Objects per list request (default 1000, GCS's maximum); small values are for tests. */
  listPageSize?: number;
}

/** Sorts an SDK error into the kinds of cloud-call.ts. */
export function classifyGcsError(err: unknown, timedOut: boolean): FailureKind {
  if (timedOut) return 'unknown';
  const e = (err ?? {}) as { code?: unknown; type?: unknown; message?: unknown };
  const status = typeof e.code === 'number' ? e.code : undefined;
  if (status === 412) return 'conflict';
  if (status === 429) return 'unsent';
  // A 5xx or 408 on a write may have been applied; only a re-read can tell (cloud-call decides).
  if (status !== undefined && (status >= 500 || status === 408)) return 'unknown';
  if (status !== undefined && status >= 400) return 'fatal';
  if (isUnsentNetworkError(err)) return 'unsent';
  // No credentials found: google-auth-library fails before anything is sent.
  if (typeof e.message === 'string' && /Could not load the default credentials/i.test(e.message)) return 'fatal';
  if (networkCode(err) !== undefined || e.type === 'request-timeout' || e.type === 'body-timeout') return 'unknown';
  return 'unknown';
}

interface Media {
  body: Buffer;
  /** The response's headers (x-goog-generation, content-range). */
  header(name: string): string | undefined;
}

/**
 * Downloads an object (or the inclusive byte range `range`) and the headers of the very response
 * that carries the bytes. null when the object does not exist; 'unsatisfiable' on 416 (a range
 * starting at or past the end of an object that exists).
 */
function media(bucket: Bucket, name: string, signal: AbortSignal, range?: { first: number; last: number }): Promise<Media | null | 'unsatisfiable'> {
  return new Promise((resolve, reject) => {
    // validation: false because bodies are tiny JSON, and the hash check would buffer anyway (the
    // SDK cannot check a range's hash at all).
    const stream = bucket.file(name).createReadStream({ validation: false, decompress: true, ...(range ? { start: range.first, end: range.last } : {}) });
    let headers: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    const abort = (): void => void stream.destroy(signal.reason as Error);
    signal.addEventListener('abort', abort, { once: true });
    stream.on('response', (res: { headers?: Record<string, unknown> }) => {
      headers = res.headers ?? {};
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (err: { code?: unknown }) => {
      signal.removeEventListener('abort', abort);
      if (err.code === 404) resolve(null);
      else if (err.code === 416 && range) resolve('unsatisfiable');
      else reject(err);
    });
    stream.on('end', () => {
      signal.removeEventListener('abort', abort);
      const header = (h: string): string | undefined => {
        const v = headers[h];
        return Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
      };
      resolve({ body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), header });
    });
  });
}

/** Reads an object with the generation from the same response (the x-goog-generation header). */
async function download(bucket: Bucket, name: string, signal: AbortSignal): Promise<StoredObject | null> {
  const got = await media(bucket, name, signal);
  if (got === null || got === 'unsatisfiable') return null;
  const generation = got.header('x-goog-generation');
  if (!generation || !/^\d+$/.test(generation)) throw new QueueError('STORE_UNAVAILABLE', `gcs: read ${name} returned no x-goog-generation header`);
  return { body: got.body, etag: generation };
}

/** A GCS store. Resolves once the SDK is loaded (no request is made yet). */
export async function createGcsStore(options: GcsStoreOptions): Promise<StorageDriver> {
  if (!options.bucket) throw new QueueError('INVALID_ARGUMENT', 'GCS store needs a bucket');
  const prefix = normalisePrefix(options.prefix ?? '');
  if (prefix !== '') assertValidPrefix(`${prefix}/`);
  const sdk = await importSdk('@google-cloud/storage', 'gs', () => import('@google-cloud/storage'));
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const storage: Storage = new sdk.Storage({
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
    // The SDK's own timeout aborts the HTTP request; ours (below) is a backstop a little later.
    timeout: timeoutMs,
    retryOptions: { autoRetry: false, maxRetries: 0, idempotencyStrategy: sdk.IdempotencyStrategy.RetryNever },
  });
  const bucket = storage.bucket(options.bucket);
  const policy: CallPolicy = {
    driver: DRIVER_NAME,
    timeoutMs: timeoutMs + 1000,
    retry: { ...DEFAULT_CLOUD_RETRY, ...options.retry },
    classify: classifyGcsError,
  };
  const objectName = (key: string): string => prefixedKey(prefix, key);
  const where = `${options.bucket}${prefix === '' ? '' : `/${prefix}`}`;
  let closed = false;
  const open = (): void => {
    if (closed) throw new QueueError('CLOSED', `GCS store ${where} is closed`);
  };

  return {
    name: DRIVER_NAME,
    minWriteIntervalMs: options.minWriteIntervalMs ?? 1000,

    async read(key: string): Promise<StoredObject | null> {
      assertValidKey(key);
      open();
      return cloudCall(policy, 'read', `read ${key}`, (signal) => download(bucket, objectName(key), signal));
    },

    async readRange(key: string, start: number, end: number): Promise<Uint8Array | null> {
      assertValidKey(key);
      assertValidRange(start, end);
      open();
      return cloudCall(policy, 'read', `read ${key} [${start}, ${end})`, async (signal) => {
        const got = await media(bucket, objectName(key), signal, httpRange(start, end));
        if (got === null) return null;
        if (got === 'unsatisfiable') return new Uint8Array(0); // the object ends at or before `start`
        // 206 carries Content-Range; an answer without one is the whole object.
        return sliceRange(got.body, contentRangeStart(got.header('content-range')) ?? 0, start, end);
      });
    },

    async write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }> {
      assertValidKey(key);
      const bytes = asBytes(body);
      open();
      let ifGenerationMatch: number | undefined;
      if (condition && 'ifMatch' in condition) {
        // A generation is a positive integer; anything else can never match (and 0 would mean "create").
        if (typeof condition.ifMatch !== 'string' || !/^[1-9]\d{0,20}$/.test(condition.ifMatch)) {
          throw new QueueError('STORE_CONFLICT', `Conditional write to ${key} failed: ${JSON.stringify(condition.ifMatch)} is not a generation`);
        }
        ifGenerationMatch = Number(condition.ifMatch);
        if (!Number.isSafeInteger(ifGenerationMatch)) {
          throw new QueueError('STORE_CONFLICT', `Conditional write to ${key} failed: generation ${condition.ifMatch} is out of range`);
        }
      } else if (condition && 'ifNoneMatch' in condition) {
        if (condition.ifNoneMatch !== '*') throw new QueueError('INVALID_ARGUMENT', 'ifNoneMatch only accepts "*"');
        ifGenerationMatch = 0;
      }
      const mode = ifGenerationMatch === undefined ? 'write' : 'conditional';
      return cloudCall(policy, mode, `write ${key}`, async (signal) => {
        // A fresh File per attempt: its metadata is filled from this upload's response only.
        const file = bucket.file(objectName(key));
        const upload = file.save(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
          resumable: false,
          validation: false,
          timeout: timeoutMs,
          metadata: { contentType: key.endsWith('.json') ? 'application/json' : 'application/octet-stream' },
          ...(ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch } }),
        });
        await abortable(upload, signal);
        const generation = file.metadata.generation;
        if (generation === undefined || !/^\d+$/.test(String(generation))) {
          throw new QueueError('STORE_AMBIGUOUS', `gcs: write ${key} returned no generation`);
        }
        return { etag: String(generation) };
      });
    },

    async list(keyPrefix: string): Promise<string[]> {
      assertValidPrefix(keyPrefix);
      open();
      const strip = prefix === '' ? 0 : prefix.length + 1;
      const keys: string[] = [];
      let pageToken: string | undefined;
      do {
        // One request per page, each retried on its own; the token makes a retried page resume.
        const [files, next] = await cloudCall(policy, 'read', `list ${keyPrefix}`, (signal) =>
          abortable(bucket.getFiles({ prefix: prefixedKey(prefix, keyPrefix), autoPaginate: false, maxResults: options.listPageSize ?? 1000, pageToken }), signal),
        );
        for (const file of files) keys.push(file.name.slice(strip));
        pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken || undefined;
      } while (pageToken);
      return keys.sort();
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      open();
      await cloudCall(policy, 'read', `delete ${key}`, async (signal) => {
        await abortable(bucket.file(objectName(key)).delete({ ignoreNotFound: true }), signal);
      });
    },

    async close(): Promise<void> {
      // The SDK's keep-alive agents are shared per process and let idle sockets go; nothing to release.
      closed = true;
    },
  };
}

/**
 * Rejects when `signal` fires. The SDK's own timeout (set slightly shorter) aborts the HTTP request
 * itself; this only guarantees that a caller is never left waiting on a call that never settles.
 */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/** Options from `gs://BUCKET/PREFIX`; credentials come from ADC. */
export function gcsOptionsFromUrl({ location, url }: Target): GcsStoreOptions {
  if (!location.startsWith('//')) throw invalid(url, 'write gs://BUCKET/PREFIX (with two slashes)');
  const [bucket = '', ...rest] = location.slice(2).split('/');
  if (!BUCKET_NAME.test(bucket)) {
    throw invalid(url, `bucket name ${JSON.stringify(bucket)} must be 3-222 lowercase letters, digits, -, _ and .`);
  }
  const prefix = normalisePrefix(rest.join('/'));
  try {
    if (prefix !== '') assertValidPrefix(`${prefix}/`);
  } catch {
    throw invalid(url, `key prefix ${JSON.stringify(prefix)} may hold only A-Z a-z 0-9 _ . = - and non-empty / segments`);
  }
  return { bucket, prefix };
}
