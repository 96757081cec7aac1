/**
 * The dashboard in headless Chromium against a real broker process (no token): the overview's
 * counts match the API, a job pushed from the page exists, a job made to fail shows in the dead
 * list and the page's retry sends it back to pending, and the README's screenshots under load.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { done, openPage, PHONE, pushDead, screenshot, startBroker, startLoad, useChromium, useFileBroker } from './harness.js';

const chrome = useChromium();
const broker = useFileBroker(chrome);

const open = (hash = '#/'): Promise<Page> => openPage(chrome.browser!, broker.url, hash);

/** Cell text of the overview's row for `topic`. */
async function overviewCounts(page: Page, topic: string): Promise<Record<string, string>> {
  const row = page.locator(`#topics tr[data-topic="${topic}"]`);
  const out: Record<string, string> = {};
  for (const col of ['pending', 'delayed', 'claimed', 'dead']) out[col] = (await row.locator(`td[data-col="${col}"]`).textContent()) ?? '';
  return out;
}

async function pushOne(topic: string, job: Record<string, unknown>): Promise<string> {
  const r = await broker.api('POST', `/v1/topics/${topic}/jobs`, job);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id as string;
}

/** Claims `id` (it must be the only due job of `topic`) and nacks it until it is dead. */
async function makeDead(topic: string, id: string): Promise<void> {
  const claim = await broker.api('POST', `/v1/topics/${topic}/claim`, { workerId: 'test-worker', max: 1 });
  expect(claim.body.jobs.map((j: { id: string }) => j.id)).toEqual([id]);
  const nack = await broker.api('POST', `/v1/topics/${topic}/jobs/${encodeURIComponent(id)}/nack`, { workerId: 'test-worker', lease: claim.body.jobs[0].lease, error: 'boom: made to fail' });
  expect(nack.body.state).toBe('dead');
}

describe('dashboard (headless Chromium, real broker)', () => {
  it('the overview shows the counts the API reports', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    for (let i = 0; i < 7; i++) await pushOne('counts', { payload: { i } });
    await pushOne('counts', { payload: { later: true }, delayMs: 3_600_000 });
    await pushOne('counts', { payload: { later: true }, delayMs: 3_600_000 });
    const claim = await broker.api('POST', '/v1/topics/counts/claim', { workerId: 'w-counts', max: 3 });
    expect(claim.body.jobs).toHaveLength(3);
    const page = await open();
    const api = (await broker.api('GET', '/v1/topics/counts')).body;
    const expected = { pending: String(api.pending), delayed: String(api.delayed), claimed: String(api.claimed), dead: String(api.dead) };
    expect(expected).toEqual({ pending: '4', delayed: '2', claimed: '3', dead: '0' });
    // The stats stream sends a sample at once and then every second: the row follows it.
    await expect.poll(() => overviewCounts(page, 'counts'), { timeout: 10_000 }).toEqual(expected);
    // The cluster view names this broker as the topic's leader.
    await expect.poll(() => page.locator('#topics tr[data-topic="counts"]').textContent()).toContain('this broker');
    await done(page);
  });

  it('a topic whose state vanished is marked in the overview', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    await pushOne('vanishing', { payload: 1 });
    await rm(path.join(broker.dir, 'topics', 'vanishing'), { recursive: true, force: true });
    const refused = await broker.api('POST', '/v1/topics/vanishing/jobs', { payload: 2 }); // the leader finds it gone
    expect(refused.body.error.code).toBe('STATE_LOST');
    const page = await open();
    const badge = page.locator('#topics tr[data-topic="vanishing"] [data-badge="state-lost"]');
    await expect.poll(() => badge.count(), { timeout: 10_000 }).toBe(1);
    expect(await badge.getAttribute('title')).toContain('topics/vanishing/queue.json vanished');
    await done(page);
  });

  it('a topic with a lost segment is marked in the overview and its page says what waits', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const jobs = Array.from({ length: 2000 }, (_, i) => ({ id: `s-${String(i).padStart(5, '0')}`, payload: { i } }));
    expect((await broker.api('POST', '/v1/topics/segmented/jobs', { jobs })).status).toBe(201);
    // Every segment of the topic goes (a lifecycle rule, a hand): the window's jobs are still served.
    await rm(path.join(broker.dir, 'segments', 'segmented'), { recursive: true, force: true });
    let claimed = 0;
    const lostSegment = async () => ((await broker.api('GET', '/v1/broker')).body.topics as Array<{ topic: string; segmentLost?: { key: string; message: string } }>).find((t) => t.topic === 'segmented')?.segmentLost;
    for (let i = 0; i < 20 && !(await lostSegment()); i++) {
      const claim = await broker.api('POST', '/v1/topics/segmented/claim', { workerId: 'w-seg', max: 100 });
      claimed += claim.body.jobs.length; // claims drain the window until the refill needs the segment
    }
    await expect.poll(lostSegment, { timeout: 10_000 }).toMatchObject({ key: expect.stringMatching(/^segments\/segmented\//) });
    expect(claimed).toBeGreaterThan(0);
    const page = await open();
    const badge = page.locator('#topics tr[data-topic="segmented"] [data-badge="segment-lost"]');
    await expect.poll(() => badge.count(), { timeout: 10_000 }).toBe(1);
    expect(await badge.getAttribute('title')).toMatch(/segment segments\/segmented\/\S+ named by the head is missing from the store/);
    await page.goto(`${broker.url}/#/topics/segmented`);
    await expect.poll(() => page.locator('#segment-lost').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('#segment-lost').textContent()).toMatch(/^Segment lost\. topic segmented: segment .* Restore the object \(bucketq doctor --topic segmented names it\)\.$/);
    await done(page);
  });

  it('pushing from the page creates the job, and invalid JSON is refused before it is sent', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    await pushOne('pushes', { payload: { seed: true } }); // the topic exists
    const page = await open('#/topics/pushes');
    await page.click('#push-open');
    await page.fill('#push-payload', '{"to": "ada@example.com",');
    await expect.poll(() => page.locator('#push-problem').textContent()).toContain('not JSON');
    expect(await page.locator('#push-submit').isDisabled()).toBe(true);
    await page.fill('#push-payload', '{"to": "ada@example.com", "n": 42}');
    await page.fill('#push-id', 'from-the-page');
    await page.fill('#push-priority', '3');
    await page.click('#push-submit');
    await page.waitForSelector('.notice-ok:has-text("pushed from-the-page")');
    const job = await broker.api('GET', '/v1/topics/pushes/jobs/from-the-page');
    expect(job.status).toBe(200);
    expect(job.body).toMatchObject({ id: 'from-the-page', state: 'pending', priority: 3, payload: { to: 'ada@example.com', n: 42 } });
    // The pending list picks it up from the event stream.
    await page.waitForSelector('#jobs tr[data-job="from-the-page"]', { timeout: 10_000 });
    // The same id again: the broker says it exists, and the page says so.
    await page.click('#push-open');
    await page.fill('#push-payload', '{"other": true}');
    await page.fill('#push-id', 'from-the-page');
    await page.click('#push-submit');
    await page.waitForSelector('.notice-ok:has-text("already exists")');
    await done(page);
  });

  it('the push form\'s delay takes the CLI\'s durations (1m30s) and says when the job is due', async ({ skip: skipTest }) => {
    chrome.need(skipTest);
    await pushOne('delays', { payload: { seed: true } });
    const page = await open('#/topics/delays');
    await page.click('#push-open');
    await page.fill('#push-payload', '{"later": true}');
    await page.fill('#push-id', 'in-90s');
    await page.fill('#push-delay', '90 seconds');
    await expect.poll(() => page.locator('#push-problem').textContent()).toContain('delay must be a duration such as 30s');
    expect(await page.locator('#push-submit').isDisabled()).toBe(true);
    await page.fill('#push-delay', '1m30s');
    await expect.poll(() => page.locator('#push-problem').textContent()).toBe('valid JSON; due in 1m30s');
    const before = Date.now();
    await page.click('#push-submit');
    await page.waitForSelector('.notice-ok:has-text("pushed in-90s")');
    const job = await broker.api('GET', '/v1/topics/delays/jobs/in-90s');
    expect(job.body.state).toBe('delayed');
    expect(job.body.runAt - before).toBeGreaterThanOrEqual(89_000);
    expect(job.body.runAt - Date.now()).toBeLessThanOrEqual(90_000);
    await done(page);
  });

  it('a job made to fail shows in the dead list, and retrying it from the page sends it back to pending', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const id = await pushOne('failing', { id: 'doomed-1', payload: { will: 'fail' }, maxAttempts: 1 });
    const page = await open('#/topics/failing?state=dead');
    await makeDead('failing', id);
    // Live: the row arrives by the event stream, no reload.
    const row = page.locator(`#jobs tr[data-job="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toContain('boom: made to fail');
    await row.click();
    await page.waitForSelector('#job-drawer #job-state:has-text("dead")');
    expect(await page.locator('#job-drawer').textContent()).toContain('boom: made to fail');
    await page.click('#job-retry');
    await page.waitForSelector('.notice-ok:has-text("pending again")');
    const job = await broker.api('GET', `/v1/topics/failing/jobs/${id}`);
    expect(job.body.state).toBe('pending');
    await page.waitForSelector('#job-drawer #job-state:has-text("pending")');
    await done(page);
  });

  it('"retry all dead" sends every dead job back to pending in one call', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    await pushDead(broker, 'failing-many', ['many-1', 'many-2', 'many-3'], 'all fail');
    const page = await open('#/topics/failing-many?state=dead');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(3);
    await expect.poll(() => page.locator('#retry-all').isEnabled(), { timeout: 10_000 }).toBe(true);
    await page.click('#retry-all');
    await page.click('#confirm-ok'); // the confirm step names what happens: "Retry 3 jobs"
    await page.waitForSelector('.notice-ok:has-text("3 dead job(s) sent back to pending")');
    const stats = (await broker.api('GET', '/v1/topics/failing-many')).body;
    expect({ dead: stats.dead, pending: stats.pending }).toEqual({ dead: 0, pending: 3 });
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(0);
    await done(page);
  });

  it('"retry selected" sends back only the picked dead jobs', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const ids = ['pick-1', 'pick-2', 'pick-3'];
    await pushDead(broker, 'picking', ids, 'picked to fail');
    const page = await open('#/topics/picking?state=dead');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(3);
    expect(await page.locator('#retry-selected').isDisabled()).toBe(true);
    await page.check('#jobs tr[data-job="pick-1"] input[type=checkbox]');
    await page.check('#jobs tr[data-job="pick-3"] input[type=checkbox]');
    expect(await page.locator('#job-drawer').count()).toBe(0); // picking is not opening
    expect(await page.locator('#retry-selected').textContent()).toBe('Retry selected (2)');
    // Someone else retries one of them meanwhile: the broker skips it, and the page says so.
    expect((await broker.api('POST', '/v1/topics/picking/jobs/pick-3/retry')).status).toBe(200);
    await page.click('#retry-selected');
    await page.waitForSelector('.notice-ok:has-text("1 of 2 selected dead job(s) sent back to pending; 1 skipped (pick-3: NOT_FOUND)")');
    const states = await Promise.all(ids.map(async (id) => (await broker.api('GET', `/v1/topics/picking/jobs/${id}`)).body.state));
    expect(states).toEqual(['pending', 'dead', 'pending']);
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(1);
    await done(page);
  });

  it('cancel from the job drawer; a push the broker refuses shows its error and keeps the editor open', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    await pushOne('cancels', { id: 'cancel-me', payload: { x: 1 }, delayMs: 3_600_000 });
    const page = await open('#/topics/cancels?state=delayed&job=cancel-me');
    await page.waitForSelector('#job-drawer #job-state:has-text("delayed")');
    await page.click('#job-cancel');
    await page.click('#confirm-ok');
    await page.waitForSelector('.notice-ok:has-text("cancel-me cancelled")');
    const stats = (await broker.api('GET', '/v1/topics/cancels')).body;
    expect({ delayed: stats.delayed, cancelled: stats.counters.cancelled }).toEqual({ delayed: 0, cancelled: 1 });
    // JSON the page accepts but the broker does not: its code and message reach the operator.
    await page.click('#push-open');
    await page.fill('#push-payload', '{"ok": true}');
    await page.fill('#push-priority', '99999999999');
    await page.click('#push-submit');
    const error = page.locator('.notice-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^push failed — INVALID_ARGUMENT: \S*priority must be an integer from -1000000 to 1000000/);
    expect(await page.locator('#push-form').count()).toBe(1);
    expect((await broker.api('GET', '/v1/topics/cancels')).body.pending).toBe(0);
    await done(page);
  });

  it('stays light with thousands of jobs: one page of rows in the DOM, the pages reading on into the segments', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    const name = (i: number) => `k-${String(i).padStart(5, '0')}`;
    const jobs = Array.from({ length: 5000 }, (_, i) => ({ id: name(i), payload: { i, text: 'x'.repeat(200) } }));
    expect((await broker.api('POST', '/v1/topics/thousands/jobs', { jobs })).status).toBe(201);
    const page = await open('#/topics/thousands');
    // Most of a backlog this deep waits in segment objects (docs/format.md): the pages list the
    // head's jobs, then read on into the segments, and say so.
    const listed = await broker.api('GET', '/v1/topics/thousands/jobs?state=pending&limit=1');
    const { total, inSegments } = listed.body as { total: number; inSegments: number };
    expect(total).toBe(5000);
    expect(inSegments).toBeGreaterThan(3000);
    await expect.poll(() => page.locator('#page-info').textContent(), { timeout: 10_000 }).toBe('page 1 · 5,000 pending');
    expect(await page.locator('#in-segments').textContent()).toMatch(new RegExp(`^${inSegments.toLocaleString('en-US')} of the pending jobs wait in segments beyond the head; the pages read on into them in claim order\\.`));
    expect(await page.locator('#jobs tr[data-job]').count()).toBe(50);
    // The whole document, charts and all, stays a few thousand elements whatever the backlog.
    expect(await page.locator('*').count()).toBeLessThan(2000);
    // Page on past the head's window (1,024 jobs by default) into the segments: every row in
    // claim order, none twice, whatever page a segment boundary falls on.
    const rows = async () => page.locator('#jobs tr[data-job]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-job')));
    const seen: string[] = (await rows()) as string[];
    for (let p = 2; seen.length < 1300; p++) {
      await page.click('button:has-text("next →")');
      await expect.poll(() => page.locator('#page-info').textContent(), { timeout: 10_000 }).toBe(`page ${p} · 5,000 pending`);
      await expect.poll(async () => ((await rows())[0] ?? '') > seen[seen.length - 1]!, { timeout: 10_000 }).toBe(true);
      seen.push(...((await rows()) as string[]));
    }
    expect(seen.slice(0, 1300)).toEqual(Array.from({ length: 1300 }, (_, i) => name(i)));
    expect(await page.locator('*').count()).toBeLessThan(2000);
    // A search matches the head's ids by prefix, and an exact id deep in a segment through the id index.
    await page.fill('input.search', 'k-0009');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count()).toBe(10);
    expect(await page.locator('#page-info').textContent()).toContain('10 pending matching');
    expect(await page.locator('#in-segments').textContent()).toContain('A search matches ids in the head by prefix, and an exact id anywhere.');
    await page.fill('input.search', name(4321));
    await expect.poll(() => page.locator('#jobs tr[data-job]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-job')))).toEqual([name(4321)]);
    await done(page);
  });

  it('pause and resume from the page', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    await pushOne('pausing', { payload: {} });
    const page = await open('#/topics/pausing');
    await expect.poll(() => page.locator('#pause-toggle').textContent(), { timeout: 10_000 }).toBe('Pause');
    await page.click('#pause-toggle');
    await page.waitForSelector('.notice-ok:has-text("paused")');
    expect((await broker.api('GET', '/v1/topics/pausing')).body.paused).toBe(true);
    await expect.poll(() => page.locator('#pause-toggle').textContent(), { timeout: 10_000 }).toBe('Resume');
    await page.click('#pause-toggle');
    await page.waitForSelector('.notice-ok:has-text("resumed")');
    expect((await broker.api('GET', '/v1/topics/pausing')).body.paused).toBe(false);
    await done(page);
  });

  it('under load: the README\'s screenshots (overview, a topic, a phone), with no path of this machine in them; paging and search work', async ({ skip: skipTest }) => {
    const browser = chrome.need(skipTest);
    // A broker of its own, so the pictures show a queue at work and not this file's test topics.
    const demo = await startBroker();
    const load = startLoad(demo.url, 'emails');
    try {
      // Beside the busy topic: one whose worker is down (its jobs wait: "no consumers"), one with
      // jobs scheduled for later.
      expect((await demo.api('POST', '/v1/topics/webhooks/jobs', { jobs: [1, 2, 3].map((n) => ({ payload: { hook: n } })) })).status).toBe(201);
      expect((await demo.api('POST', '/v1/topics/reports/jobs', { jobs: [1, 2, 3, 4, 5].map((n) => ({ payload: { report: n }, delayMs: 3_600_000 })) })).status).toBe(201);
      const page = await openPage(browser, demo.url, '#/');
      // (Polled from here: the page's CSP forbids the eval behind a string waitForFunction.)
      await expect.poll(async () => Number(await page.locator('.charts[data-samples]').getAttribute('data-samples')), { timeout: 30_000 }).toBeGreaterThanOrEqual(15);
      await expect.poll(() => page.locator('#topics tr[data-topic="emails"] td[data-col="dead"]').textContent(), { timeout: 30_000 }).not.toBe('0');
      await page.waitForSelector('#topics tr[data-topic="webhooks"] [data-badge="stalled"]', { timeout: 30_000 });
      // What goes in the README shows the store by its neutral name, never a directory of the machine that ran this.
      const text = (await page.locator('body').textContent()) ?? '';
      expect(text).toContain('file:./data');
      expect(text).not.toContain(path.dirname(demo.dir));
      expect(text).not.toMatch(/\/(tmp|work|home|root|Users|var)\//);
      await screenshot(page, 'overview');
      const phone = await openPage(browser, demo.url, '#/', undefined, PHONE);
      await phone.waitForSelector('#topics tr[data-topic="webhooks"] [data-badge="stalled"]', { timeout: 10_000 });
      await expect.poll(async () => Number(await phone.locator('.charts[data-samples]').getAttribute('data-samples')), { timeout: 10_000 }).toBeGreaterThanOrEqual(15);
      await screenshot(phone, 'phone', false);
      await done(phone);
      // The load's worker is slower than its producer, so a backlog builds; wait for it, and for a
      // few dead jobs (by the API, not the page) before asking the page to show them.
      await expect.poll(async () => (await demo.api('GET', '/v1/topics/emails')).body, { timeout: 60_000 }).toMatchObject({ pending: expect.toSatisfy((n: number) => n > 20), dead: expect.toSatisfy((n: number) => n >= 6) });
      await page.goto(`${demo.url}/#/topics/emails?state=pending`);
      await page.waitForSelector('#jobs tr[data-job]', { timeout: 10_000 });
      await page.waitForSelector('#workers tr[data-worker]', { timeout: 10_000 });
      await page.waitForSelector('#completed tr[data-job]', { timeout: 10_000 });
      // The dead list, with the newest dead job open: what an operator looks at on a bad day.
      await page.click('.tab[data-state="dead"]');
      await page.waitForSelector('#jobs tr[data-job]', { timeout: 10_000 });
      await page.locator('#jobs tr[data-job]').first().click();
      await page.waitForSelector('#job-drawer #job-state:has-text("dead")');
      expect(await page.locator('#job-drawer').textContent()).toContain('failed on purpose');
      expect((await page.locator('body').textContent()) ?? '').not.toMatch(/\/(tmp|work|home|root|Users|var)\//);
      await screenshot(page, 'topic', false); // the drawer is fixed to the viewport
      await done(page);
    } finally {
      await load.stop();
      await demo.stop();
    }
    // With the load stopped, page through a fixed list and search it.
    for (let i = 0; i < 60; i++) await pushOne('paged', { id: `p-${String(i).padStart(3, '0')}`, payload: { i } });
    const page = await open('#/topics/paged');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(50);
    expect(await page.locator('#page-info').textContent()).toContain('60 pending');
    await page.click('text=next →');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count()).toBe(10);
    expect(await page.locator('#jobs tr[data-job]').first().getAttribute('data-job')).toBe('p-050');
    await page.click('text=← previous');
    await expect.poll(() => page.locator('#jobs tr[data-job]').first().getAttribute('data-job')).toBe('p-000');
    await page.fill('input.search', 'p-05');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count()).toBe(10);
    await done(page);
  }, 120_000); // a load generator, a worker and a browser on a shared 2-core machine
});
