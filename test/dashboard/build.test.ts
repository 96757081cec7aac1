/** scripts/build-dashboard.ts: what the broker serves must be complete, hashed and CSP-clean. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildDashboard } from '../../scripts/build-dashboard.js';

const dir = await mkdtemp(path.join(tmpdir(), 'bucketq-dashboard-build-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

it('writes index.html naming content-hashed assets that exist, with no inline script or style', async () => {
  const manifest = await buildDashboard(dir);
  const html = await readFile(path.join(dir, 'index.html'), 'utf8');
  const assets = await readdir(path.join(dir, 'assets'));
  for (const file of [manifest.js, manifest.css!, manifest.icon]) {
    expect(file).toMatch(/-[A-Za-z0-9]{8}\.(js|css|svg)$/);
    expect(assets).toContain(file);
    expect(html).toContain(`/dashboard/assets/${file}`);
  }
  // The broker's Content-Security-Policy is default-src 'self': nothing inline, nothing remote.
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/<style|style=/);
  expect(html).not.toMatch(/https?:\/\//);
  const js = await readFile(path.join(dir, 'assets', manifest.js), 'utf8');
  expect(js).not.toMatch(/\bimport\s*\(?["']https?:/);
  // uPlot's stylesheet is bundled with ours.
  expect(await readFile(path.join(dir, 'assets', manifest.css!), 'utf8')).toContain('.uplot');
  expect(JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'))).toEqual(manifest);
});

it('a rebuild removes the previous build\'s files and keeps the current ones', async () => {
  await writeFile(path.join(dir, 'assets', 'main-OLDHASH1.js'), 'old');
  const manifest = await buildDashboard(dir);
  expect((await readdir(path.join(dir, 'assets'))).sort()).toEqual([manifest.css!, manifest.icon, manifest.js].sort());
  expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});
