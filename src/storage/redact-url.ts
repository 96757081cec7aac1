/**
 * A store URL fit to show on a page or in a log: credentials out. Store URLs may carry them in
 * userinfo (`s3://KEY:SECRET@bucket`), in query parameters (`?accessKeyId=…&secretAccessKey=…`,
 * `?sig=…`, SAS tokens) and in Azure connection strings (`AccountKey=…;SharedAccessSignature=…`).
 * Anything that might be a secret is replaced by `***`; the rest stays, so operators still see
 * which bucket, prefix, region and endpoint the broker runs on.
 */

import { PLAIN_PARAMS as PLAIN_URL_PARAMS } from './store-url.js';

/**
 * Query parameters known to hold nothing secret; every other parameter's value is hidden. Those
 * of open.ts (where store URLs are parsed), plus names of places shown on a page but not quoted
 * in open.ts's error messages.
 */
const PLAIN_PARAMS = new Set([...PLAIN_URL_PARAMS, 'project', 'container', 'account']);

/** `name=value` pairs inside a string (connection strings, SAS tokens) whose value is a secret. */
const SECRET_PAIRS = /\b(AccountKey|SharedAccessSignature|SharedAccessKey|sig|password|pwd|secret|token|key|credentials?)=([^;&\s]*)/gi;

function hideUserinfo(text: string): string {
  return text.replace(/\/\/[^/@?#]*@/g, '//***@');
}

export function redactStoreUrl(url: string): string {
  const q = url.indexOf('?');
  const head = hideUserinfo(q === -1 ? url : url.slice(0, q)).replace(SECRET_PAIRS, (_m, name: string) => `${name}=***`);
  if (q === -1) return head;
  const parts = url
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      if (eq === -1) return name;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep it as written
      }
      if (!PLAIN_PARAMS.has(decoded)) return `${name}=***`;
      // An endpoint may be a URL with credentials of its own, percent-encoded or not.
      const raw = pair.slice(eq + 1);
      let value = raw;
      try {
        value = decodeURIComponent(raw);
      } catch {
        // keep it as written
      }
      const clean = hideUserinfo(value).replace(SECRET_PAIRS, (_m, n: string) => `${n}=***`);
      return `${name}=${clean === value ? raw : encodeURIComponent(clean)}`;
    });
  return parts.length > 0 ? `${head}?${parts.join('&')}` : head;
}
