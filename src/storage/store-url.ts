/**
 * What the store-URL parser (open.ts) and the cloud drivers' URL readers (s3.ts, azure.ts, gcs.ts)
 * share: the parsed target, the query parameters known to hold no secret, and the
 * INVALID_ARGUMENT error that quotes a URL with its secrets hidden. A leaf module, so the drivers
 * need not import open.ts, which loads them.
 */
import { QueueError } from '../errors.js';
import type { FaultOptions } from './faulty.js';

export interface Target {
  /** Everything after `scheme:` and before `?`. */
  location: string;
  url: string;
  cwd: string;
  /** The query parameters this driver declares (its `params` in open.ts); the common ones are taken out. */
  params: Map<string, string>;
}

/** The fault-injection parameters of any store URL (faulty.ts) and the largest value each takes. */
export const FAULT_PARAMS = {
  latency: Infinity,
  jitter: Infinity,
  failRate: 1,
  ambiguousRate: 1,
  seed: Infinity,
} as const satisfies Record<keyof FaultOptions, number>;

/** Query parameters that never hold a secret; the values of all others may (keys, signatures). */
export const PLAIN_PARAMS: ReadonlySet<string> = new Set(['region', 'endpoint', 'forcePathStyle', 'minWriteInterval', ...Object.keys(FAULT_PARAMS)]);

/**
 * The message with every piece of the URL that may be a secret (userinfo such as KEY:SECRET@, the
 * values of other query parameters) replaced by ***, wherever it appears: the reason may quote the
 * location too. Errors end up in logs and terminals.
 */
function withoutSecrets(url: string, message: string): string {
  const secrets: string[] = [];
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(url)?.[1];
  if (userinfo) secrets.push(userinfo, ...userinfo.split(':').filter((p) => p.length >= 3));
  const q = url.indexOf('?');
  if (q !== -1) {
    for (const pair of url.slice(q + 1).split('&')) {
      const [name = '', value = ''] = pair.split(/=(.*)/s);
      if (value.length >= 3 && !PLAIN_PARAMS.has(name)) secrets.push(value);
    }
  }
  let out = message;
  for (const secret of secrets.sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}

export function invalid(url: string, why: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', withoutSecrets(url, `Invalid store URL ${JSON.stringify(url)}: ${why}`));
}
