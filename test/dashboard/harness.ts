/**
 * What the dashboard tests share: Debian's chromium (installed by the global setup, see
 * test/servers/chromium.ts), the bundle built once per file, a real broker process on a fresh
 * directory store, HTTP calls to check the page against the API, and a load generator.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { buildDashboard } from '../../scripts/build-dashboard.js';
import { createClient } from '../../src/client/index.js';
import { createWorker } from '../../src/worker/index.js';
import { startBrokerProcess, type BrokerProcess } from '../broker-process.js';
import type { ChromiumAnswer } from '../servers/global-setup.js';

export const SCREENSHOTS = path.join(import.meta.dirname, '..', '..', 'test-output', 'screenshots');

/** The browser, or why there is none (the file's tests then skip with that reason). */
export async function launchChromium(): Promise<{ browser: Browser } | { skip: string }> {
  const answer = (await (await fetch(inject('chromiumHarness'))).json()) as ChromiumAnswer;
  if (answer.kind === 'skip') return { skip: answer.reason };
  await buildDashboard();
  const browser = await chromium.launch({ executablePath: answer.path, headless: true, args: ['--no-sandbox'] });
  return { browser };
}

export interface FileBrowser {
  /** The file's browser once its beforeAll ran; null when there is none (see `need`). */
  readonly browser: Browser | null;
  /** In a test: the browser, or the test is skipped (vitest's `skip` throws) with the reason there is none. */
  need(skipTest: (note?: string) => never): Browser;
}

/**
 * Every dashboard file's setup: one browser launched before the file's tests (register this
 * before the file's own beforeAll, which may then look at `.browser`) and closed after them.
 */
export function useChromium(): FileBrowser {
  let browser: Browser | null = null;
  let skip = '';
  beforeAll(async () => {
    const launched = await launchChromium();
    if ('skip' in launched) {
      skip = launched.skip;
      console.log(`[dashboard] skipped: ${skip}`);
      return;
    }
    browser = launched.browser;
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      return browser;
    },
    need(skipTest) {
      return browser ?? skipTest(skip);
    },
  };
}

export interface TestBroker {
  process: BrokerProcess;
  url: string;
  /** A JSON call with the admin token (when there is one). */
  api<T = any>(method: string, route: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  /** SIGTERM (the broker drains) and, unless `keepStore`, remove the store. */
  stop(keepStore?: boolean): Promise<void>;
  /** The store directory (its last segment is `data`). */
  dir: string;
}

/**
 * A broker process on a fresh directory store (or `dir`, to restart one), at `listen` (default:
 * any port). The store is `data/` in a temp directory and the broker runs there with
 * `--store file:./data`, so what the page shows of it (the header, the broker panel) is that
 * neutral name, never a path of the machine that ran the tests: the screenshots go in the README.
 */
export async function startBroker(options: { token?: string; readToken?: string; dir?: string; listen?: string } = {}): Promise<TestBroker> {
  const dir = options.dir ?? path.join(await mkdtemp(path.join(tmpdir(), 'bucketq-dashboard-')), 'data');
  const args = ['--store', `file:./${path.basename(dir)}`, '--listen', options.listen ?? '127.0.0.1:0'];
  if (options.token) args.push('--token', options.token);
  if (options.readToken) args.push('--read-token', options.readToken);
  await mkdir(dir, { recursive: true });
  const process = await startBrokerProcess(args, {}, path.dirname(dir));
  const url = process.url.replace(/\/$/, '');
  return {
    process,
    url,
    async api(method, route, body, token = options.token) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
    dir,
    async stop(keepStore = false) {
      process.child.kill('SIGTERM');
      await process.exited;
      if (!keepStore) await rm(path.dirname(dir), { recursive: true, force: true });
    },
  };
}

/**
 * A file's broker: started after the file's browser (none without one: its tests skip), stopped
 * after its tests. Register it after {@link useChromium}; use it inside tests.
 */
export function useFileBroker(chrome: FileBrowser): TestBroker {
  let broker: TestBroker | null = null;
  beforeAll(async () => {
    if (chrome.browser) broker = await startBroker();
  });
  afterAll(async () => {
    await broker?.stop();
  });
  const started = (): TestBroker => {
    if (!broker) throw new Error('the file broker has not started (no browser?)');
    return broker;
  };
  return {
    get process() {
      return started().process;
    },
    get url() {
      return started().url;
    },
    get dir() {
      return started().dir;
    },
    api: (method, route, body, token) => started().api(method, route, body, token),
    stop: (keepStore) => started().stop(keepStore),
  };
}

/**
 * Pushes `ids` to `topic` with one attempt each, claims them and nacks them with `error`: all
 * dead. Claims take the oldest due jobs, so the topic must have no other due job.
 */
export async function pushDead(broker: TestBroker, topic: string, ids: string[], error = 'boom: made to fail'): Promise<void> {
  expect((await broker.api('POST', `/v1/topics/${topic}/jobs`, { jobs: ids.map((id) => ({ id, payload: { id }, maxAttempts: 1 })) })).status).toBe(201);
  const claim = await broker.api('POST', `/v1/topics/${topic}/claim`, { workerId: 'w-doomed', max: ids.length });
  expect(claim.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual([...ids].sort());
  const nacks = claim.body.jobs.map((j: { id: string; lease: string }) => ({ id: j.id, workerId: 'w-doomed', lease: j.lease, error }));
  expect((await broker.api('POST', `/v1/topics/${topic}/settle`, { nacks })).status).toBe(200);
}

const pageErrors = new WeakMap<Page, string[]>();

export const DESKTOP = { width: 1400, height: 900 };
/** An iPhone SE / 13 mini's CSS width. */
export const PHONE = { width: 375, height: 740 };

/**
 * A fresh browser context (its own cookies) on `url/hash`. `token`: log in through the broker's
 * login page first. Confirmation dialogs are accepted, as an operator would.
 */
export async function openPage(browser: Browser, url: string, hash = '#/', token?: string, viewport: { width: number; height: number } = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport, ...(viewport.width < 500 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}) });
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (e) => errors.push(e.message));
  // The broker's CSP is default-src 'self': anything the bundle does against it (an inline style
  // attribute, an eval, a remote font) is reported here and fails the test.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  if (token !== undefined) await logIn(page, url, token);
  await page.goto(`${url}/${hash}`);
  await page.waitForSelector('header.top');
  return page;
}

/** Closes the page's context; the page must have thrown no script error and broken no CSP rule. */
export async function done(page: Page): Promise<void> {
  await page.context().close();
  expect(pageErrors.get(page)).toEqual([]);
}

/** Logs in through the broker's own login page, the way an operator does. */
export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  const field = page.locator('input[type=password], input[name=token]').first();
  await field.fill(token);
  await field.press('Enter');
  await page.waitForSelector('header.top', { timeout: 15_000 });
}

/** Saves test-output/screenshots/NAME.png (the whole page, or what the viewport shows). */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/**
 * Pushes `perTick` jobs every `tickMs` (100 a second by default) and works them with a worker
 * (concurrency 4, random 50–150 ms of work: at most ~40 a second; one job in `failEvery` throws,
 * so nacks and dead jobs show too), until stopped. The worker is slower than the producer on
 * purpose: a backlog then always waits in pending, so a page looking at the pending list finds
 * rows whenever it looks. (With a worker that kept up, pending emptied within milliseconds of
 * each push and a test waiting for a pending row failed in CI when every fetch fell in a gap.)
 */
export function startLoad(url: string, topic: string, options: { token?: string; perTick?: number; tickMs?: number; failEvery?: number } = {}) {
  const { token, perTick = 20, tickMs = 200, failEvery = 15 } = options;
  const client = createClient<{ n: number; fail: boolean }>({ url, topic, ...(token ? { token } : {}), leaseMs: 10_000 });
  let n = 0;
  let pushing = Promise.resolve();
  const timer = setInterval(() => {
    // One push in flight at a time: a slow commit makes the load lighter, never a pile-up.
    pushing = pushing.then(async () => {
      const jobs = Array.from({ length: perTick }, () => ({ payload: { n: ++n, fail: n % failEvery === 0 }, maxAttempts: 2, backoff: { type: 'fixed' as const, delayMs: 200 } }));
      await client.pushMany(jobs).catch(() => {});
    });
  }, tickMs);
  const worker = createWorker(
    client,
    async (job) => {
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100)); // the work itself
      if (job.payload.fail) throw new Error(`job ${job.payload.n} failed on purpose`);
      return { done: job.payload.n };
    },
    { concurrency: 4 },
  );
  worker.on('error', () => {});
  return {
    async stop() {
      clearInterval(timer);
      await pushing;
      await worker.close();
      await client.close();
    },
  };
}
