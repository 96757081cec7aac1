#!/usr/bin/env node
/**
 * npm's `prepare` hook: builds dist/ as `npm run build` does (tsc -p tsconfig.build.json, then the
 * dashboard bundle the broker serves from dist/dashboard/). npm runs it on a plain `npm install`
 * in a checkout, when bucketq is installed from a git URL (with its devDependencies, for this),
 * and inside `npm pack` / `npm publish` (after `prepack` emptied dist/). It never runs when a
 * published tarball is installed: that already holds dist/.
 *
 * Plain JavaScript, so it runs before anything is compiled. Two modes:
 * - packing (`npm pack`, `npm publish`, or `--strict`): any failure fails, so no package without
 *   its code is ever made;
 * - installing: a failed build must not stop `npm install && npm test` or `npm start` in a
 *   checkout (both run the TypeScript sources through tsx), so it is reported in one line and the
 *   install goes on; the `bucketq` command then says it is not built. Without the devDependencies
 *   (`npm install --omit=dev`) there is nothing to build with, which is said the same way.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict') || ['pack', 'publish'].includes(process.env.npm_command ?? '');
const require = createRequire(path.join(ROOT, 'package.json'));

/** Ends the script: non-zero only when packing. */
function stop(message) {
  console.error(`bucketq: ${message}`);
  process.exit(strict ? 1 : 0);
}

function installed(id) {
  try {
    return require.resolve(id);
  } catch {
    return null;
  }
}

const tsc = installed('typescript/bin/tsc');
if (!tsc || !installed('tsx/package.json') || !installed('esbuild')) {
  stop('not built: TypeScript, tsx or esbuild is missing (devDependencies omitted?); run `npm install` with them, then `npm run build`');
}

const started = performance.now();
const steps = [
  ['tsc -p tsconfig.build.json', [tsc, '-p', 'tsconfig.build.json']],
  ['the dashboard bundle (scripts/build-dashboard.ts)', ['--import', 'tsx', 'scripts/build-dashboard.ts']],
];
const failed = [];
for (const [what, args] of steps) {
  // Each step runs even after one failed: tsc writes dist/ despite type errors, and the dashboard
  // is what `npm start` serves.
  // Everything goes to stderr: stdout belongs to the npm command (`npm pack --json` prints JSON).
  const run = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  if (run.status !== 0) failed.push(`${what} (exit ${run.status ?? run.signal ?? run.error?.message})`);
}
if (failed.length) {
  stop(`build failed: ${failed.join(', ')}${strict ? '' : '; the install goes on, `npm run build` shows the errors again'}`);
}
console.error(`bucketq: built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
