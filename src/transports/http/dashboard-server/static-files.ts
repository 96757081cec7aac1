/**
 * The dashboard's files, as built by `npm run build:dashboard` into dist/dashboard/ (index.html,
 * hashed assets, manifest.json), served by the broker itself: no CDN, nothing fetched at run time.
 *
 * Every answer carries a strict Content-Security-Policy (only this origin's scripts, styles and
 * connections; no framing, no plugins), nosniff and no-referrer, and never a CORS header. Asset
 * names carry their content hash, so they are cached for a year as immutable; index.html is
 * revalidated every time, so a new build shows at the next load.
 */
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/dashboard/ of the package: four levels up from src/transports/http/dashboard-server/ (tsx) and from dist/transports/http/dashboard-server/. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../../dist/dashboard/', import.meta.url));

export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers every dashboard answer carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Asset names as the build writes them: one path segment, no dot files, nothing to climb out with. */
const ASSET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$/;

export interface StaticFile {
  body: Buffer;
  headers: Record<string, string>;
}

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/** index.html, or null when the dashboard is not built. */
export async function readIndex(dir: string): Promise<StaticFile | null> {
  try {
    const body = await readFile(join(dir, 'index.html'));
    return { body, headers: { 'content-type': TYPES['.html']!, 'cache-control': 'no-cache', 'content-security-policy': DASHBOARD_CSP, ...SECURITY_HEADERS } };
  } catch (err) {
    if (missing(err)) return null;
    throw err;
  }
}

/** One file of assets/, or null when there is no such asset (or the name is not one the build makes). */
export async function readAsset(dir: string, name: string): Promise<StaticFile | null> {
  if (!ASSET_NAME.test(name) || name.includes('..')) return null;
  const type = TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
  try {
    const body = await readFile(join(dir, 'assets', name));
    return {
      body,
      headers: { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', 'content-security-policy': DASHBOARD_CSP, ...SECURITY_HEADERS },
    };
  } catch (err) {
    if (missing(err)) return null;
    throw err;
  }
}
