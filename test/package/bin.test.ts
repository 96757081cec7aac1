/**
 * `bin/bucketq.js` without dist/ (a checkout where nothing was built, or an install whose build
 * npm skipped): one line saying what is wrong and what to do, exit 1, no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = path.join(import.meta.dirname, '..', '..', 'bin', 'bucketq.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'bucketq-bin-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a copy of the bin placed at `dir`/bin/bucketq.js, with no dist/ beside it. */
function runUnbuilt(dir: string) {
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  copyFileSync(BIN, path.join(dir, 'bin', 'bucketq.js'));
  return spawnSync(process.execPath, [path.join(dir, 'bin', 'bucketq.js'), '--help'], { encoding: 'utf8' });
}

describe('bucketq without a build', () => {
  it('in a checkout: says to build, in one line, and exits 1', () => {
    const dir = path.join(tmp, 'checkout');
    const run = runUnbuilt(dir);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`bucketq: not built: run \`npm install\` (or \`npm run build\`) in ${dir}\n`);
  });

  it('installed in node_modules: says npm skipped the build and what to do, in one line', () => {
    const dir = path.join(tmp, 'app', 'node_modules', 'bucketq');
    const run = runUnbuilt(dir);
    expect(run.status).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^bucketq: not built: .*node_modules[\\/]bucketq has no dist\/ .*npm install-scripts approve bucketq/);
  });
});
