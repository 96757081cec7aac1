/**
 * Azure Blob Storage on the official SDK (@azure/storage-blob, an optional peer dependency loaded
 * only when an az:// store is opened).
 *
 * Compare-and-swap is a block-blob upload with `If-Match: <etag>` (replace) or `If-None-Match: *`
 * (create). Azure answers a failed condition with 412 ConditionNotMet, an existing blob under
 * If-None-Match with 409 BlobAlreadyExists, and If-Match on a missing blob with 412: all three
 * are STORE_CONFLICT. ETags change on every write (they are not content hashes), so an etag never
 * repeats for a key.
 *
 * The SDK's retry policy is set to one try: it would otherwise re-send a conditional upload after a
 * timeout or a 500, and a 412 on that second try may only mean that the first one landed. Retries,
 * timeouts and the mapping of outcomes live in cloud-call.ts, shared with GCS. Keep-alive is on by
 * default in the SDK's Node HTTP client, so connections are reused.
 *
 * Credentials (never hand-rolled signing): a connection string (Azurite uses one), a shared key,
 * or any TokenCredential, by default @azure/identity's DefaultAzureCredential (managed identity,
 * workload identity, az login, environment), which is loaded only when it is needed.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { ContainerClient, StoragePipelineOptions } from '@azure/storage-blob';
import { QueueError } from '../errors.js';
import { cloudCall, DEFAULT_CLOUD_RETRY, isUnsentNetworkError, networkCode, type CallPolicy, type CloudRetryOptions, type FailureKind } from './cloud-call.js';
import { asBytes, assertValidKey, assertValidPrefix, assertValidRange, contentRangeStart, httpRange, sliceRange } from './keys.js';
import { invalid, type Target } from './store-url.js';
import { importSdk, normalisePrefix, prefixedKey } from './sdk.js';
import type { StorageDriver, StoredObject, WriteCondition } from './types.js';

export const DRIVER_NAME = 'azure';

export interface AzureStoreOptions {
  /** The blob container; it must exist (bucketq does not create containers). */
  container: string;
  /** Key prefix inside the container, without leading or trailing `/` (default: none). */
  prefix?: string;
  /**
   * A storage connection string (`DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;` or
   * with `BlobEndpoint=`, as Azurite prints). Takes precedence over `account`.
   */
  connectionString?: string;
  /** Storage account name; the endpoint defaults to `https://ACCOUNT.blob.core.windows.net`. */
  account?: string;
  /** Blob service endpoint URL, for emulators and sovereign clouds (default from `account`). */
  endpoint?: string;
  /** Shared key of `account`. Without it (and without a connection string) `credential` is used. */
  accountKey?: string;
  /** A token credential; defaults to DefaultAzureCredential from @azure/identity. */
  credential?: TokenCredential;
  /** Milliseconds before one HTTP attempt is abandoned (default 10000). */
  requestTimeoutMs?: number;
  /** Backoff for transient failures (defaults in cloud-call.ts). */
  retry?: CloudRetryOptions;
  /** Minimum ms between writes to one blob that the commit loop keeps (default 0). */
  minWriteIntervalMs?: number;
  /** Blobs per list request (default 5000, Azure's maximum); small values are for tests. */
  listPageSize?: number;
}

interface RestLikeError {
  statusCode?: number;
  code?: string;
  name?: string;
}

/** Sorts an SDK error into the kinds of cloud-call.ts. */
export function classifyAzureError(err: unknown, timedOut: boolean): FailureKind {
  if (timedOut) return 'unknown';
  const { statusCode, code } = (err ?? {}) as RestLikeError;
  if (statusCode === 412) return 'conflict';
  if (statusCode === 409 && code === 'BlobAlreadyExists') return 'conflict';
  if (statusCode === 429) return 'unsent';
  // A 5xx or 408 on a write may have been applied; only a re-read can tell (cloud-call decides).
  if (statusCode !== undefined && (statusCode >= 500 || statusCode === 408)) return 'unknown';
  if (statusCode !== undefined && statusCode >= 400) return 'fatal';
  if (isUnsentNetworkError(err)) return 'unsent';
  if (networkCode(err) !== undefined) return 'unknown'; // ECONNRESET, EPIPE, ETIMEDOUT: maybe sent
  return 'unknown';
}

function status(err: unknown): number | undefined {
  return (err as RestLikeError | undefined)?.statusCode;
}

function errorCode(err: unknown): string | undefined {
  return (err as RestLikeError | undefined)?.code;
}

async function streamToBytes(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** Builds the ContainerClient from whichever credentials the options carry. */
async function containerClientFor(options: AzureStoreOptions, pipeline: StoragePipelineOptions): Promise<ContainerClient> {
  const sdk = await importSdk('@azure/storage-blob', 'az', () => import('@azure/storage-blob'));
  if (options.connectionString) {
    return sdk.BlobServiceClient.fromConnectionString(options.connectionString, pipeline).getContainerClient(options.container);
  }
  if (!options.account && !options.endpoint) {
    throw new QueueError('INVALID_ARGUMENT', 'Azure store needs a connection string, an account or an endpoint');
  }
  const endpoint = options.endpoint ?? `https://${options.account}.blob.core.windows.net`;
  let credential: InstanceType<typeof sdk.StorageSharedKeyCredential> | TokenCredential;
  if (options.accountKey) {
    if (!options.account) throw new QueueError('INVALID_ARGUMENT', 'Azure shared key needs the account name');
    credential = new sdk.StorageSharedKeyCredential(options.account, options.accountKey);
  } else if (options.credential) {
    credential = options.credential;
  } else {
    const identity = await importSdk('@azure/identity', 'az', () => import('@azure/identity'));
    credential = new identity.DefaultAzureCredential();
  }
  return new sdk.BlobServiceClient(endpoint, credential, pipeline).getContainerClient(options.container);
}

/** An Azure Blob store. Resolves once the SDK is loaded (no request is made yet). */
export async function createAzureStore(options: AzureStoreOptions): Promise<StorageDriver> {
  if (!options.container) throw new QueueError('INVALID_ARGUMENT', 'Azure store needs a container');
  const prefix = normalisePrefix(options.prefix ?? '');
  if (prefix !== '') assertValidPrefix(`${prefix}/`);
  // One try per SDK call: retries are ours (see the header comment).
  const container = await containerClientFor(options, { retryOptions: { maxTries: 1 }, keepAliveOptions: { enable: true } });
  const policy: CallPolicy = {
    driver: DRIVER_NAME,
    timeoutMs: options.requestTimeoutMs ?? 10_000,
    retry: { ...DEFAULT_CLOUD_RETRY, ...options.retry },
    classify: classifyAzureError,
  };
  const blobName = (key: string): string => prefixedKey(prefix, key);
  const where = `${options.container}${prefix === '' ? '' : `/${prefix}`}`;
  let closed = false;
  const open = (): void => {
    if (closed) throw new QueueError('CLOSED', `Azure store ${where} is closed`);
  };

  return {
    name: DRIVER_NAME,
    minWriteIntervalMs: options.minWriteIntervalMs ?? 0,

    async read(key: string): Promise<StoredObject | null> {
      assertValidKey(key);
      open();
      return cloudCall(policy, 'read', `read ${key}`, async (abortSignal) => {
        try {
          // Body and etag come from the same response, so they always belong together.
          const res = await container.getBlobClient(blobName(key)).download(0, undefined, { abortSignal });
          const body = res.readableStreamBody ? await streamToBytes(res.readableStreamBody) : new Uint8Array(0);
          if (!res.etag) throw new QueueError('STORE_UNAVAILABLE', `azure: read ${key} returned no ETag`);
          return { body, etag: res.etag };
        } catch (err) {
          if (status(err) === 404 && errorCode(err) !== 'ContainerNotFound') return null;
          throw err;
        }
      });
    },

    async readRange(key: string, start: number, end: number): Promise<Uint8Array | null> {
      assertValidKey(key);
      assertValidRange(start, end);
      open();
      const { first, last } = httpRange(start, end);
      return cloudCall(policy, 'read', `read ${key} [${start}, ${end})`, async (abortSignal) => {
        try {
          const res = await container.getBlobClient(blobName(key)).download(first, last - first + 1, { abortSignal });
          const body = res.readableStreamBody ? await streamToBytes(res.readableStreamBody) : new Uint8Array(0);
          // 206 carries Content-Range; an answer without one is the whole blob.
          return sliceRange(body, contentRangeStart(res.contentRange) ?? 0, start, end);
        } catch (err) {
          if (status(err) === 404 && errorCode(err) !== 'ContainerNotFound') return null;
          // 416 InvalidRange: the blob exists and ends at or before `start` (or is empty).
          if (status(err) === 416) return new Uint8Array(0);
          throw err;
        }
      });
    },

    async write(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<{ etag: string }> {
      assertValidKey(key);
      const bytes = asBytes(body);
      open();
      let conditions: { ifMatch?: string; ifNoneMatch?: string } | undefined;
      if (condition && 'ifMatch' in condition) {
        // The SDK drops an empty header, which would turn the write unconditional.
        if (typeof condition.ifMatch !== 'string' || condition.ifMatch === '') {
          throw new QueueError('STORE_CONFLICT', `Conditional write to ${key} failed: empty etag`);
        }
        conditions = { ifMatch: condition.ifMatch };
      } else if (condition && 'ifNoneMatch' in condition) {
        if (condition.ifNoneMatch !== '*') throw new QueueError('INVALID_ARGUMENT', 'ifNoneMatch only accepts "*"');
        conditions = { ifNoneMatch: '*' };
      }
      const mode = conditions ? 'conditional' : 'write';
      return cloudCall(policy, mode, `write ${key}`, async (abortSignal) => {
        try {
          const res = await container.getBlockBlobClient(blobName(key)).upload(bytes, bytes.byteLength, {
            abortSignal,
            conditions,
            blobHTTPHeaders: { blobContentType: key.endsWith('.json') ? 'application/json' : 'application/octet-stream' },
          });
          if (!res.etag) throw new QueueError('STORE_AMBIGUOUS', `azure: write ${key} returned no ETag`);
          return { etag: res.etag };
        } catch (err) {
          // If-Match on a missing blob: Azure answers 412, but a 404 means the same thing.
          if (conditions?.ifMatch && status(err) === 404 && errorCode(err) === 'BlobNotFound') {
            throw new QueueError('STORE_CONFLICT', `Conditional write to ${key} failed: the blob does not exist`, { cause: err });
          }
          throw err;
        }
      });
    },

    async list(keyPrefix: string): Promise<string[]> {
      assertValidPrefix(keyPrefix);
      open();
      const strip = prefix === '' ? 0 : prefix.length + 1;
      const keys: string[] = [];
      let continuationToken: string | undefined;
      do {
        // One request per page, each retried on its own; the token makes a retried page resume.
        const page = await cloudCall(policy, 'read', `list ${keyPrefix}`, async (abortSignal) => {
          const pages = container.listBlobsFlat({ prefix: prefixedKey(prefix, keyPrefix), abortSignal }).byPage({ continuationToken, maxPageSize: options.listPageSize ?? 5000 });
          const next = await pages.next();
          return next.done ? undefined : next.value;
        });
        for (const item of page?.segment.blobItems ?? []) keys.push(item.name.slice(strip));
        continuationToken = page?.continuationToken || undefined;
      } while (continuationToken);
      return keys.sort();
    },

    async delete(key: string): Promise<void> {
      assertValidKey(key);
      open();
      await cloudCall(policy, 'read', `delete ${key}`, async (abortSignal) => {
        await container.getBlobClient(blobName(key)).deleteIfExists({ abortSignal, deleteSnapshots: 'include' });
      });
    },

    async close(): Promise<void> {
      // The SDK's keep-alive agent is shared and unrefs idle sockets; nothing else to release.
      closed = true;
    },
  };
}

const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/**
 * Options from `az://CONTAINER/PREFIX?account=NAME&endpoint=URL` and the standard environment:
 * with `account` (or AZURE_STORAGE_ACCOUNT) the shared key AZURE_STORAGE_KEY if set, otherwise
 * DefaultAzureCredential; without an account, the connection string AZURE_STORAGE_CONNECTION_STRING.
 */
export function azureOptionsFromUrl({ location, url, params }: Target, env: NodeJS.ProcessEnv = process.env): AzureStoreOptions {
  if (!location.startsWith('//')) throw invalid(url, 'write az://CONTAINER/PREFIX (with two slashes)');
  const [container = '', ...rest] = location.slice(2).split('/');
  if (!CONTAINER_NAME.test(container)) {
    throw invalid(url, `container name ${JSON.stringify(container)} must be 3-63 lowercase letters, digits and single hyphens`);
  }
  const prefix = normalisePrefix(rest.join('/'));
  try {
    if (prefix !== '') assertValidPrefix(`${prefix}/`);
  } catch {
    throw invalid(url, `key prefix ${JSON.stringify(prefix)} may hold only A-Z a-z 0-9 _ . = - and non-empty / segments`);
  }
  const endpoint = params.get('endpoint');
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) throw invalid(url, `endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  const account = params.get('account') ?? (endpoint === undefined && !env.AZURE_STORAGE_CONNECTION_STRING ? env.AZURE_STORAGE_ACCOUNT : undefined);
  if (account !== undefined && !/^[a-z0-9]{3,24}$/.test(account)) throw invalid(url, `account must be 3-24 lowercase letters and digits, got ${JSON.stringify(account)}`);
  const base: AzureStoreOptions = { container, prefix };
  if (account !== undefined || endpoint !== undefined) {
    // A key in the environment belongs to AZURE_STORAGE_ACCOUNT; never send it to another account.
    const keyFits = env.AZURE_STORAGE_KEY && account !== undefined && (!env.AZURE_STORAGE_ACCOUNT || env.AZURE_STORAGE_ACCOUNT === account);
    return { ...base, account, endpoint, accountKey: keyFits ? env.AZURE_STORAGE_KEY : undefined };
  }
  if (env.AZURE_STORAGE_CONNECTION_STRING) return { ...base, connectionString: env.AZURE_STORAGE_CONNECTION_STRING };
  throw invalid(url, 'name the storage account with ?account=NAME (or AZURE_STORAGE_ACCOUNT), or set AZURE_STORAGE_CONNECTION_STRING');
}
