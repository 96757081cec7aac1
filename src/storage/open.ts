/**
 * Opens a store from a URL, so that the CLI, examples and config files name storage with one string:
 *
 *   memory://              a fresh in-process store
 *   memory://NAME          the in-process store NAME (one per name per process; handy in tests)
 *   file:PATH              a directory; relative paths resolve against `cwd` (file:./data, file:data)
 *   file:/ABS, file:///ABS an absolute directory (file:// URLs are percent-decoded)
 *   s3://BUCKET/PREFIX     S3 or an S3-compatible store (?region=, ?endpoint=, ?forcePathStyle=true)
 *
 * Query parameters: `latency`, `jitter`, `failRate`, `ambiguousRate`, `seed` wrap the store with
 * {@link withFaults}; `minWriteInterval` (ms) overrides the driver's minWriteIntervalMs.
 *
 * Drivers are loaded with dynamic import from one table, so a memory user never loads fs code and
 * a cloud driver (with its SDK) costs one line here when it arrives.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueError } from '../errors.js';
import type { FaultOptions } from './faulty.js';
import { FAULT_PARAMS, invalid, type Target } from './store-url.js';
import type { StorageDriver } from './types.js';

export { invalid, PLAIN_PARAMS, type Target } from './store-url.js';

export interface OpenStoreOptions {
  /** Base for relative `file:` paths; defaults to process.cwd(). */
  cwd?: string;
}

interface DriverEntry {
  /** Query parameters of this driver's own (region, endpoint, ...); anything else unknown is refused. */
  params?: readonly string[];
  load(target: Target): Promise<StorageDriver>;
}

const namedMemoryStores = new Map<string, StorageDriver>();

const DRIVERS: Record<string, DriverEntry> = {
  memory: { load: async ({ location, url }) => {
    const { createMemoryStore } = await import('./memory.js');
    if (location !== '' && !location.startsWith('//')) throw invalid(url, 'write memory://NAME (with two slashes)');
    const name = location.slice(2);
    if (name === '') return createMemoryStore();
    let store = namedMemoryStores.get(name);
    if (!store) namedMemoryStores.set(name, (store = createMemoryStore()));
    return store;
  } },
  file: { load: async (target) => {
    const { createFileStore } = await import('./fs.js');
    return createFileStore({ root: filePath(target) });
  } },
  s3: { params: ['region', 'endpoint', 'forcePathStyle'], load: async (target) => {
    const { createS3Store, loadS3Sdk, s3OptionsFromUrl } = await import('./s3.js');
    const options = s3OptionsFromUrl(target);
    await loadS3Sdk(); // a missing SDK fails here, at open, with the package to install
    return createS3Store(options);
  } },
  az: { params: ['account', 'endpoint'], load: async (target) => {
    const { createAzureStore, azureOptionsFromUrl } = await import('./azure.js');
    return createAzureStore(azureOptionsFromUrl(target));
  } },
  gs: { load: async (target) => {
    const { createGcsStore, gcsOptionsFromUrl } = await import('./gcs.js');
    return createGcsStore(gcsOptionsFromUrl(target));
  } },
};

function filePath({ location, url, cwd }: Target): string {
  if (location.startsWith('//')) {
    try {
      return fileURLToPath(`file:${location}`);
    } catch (err) {
      throw invalid(url, `file:// needs an absolute path such as file:///var/lib/bucketq (use file:data for a relative one); ${(err as Error).message}`);
    }
  }
  if (location === '') throw invalid(url, 'the file: path is empty');
  return path.resolve(cwd, location);
}

function parseNumber(url: string, name: string, raw: string, max: number): number {
  const value = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > max) {
    const range = max === Infinity ? 'a non-negative number' : `a number between 0 and ${max}`;
    throw invalid(url, `query parameter ${name} must be ${range}, got ${JSON.stringify(raw)}`);
  }
  if (name === 'seed' && !Number.isInteger(value)) throw invalid(url, `query parameter seed must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** Keeps `inner` (ranged reads too, when it has them) but reports another minWriteIntervalMs. */
function withMinWriteInterval(inner: StorageDriver, ms: number): StorageDriver {
  const { readRange } = inner;
  return {
    name: inner.name,
    minWriteIntervalMs: ms,
    read: (key) => inner.read(key),
    ...(readRange ? { readRange: (key: string, start: number, end: number) => readRange.call(inner, key, start, end) } : {}),
    write: (key, body, condition) => inner.write(key, body, condition),
    list: (prefix) => inner.list(prefix),
    delete: (key) => inner.delete(key),
    close: () => inner.close(),
  };
}

/** Opens the store named by `url`; throws QueueError INVALID_ARGUMENT on anything it cannot parse. */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<StorageDriver> {
  if (typeof url !== 'string') throw new QueueError('INVALID_ARGUMENT', 'Store URL must be a string');
  const schemeMatch = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!schemeMatch) throw invalid(url, 'expected scheme:location, e.g. memory:// or file:./data');
  const scheme = schemeMatch[1]!.toLowerCase();
  const rest = url.slice(schemeMatch[0].length);
  const q = rest.indexOf('?');
  const location = q === -1 ? rest : rest.slice(0, q);

  const entry = Object.hasOwn(DRIVERS, scheme) ? DRIVERS[scheme] : undefined;
  if (!entry) {
    throw invalid(url, `unknown scheme ${JSON.stringify(scheme)} (supported: ${Object.keys(DRIVERS).join(', ')})`);
  }
  const own = entry.params ?? [];

  const faults: FaultOptions = {};
  const params = new Map<string, string>();
  let minWriteInterval: number | undefined;
  for (const [name, raw] of new URLSearchParams(q === -1 ? '' : rest.slice(q + 1))) {
    if (params.has(name) || Object.hasOwn(faults, name) || (name === 'minWriteInterval' && minWriteInterval !== undefined)) {
      throw invalid(url, `query parameter ${name} is given twice`);
    }
    if (name === 'minWriteInterval') minWriteInterval = parseNumber(url, name, raw, Infinity);
    else if (Object.hasOwn(FAULT_PARAMS, name)) {
      const key = name as keyof FaultOptions;
      faults[key] = parseNumber(url, name, raw, FAULT_PARAMS[key]);
    } else if (own.includes(name)) {
      params.set(name, raw);
    } else {
      const known = [...own, 'minWriteInterval', ...Object.keys(FAULT_PARAMS)].join(', ');
      throw invalid(url, `unknown query parameter ${JSON.stringify(name)} (known: ${known})`);
    }
  }

  let store = await entry.load({ location, url, cwd: opts.cwd ?? process.cwd(), params });
  if (minWriteInterval !== undefined) store = withMinWriteInterval(store, minWriteInterval);
  if (Object.keys(faults).length > 0) {
    const { withFaults } = await import('./faulty.js');
    store = withFaults(store, faults);
  }
  return store;
}
