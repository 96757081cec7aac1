/**
 * Bundles the dashboard (src/dashboard, Preact + uPlot) into dist/dashboard/ for the broker to
 * serve: minified ESM and CSS with content hashes in their names (so the broker can mark them
 * immutable), an index.html naming them, and manifest.json. No CDN, nothing fetched at run time.
 *
 * Run: `npm run build:dashboard` (also part of `npm start` and `npm run build`). Tests call
 * {@link buildDashboard} directly. Takes well under a second.
 *
 * Builds are safe beside a broker serving the same directory: new hashed files are written
 * first, index.html is replaced by a rename (never seen half-written), and only then are the
 * previous build's files removed.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DASHBOARD_SOURCE = path.join(ROOT, 'src', 'dashboard', 'main.tsx');
export const DASHBOARD_OUT = path.join(ROOT, 'dist', 'dashboard');
/** The URL prefix the broker serves the assets under (docs/http-api.md, "Dashboard"). */
const ASSET_URL = '/dashboard/assets/';

/** Three stacked bars: a queue. */
const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2563eb"/><rect x="3" y="3.5" width="10" height="2" fill="#fff"/><rect x="3" y="7" width="10" height="2" fill="#fff"/><rect x="3" y="10.5" width="6" height="2" fill="#fff"/></svg>\n';

export interface DashboardManifest {
  /** File names inside assets/. */
  js: string;
  css: string | null;
  icon: string;
  builtAt: string;
}

function indexHtml(manifest: DashboardManifest): string {
  // No inline script or style: the broker's Content-Security-Policy is default-src 'self'.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>bucketq</title>
<link rel="icon" type="image/svg+xml" href="${ASSET_URL}${manifest.icon}">
${manifest.css ? `<link rel="stylesheet" href="${ASSET_URL}${manifest.css}">\n` : ''}<script type="module" src="${ASSET_URL}${manifest.js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The bucketq dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}

/** Builds into `outDir` (default dist/dashboard) and returns the manifest. */
export async function buildDashboard(outDir: string = DASHBOARD_OUT): Promise<DashboardManifest> {
  const assets = path.join(outDir, 'assets');
  await mkdir(assets, { recursive: true });
  const result = await build({
    entryPoints: [DASHBOARD_SOURCE],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(ROOT, 'src', 'dashboard', 'tsconfig.json'),
    outdir: assets,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    sourcemap: false,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  // The browser asks for an icon anyway; one file of our own spares every page load a 404.
  const icon = `favicon-${createHash('sha256').update(ICON).digest('hex').slice(0, 8)}.svg`;
  await writeFile(path.join(assets, icon), ICON);
  const written = [...Object.keys(result.metafile.outputs).map((f) => path.basename(f)), icon];
  const js = written.find((f) => f.endsWith('.js'));
  if (!js) throw new Error('esbuild wrote no JavaScript for the dashboard');
  const manifest: DashboardManifest = { js, css: written.find((f) => f.endsWith('.css')) ?? null, icon, builtAt: new Date().toISOString() };

  for (const [name, body] of [
    ['manifest.json', `${JSON.stringify(manifest, null, 2)}\n`],
    ['index.html', indexHtml(manifest)],
  ] as const) {
    const tmp = path.join(outDir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, body);
    await rename(tmp, path.join(outDir, name));
  }
  const keep = new Set(written);
  for (const old of await readdir(assets)) if (!keep.has(old)) await rm(path.join(assets, old), { force: true });
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  buildDashboard().then(
    (m) => console.log(`dashboard built in ${Math.round(performance.now() - started)} ms: ${path.relative(process.cwd(), DASHBOARD_OUT)}/ (${m.js}${m.css ? `, ${m.css}` : ''})`),
    (err: unknown) => {
      console.error(`build:dashboard failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
