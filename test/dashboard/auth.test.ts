/**
 * The dashboard behind a token, in headless Chromium against a real broker process: nothing is
 * served without the token (page, assets, API, streams), the login page asks once and the
 * session keeps it, a cookie alone cannot change anything without the CSRF header, and the
 * read-only token can look but not act.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_OUT, type DashboardManifest } from '../../scripts/build-dashboard.js';
import { done, openPage, startBroker, useChromium, type TestBroker } from './harness.js';

const ADMIN = 'admin-token-0f3a9c';
const VIEWER = 'viewer-token-77b1e2';

const chrome = useChromium();
let broker: TestBroker;

beforeAll(async () => {
  if (!chrome.browser) return;
  broker = await startBroker({ token: ADMIN, readToken: VIEWER });
  expect((await broker.api('POST', '/v1/topics/secret-topic/jobs', { id: 'secret-job', payload: { card: '4111' } })).status).toBe(201);
  // One dead job for the read-only test to try (and fail) to retry.
  expect((await broker.api('POST', '/v1/topics/secret-topic/jobs', { id: 'dead-one', payload: {}, maxAttempts: 1, priority: 9 })).status).toBe(201);
  const claim = await broker.api('POST', '/v1/topics/secret-topic/claim', { workerId: 'w', max: 1 });
  expect(claim.body.jobs[0].id).toBe('dead-one');
  const nack = await broker.api('POST', '/v1/topics/secret-topic/jobs/dead-one/nack', { workerId: 'w', lease: claim.body.jobs[0].lease, error: 'no' });
  expect(nack.body.state).toBe('dead');
});

afterAll(async () => {
  await broker?.stop();
});

describe('dashboard auth (headless Chromium, real broker with a token)', () => {
  it('refuses the page, its assets, the API and the streams without the token', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const manifest = JSON.parse(await readFile(path.join(DASHBOARD_OUT, 'manifest.json'), 'utf8')) as DashboardManifest;
    for (const route of ['/', `/dashboard/assets/${manifest.js}`, '/v1/topics', '/v1/broker', '/v1/broker/stats/stream', '/v1/broker/stats/history?topic=secret-topic', '/v1/events', '/v1/topics/secret-topic/jobs?state=pending', '/v1/topics/secret-topic/completed']) {
      const res = await fetch(`${broker.url}${route}`, { headers: { origin: 'https://evil.example' } });
      const body = await res.text();
      expect(res.status, route).toBe(401);
      expect(body, route).not.toContain('secret-job');
      expect(body, route).not.toContain('4111');
      expect(res.headers.get('access-control-allow-origin'), route).toBeNull();
    }
    // In the browser: the login page, no app, no data.
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`${broker.url}/#/topics/secret-topic`);
    expect(response?.status()).toBe(401);
    expect(await page.locator('form input[type=password], form input[name=token]').count()).toBe(1);
    expect(await page.locator('header.top').count()).toBe(0);
    expect(await page.content()).not.toContain('secret-job');
    // A wrong token is refused and leaves no session behind.
    const field = page.locator('input[type=password], input[name=token]').first();
    await field.fill('not-the-token');
    await field.press('Enter');
    await page.waitForLoadState();
    expect(await page.locator('header.top').count()).toBe(0);
    expect((await context.request.get(`${broker.url}/v1/topics`)).status()).toBe(401);
    await context.close();
  });

  it('asks for the token once and keeps it for the session; a cookie alone changes nothing without the CSRF header', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const page = await openPage(browser, broker.url, '#/', ADMIN);
    await page.waitForSelector('#topics tr[data-topic="secret-topic"]', { timeout: 10_000 });
    // A reload and a deep link need no new login.
    await page.goto(`${broker.url}/#/topics/secret-topic`);
    await page.waitForSelector('#jobs tr[data-job="secret-job"]', { timeout: 10_000 });
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'bucketq_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(session!.value).not.toContain(ADMIN);
    // What a forged same-site request would be: the cookie rides along, the header does not.
    const forged = await page.evaluate(async () => {
      const res = await fetch('/v1/topics/secret-topic/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'forged', payload: {} }) });
      return res.status;
    });
    expect(forged).toBe(403);
    expect((await broker.api('GET', '/v1/topics/secret-topic/jobs/forged')).status).toBe(404);
    await done(page);
  });

  it('the read-only token can view everything, and every action is refused or disabled', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const page = await openPage(browser, broker.url, '#/', VIEWER);
    await expect.poll(() => page.locator('#topics tr[data-topic="secret-topic"] td[data-col="dead"]').textContent(), { timeout: 10_000 }).toBe('1');
    await page.goto(`${broker.url}/#/topics/secret-topic?state=dead&job=dead-one`);
    await page.waitForSelector('#job-drawer #job-state:has-text("dead")');
    // The page knows the session may only read (GET /dashboard/session) and offers no action.
    await page.waitForSelector('.badge:has-text("read-only")');
    for (const button of ['#job-retry', '#retry-all', '#purge-all', '#purge-selected', '#pause-toggle', '#push-open', '#settings-save', '#settings-max-attempts']) {
      const target = page.locator(button);
      await target.waitFor();
      expect(await target.isDisabled(), button).toBe(true);
    }
    // A session that calls the API anyway (from the console, say) is refused by the broker.
    const tried = await page.evaluate(async () => {
      const res = await fetch('/v1/topics/secret-topic/jobs/dead-one/retry', { method: 'POST', headers: { 'x-bucketq-csrf': '1' } });
      return { status: res.status, body: await res.json() };
    });
    expect(tried).toMatchObject({ status: 403, body: { error: { code: 'PERMISSION_DENIED' } } });
    // Nothing changed.
    expect((await broker.api('GET', '/v1/topics/secret-topic/jobs/dead-one')).body.state).toBe('dead');
    expect((await broker.api('GET', '/v1/topics/secret-topic/jobs/viewer-push')).status).toBe(404);
    expect((await broker.api('GET', '/v1/topics/secret-topic')).body.paused).toBe(false);
    // The API itself refuses the read token's changes, whatever the page shows.
    const direct = await broker.api('POST', '/v1/topics/secret-topic/jobs/dead-one/retry', undefined, VIEWER);
    expect(direct.status).toBe(403);
    expect(direct.body.error.code).toBe('PERMISSION_DENIED');
    await done(page);
  });
});
