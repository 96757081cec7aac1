/**
 * Vitest global setup: one radosgw for the whole run (booting Ceph takes 13–18 s, so once, not per
 * file), or the real bucket named by BUCKETQ_TEST_S3_URL.
 *
 * The boot is started here but not awaited, so the rest of the suite runs meanwhile; test files
 * ask a small loopback HTTP endpoint (its URL is provided as `s3Harness`), whose answer comes when
 * the server is up, or says why there is none (see s3-target.ts). A run whose file filters select
 * no S3 test does not boot Ceph at all.
 */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { CHROMIUM_PATH, ensureChromium } from './chromium.js';
import { ensureCeph, startRadosgw, type S3Server } from './radosgw.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** GET it for the run's S3 server: {@link HarnessAnswer} as JSON. */
    s3Harness: string;
    /** GET it for the run's headless browser: {@link ChromiumAnswer} as JSON (test/dashboard/). */
    chromiumHarness: string;
  }
}

export type HarnessAnswer =
  | { kind: 'radosgw'; endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string }
  | { kind: 'url'; url: string }
  | { kind: 'skip'; reason: string };

/** Debian's chromium at `path`, or why the dashboard tests cannot have it. */
export type ChromiumAnswer = { kind: 'chromium'; path: string } | { kind: 'skip'; reason: string };

/** The test files that use the server; the boot is skipped when the run's filters select none. */
const USERS = ['test/storage/s3.test.ts', 'test/cli/doctor.test.ts', 'test/e2e/s3.test.ts', 'test/broker/segments-s3.test.ts'];
/** The browser tests: chromium is installed (apt-get, about a minute) only when one is selected. */
const BROWSER_USERS = ['test/dashboard/'];

function selectedByFilters(root: string, users: readonly string[] = USERS): boolean {
  const start = process.argv.findIndex((a) => a === 'run' || a === 'watch' || a === 'dev');
  const args = process.argv.slice(start === -1 ? 2 : start + 1).filter((a) => !a.startsWith('-'));
  const files = (readdirSync(path.join(root, 'test'), { recursive: true }) as string[]).map((f) => `test/${f.split(path.sep).join('/')}`);
  // Vitest filters are substrings of file paths; an argument that matches no test file is a flag's value.
  const filters = args.filter((f) => files.some((file) => file.includes(f.replace(/^\.\//, ''))));
  return filters.length === 0 || filters.some((f) => users.some((file) => file.includes(f.replace(/^\.\//, '')) || f.replace(/^\.\//, '').startsWith(file)));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The bucket is made with the SDK in this process: no notice about old Node versions in the output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let answer: Promise<HarnessAnswer>;
  let server: S3Server | null = null;
  // Settles once Ceph's apt-get is over (or was never needed): the chromium install waits for it,
  // since two apt-gets at once fail on dpkg's lock.
  let cephInstalled: Promise<string | null> = Promise.resolve(null);
  const url = process.env.BUCKETQ_TEST_S3_URL;
  if (url) answer = Promise.resolve({ kind: 'url', url });
  else if (!selectedByFilters(project.config.root)) answer = Promise.resolve({ kind: 'skip', reason: 'radosgw was not started: no S3 test file matched the filters' });
  else {
    answer = (async (): Promise<HarnessAnswer> => {
      cephInstalled = ensureCeph((line) => console.log(`[radosgw] ${line}`));
      const missing = await cephInstalled;
      if (missing) return { kind: 'skip', reason: missing };
      const started = Date.now();
      server = await startRadosgw();
      console.log(`[radosgw] up at ${server.endpoint} in ${Date.now() - started} ms`);
      const { stop: _stop, ...rest } = server;
      return { kind: 'radosgw', ...rest };
    })().catch((err: unknown) => ({ kind: 'skip', reason: `radosgw did not start: ${(err as Error).message}` }));
  }
  // Started now, awaited by the dashboard tests through GET /chromium on the harness endpoint.
  const browser: Promise<ChromiumAnswer> = selectedByFilters(project.config.root, BROWSER_USERS)
    ? cephInstalled
        .catch(() => {})
        .then(() => ensureChromium((line) => console.log(`[chromium] ${line}`)))
        .then((missing) => (missing ? { kind: 'skip', reason: missing } : { kind: 'chromium', path: CHROMIUM_PATH }))
    : Promise.resolve({ kind: 'skip', reason: 'chromium was not installed: no dashboard test file matched the filters' });
  const http = createServer((req, res) => {
    if (req.url === '/chromium') {
      void browser.then((a) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a)));
      return;
    }
    void answer.then((a) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a)));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  project.provide('s3Harness', `http://127.0.0.1:${(http.address() as { port: number }).port}/`);
  project.provide('chromiumHarness', `http://127.0.0.1:${(http.address() as { port: number }).port}/chromium`);
  return async () => {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
    await answer;
    await browser;
    await (server as S3Server | null)?.stop();
  };
}
