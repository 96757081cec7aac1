/**
 * Lazy loading of the cloud SDKs. They are optional peer dependencies: a user of `file:` never
 * installs or loads them, and a user who names `s3://` without the SDK gets one line saying which
 * package to install instead of a stack trace from the module loader.
 */
import { QueueError } from '../errors.js';

/**
 * Runs `load` (a literal `import('pkg')`, so TypeScript keeps the SDK's types) and turns "package
 * not installed" into FAILED_PRECONDITION naming `pkg` and the scheme that needed it.
 */
export async function importSdk<T>(pkg: string, scheme: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = String((err as { message?: unknown }).message ?? '');
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(pkg)) {
      throw new QueueError('FAILED_PRECONDITION', `${scheme}:// stores need the package ${pkg}; install it with: npm install ${pkg}`, { cause: err });
    }
    throw err;
  }
}

/** Joins a store's key prefix (`''` or `a/b`) and a key. */
export function prefixedKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`;
}

/** Normalises a URL's path part into a prefix without leading or trailing slashes. */
export function normalisePrefix(raw: string): string {
  return raw.replace(/^\/+|\/+$/g, '');
}
