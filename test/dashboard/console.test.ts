/**
 * The dashboard as an operator's console (issue 17), in headless Chromium against a real broker
 * process: the overview's top row answers throughput, failures, backlog and consumers before the
 * engine's figures; one date/time format; charts that start with the broker's history; recently
 * completed jobs with their results; topic settings edited from the page; bulk cancel and purge
 * behind a confirm step; a warning when nothing consumes; an honest page for an unknown topic;
 * and a layout that fits a phone.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { done, openPage, PHONE, pushDead, screenshot, useChromium, useFileBroker } from './harness.js';

const chrome = useChromium();
const broker = useFileBroker(chrome);

const open = (hash = '#/', viewport?: { width: number; height: number }): Promise<Page> => openPage(chrome.browser!, broker.url, hash, undefined, viewport);

async function push(topic: string, jobs: Array<Record<string, unknown>>): Promise<void> {
  const r = await broker.api('POST', `/v1/topics/${topic}/jobs`, { jobs });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

/** Claims up to `max` jobs of `topic` as `worker`: their ids and leases. */
async function claim(topic: string, worker: string, max: number): Promise<Array<{ id: string; lease: string }>> {
  const r = await broker.api('POST', `/v1/topics/${topic}/claim`, { workerId: worker, max });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.jobs;
}

/** Dead jobs `ids` in `topic` (which must have no other due job). */
const makeDead = (topic: string, ids: string[]): Promise<void> => pushDead(broker, topic, ids);

const kpi = (page: Page, name: string) => page.locator(`[data-kpi="${name}"]`);
const kpiValue = async (page: Page, name: string) => (await kpi(page, name).locator('[data-value]').textContent()) ?? '';

/** The page is no wider than its viewport: nothing scrolls sideways but the boxes meant to. */
async function pageWidth(page: Page): Promise<{ scroll: number; client: number }> {
  // (The test's own types have no DOM: the function runs in the page.)
  return page.evaluate(() => {
    const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement;
    return { scroll: root.scrollWidth, client: root.clientWidth };
  });
}

describe('the console (headless Chromium, real broker)', () => {
  it('the overview answers throughput, failures, backlog and its age, and consumers first; the engine\'s figures come lower', async ({ skip }) => {
    chrome.need(skip);
    await makeDead('top-row', ['gone-1', 'gone-2']);
    await push('top-row', Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, payload: i })));
    await push('top-row', [{ id: 'later', payload: 0, delayMs: 3_600_000 }]);
    await claim('top-row', 'w-a', 2);
    await claim('top-row', 'w-b', 1);
    const page = await open();
    const stats = (await broker.api('GET', '/v1/topics/top-row')).body;
    expect({ pending: stats.pending, delayed: stats.delayed, claimed: stats.claimed, dead: stats.dead }).toEqual({ pending: 3, delayed: 1, claimed: 3, dead: 2 });
    // Backlog: due and delayed jobs; consumers: the two workers holding the three leases.
    await expect.poll(() => kpiValue(page, 'backlog'), { timeout: 10_000 }).toBe('4');
    await expect.poll(() => kpiValue(page, 'consumers'), { timeout: 10_000 }).toBe('2');
    expect(await kpi(page, 'consumers').textContent()).toContain('3 leases held');
    expect(await kpi(page, 'backlog').textContent()).toContain('3 due · oldest ');
    expect(await kpi(page, 'failures').textContent()).toContain('2 dead');
    expect(await kpi(page, 'throughput').textContent()).toMatch(/completed\/s.*pushed [\d.]+\/s/);
    // Throughput is counted: ack one, and the completed counter of the row and the rate move.
    const [held] = await claim('top-row', 'w-a', 1);
    expect((await broker.api('POST', `/v1/topics/top-row/jobs/${held!.id}/ack`, { workerId: 'w-a', lease: held!.lease })).status).toBe(200);
    await expect.poll(() => page.locator('#topics tr[data-topic="top-row"] td[data-col="completed"]').textContent(), { timeout: 10_000 }).toBe('1');
    await expect.poll(async () => Number(await kpiValue(page, 'throughput')), { timeout: 10_000 }).toBeGreaterThan(0);
    // The order on the page: the four answers, the topics, their charts, then the engine.
    const top = async (selector: string) => (await page.locator(selector).first().boundingBox())!.y;
    const ys = [await top('.kpis-main'), await top('#topics'), await top('.charts[data-samples]'), await top('.engine')];
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    const engine = (await page.locator('.engine').textContent()) ?? '';
    for (const figure of ['commits/s', 'jobs/commit', 'commit p50', 'commit p99', 'CAS conflicts/s', 'ambiguous/s']) expect(engine).toContain(figure);
    expect(await page.locator('.kpis-main').textContent()).not.toContain('commits/s');
    await done(page);
  });

  it('writes every date and time one way: YYYY-MM-DD HH:mm:ss local, how long ago on hover', async ({ skip }) => {
    chrome.need(skip);
    await push('clock', [{ id: 'soon', payload: {}, delayMs: 3_600_000 }, { id: 'now', payload: {} }]);
    await claim('clock', 'w-clock', 1); // a lease: the workers table and the claimed tab have times
    const page = await open('#/topics/clock?state=delayed&job=soon');
    await page.waitForSelector('#job-drawer #job-state:has-text("delayed")');
    await page.waitForSelector('#workers tr[data-worker="w-clock"]');
    await page.waitForSelector('#jobs tr[data-job="soon"]');
    const stamps = page.locator('time.ts');
    await expect.poll(() => stamps.count()).toBeGreaterThanOrEqual(6); // drawer (3), the row, the workers (2)
    for (const stamp of await stamps.all()) {
      expect(await stamp.textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect(await stamp.getAttribute('title')).toMatch(/^(in .+|.+ ago|now) · UTC[+-]\d{2}:\d{2}$/);
      expect(await stamp.getAttribute('datetime')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    const due = page.locator('#job-drawer time.ts').nth(1);
    expect(await due.getAttribute('title')).toMatch(/^in (59 m|1 h)/);
    // None of the other formats the page used to mix in: "21:51:31 (in 2.6 s)", "01/12/2026, 21:51:19".
    const text = async () => (await page.locator('body').textContent()) ?? '';
    expect(await text()).not.toMatch(/\d{1,2}\/\d{1,2}\/\d{2,4}|\d{2}:\d{2}:\d{2} \(|\b\d{1,2}:\d{2}\s?[ap]m\b/i);
    await page.click('.topic-head a[href="#/"]');
    await page.waitForSelector('#broker');
    await page.waitForSelector('#topics tr[data-topic="clock"] time.ts');
    for (const stamp of await page.locator('time.ts').all()) expect(await stamp.textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(await text()).not.toMatch(/\d{1,2}\/\d{1,2}\/\d{2,4}|\d{2}:\d{2}:\d{2} \(|\b\d{1,2}:\d{2}\s?[ap]m\b/i);
    await done(page);
  });

  it('charts show the last minutes at once: the broker kept its samples before the page opened', async ({ skip }) => {
    chrome.need(skip);
    await push('history', [{ payload: 'kept' }]);
    // The broker samples every second from its start, watched or not. Twenty kept samples with
    // this topic's row is more than a page could gather live in the few seconds it gets below.
    await expect.poll(async () => (await broker.api('GET', '/v1/broker/stats/history?topic=history')).body.samples.filter((s: { topics: object }) => 'history' in s.topics).length, { timeout: 60_000, interval: 1000 }).toBeGreaterThanOrEqual(20);
    // The overview counts every sample; a topic's page those with its row. Live alone gives one
    // at once and one a second: at most a dozen within the 10 s allowed here, never 20.
    for (const hash of ['#/', '#/topics/history']) {
      const page = await open(hash);
      await expect.poll(async () => Number(await page.locator('.charts[data-samples]').getAttribute('data-samples')), { timeout: 10_000 }).toBeGreaterThanOrEqual(20);
      await done(page);
    }
  });

  it('lists the jobs completed while the page is open, with their results, live', async ({ skip }) => {
    chrome.need(skip);
    await push('results', [{ id: 'mail-1', payload: { to: 'ada@example.com' } }, { id: 'report-1', payload: { big: true } }]);
    const page = await open('#/topics/results');
    await page.waitForSelector('#completed td.empty'); // nothing completed yet, and the list says so
    // The broker keeps completions from the moment a page's event stream is open.
    await page.waitForSelector('#live-status[data-events="open"]');
    const jobs = await claim('results', 'w-results', 2);
    for (const j of jobs) {
      const result = j.id === 'mail-1' ? { sent: true, messageId: '<m-1@example.com>' } : { rows: 'x'.repeat(5000) };
      expect((await broker.api('POST', `/v1/topics/results/jobs/${j.id}/ack`, { workerId: 'w-results', lease: j.lease, result })).status).toBe(200);
    }
    // Live: the rows arrive through the event stream, no reload.
    const mail = page.locator('#completed tr[data-job="mail-1"]');
    await mail.waitFor({ timeout: 10_000 });
    expect(await mail.locator('td[data-col="result"]').textContent()).toBe('{"sent":true,"messageId":"<m-1@example.com>"}');
    expect(await mail.textContent()).toContain('w-results');
    const report = page.locator('#completed tr[data-job="report-1"]');
    await report.waitFor();
    expect(await report.locator('td[data-col="result"]').textContent()).toBe('5,011 characters: open the job');
    // The job itself, opened from the list, has the whole result.
    await report.locator('a').click();
    await page.waitForSelector('#job-drawer #job-state:has-text("completed")');
    expect(await page.locator('#job-drawer').textContent()).toContain('x'.repeat(100));
    await done(page);
  });

  it('edits the topic\'s settings from its page; the broker\'s refusal is shown with its code', async ({ skip }) => {
    chrome.need(skip);
    await push('tuned', [{ payload: 0 }]);
    const page = await open('#/topics/tuned');
    await expect.poll(() => page.locator('#settings-max-attempts').inputValue(), { timeout: 10_000 }).toBe('5');
    expect(await page.locator('#settings-backoff').inputValue()).toBe('exponential');
    expect([await page.locator('#settings-base').inputValue(), await page.locator('#settings-max').inputValue(), await page.locator('#settings-jitter').inputValue()]).toEqual(['1s', '1h', '0.5']);
    expect(await page.locator('#settings-save').isDisabled()).toBe(true); // nothing changed yet
    // What the page refuses before anything is sent.
    await page.fill('#settings-max-attempts', 'three');
    await expect.poll(() => page.locator('#settings-problem').textContent()).toContain('max attempts must be a whole number');
    expect(await page.locator('#settings-save').isDisabled()).toBe(true);
    await page.fill('#settings-max-attempts', '3');
    await page.selectOption('#settings-backoff', 'fixed');
    await page.fill('#settings-delay', '2 s');
    await expect.poll(() => page.locator('#settings-problem').textContent()).toContain('the delay must be a duration');
    await page.fill('#settings-delay', '2s');
    await page.click('#settings-save');
    await page.waitForSelector('.notice-ok:has-text("settings of tuned saved: max attempts 3, backoff fixed 2s")');
    await page.locator('#settings').scrollIntoViewIfNeeded();
    await screenshot(page, 'console-settings', false);
    expect((await broker.api('GET', '/v1/topics/tuned')).body.settings).toEqual({ maxAttempts: 3, backoff: { type: 'fixed', delayMs: 2000 }, paused: false });
    await expect.poll(() => page.locator('#settings-save').isDisabled()).toBe(true); // saved: the form is the broker's again
    // What only the broker refuses: its code and message reach the operator; nothing changed.
    await page.fill('#settings-max-attempts', '5000000');
    await page.click('#settings-save');
    const error = page.locator('.notice-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^save settings failed — INVALID_ARGUMENT: maxAttempts must be an integer from 1 to 1000000/);
    expect((await broker.api('GET', '/v1/topics/tuned')).body.settings.maxAttempts).toBe(3);
    await done(page);
  });

  it('cancels picked or all pending jobs and purges dead ones, each after a confirm step, and reports the outcome', async ({ skip }) => {
    chrome.need(skip);
    await push('bulk', Array.from({ length: 6 }, (_, i) => ({ id: `b-${i}`, payload: i })));
    const page = await open('#/topics/bulk?state=pending');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(6);
    await page.check('#jobs tr[data-job="b-1"] input[type=checkbox]');
    await page.check('#jobs tr[data-job="b-4"] input[type=checkbox]');
    // The confirm step says what will happen; going back sends nothing.
    await page.click('#cancel-selected');
    expect(await page.locator('#confirm').textContent()).toContain('Cancel 2 jobs?');
    await page.click('#confirm-cancel');
    expect(await page.locator('#confirm').count()).toBe(0);
    expect((await broker.api('GET', '/v1/topics/bulk')).body.pending).toBe(6);
    await page.click('#cancel-selected');
    await page.click('#confirm-ok');
    await page.waitForSelector('.notice-ok:has-text("2 of 2 selected job(s) cancelled")');
    expect((await broker.api('GET', '/v1/topics/bulk/jobs/b-1')).body.state).toBe('cancelled');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(4);
    // All pending: as many as the button said when it was confirmed.
    await expect.poll(() => page.locator('#cancel-all').textContent(), { timeout: 10_000 }).toBe('Cancel all pending (4)');
    await page.click('#cancel-all');
    expect(await page.locator('#confirm-ok').textContent()).toBe('Cancel 4 jobs');
    await screenshot(page, 'console-confirm', false);
    await page.click('#confirm-ok');
    await page.waitForSelector('.notice-ok:has-text("4 pending job(s) cancelled; 0 pending now")');
    expect((await broker.api('GET', '/v1/topics/bulk')).body).toMatchObject({ pending: 0, counters: { cancelled: 6 } });

    await makeDead('bulk', ['d-1', 'd-2', 'd-3']);
    await page.click('.tab[data-state="dead"]');
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(3);
    await page.check('#jobs tr[data-job="d-2"] input[type=checkbox]');
    await page.click('#purge-selected');
    expect(await page.locator('#confirm').textContent()).toContain('cannot be undone');
    await page.click('#confirm-ok');
    await page.waitForSelector('.notice-ok:has-text("1 of 1 selected dead job(s) purged")');
    expect((await broker.api('GET', '/v1/topics/bulk/jobs/d-2')).status).toBe(404);
    await expect.poll(() => page.locator('#purge-all').isEnabled(), { timeout: 10_000 }).toBe(true);
    await page.click('#purge-all');
    expect(await page.locator('#confirm-ok').textContent()).toBe('Purge 2 jobs');
    await page.click('#confirm-ok');
    await page.waitForSelector('.notice-ok:has-text("2 dead job(s) purged")');
    expect((await broker.api('GET', '/v1/topics/bulk')).body.dead).toBe(0);
    await expect.poll(() => page.locator('#jobs tr[data-job]').count(), { timeout: 10_000 }).toBe(0);
    await done(page);
  });

  it('warns on the topic page when jobs are due and nothing consumes them, and stops when a worker claims', async ({ skip }) => {
    chrome.need(skip);
    await push('orphan', [{ id: 'waiting-1', payload: 0 }, { id: 'waiting-2', payload: 0 }]);
    const page = await open('#/topics/orphan');
    const warning = page.locator('#no-consumers');
    // Ten seconds with due jobs and no claim (the broker counts them, the page shows them).
    await warning.waitFor({ timeout: 30_000 });
    expect(await warning.textContent()).toMatch(/^No consumers\. 2 jobs are due and no worker has claimed one for \d/);
    await screenshot(page, 'console-no-consumers', false);
    await page.click('.topic-head a[href="#/"]');
    await page.waitForSelector('#topics tr[data-topic="orphan"] [data-badge="stalled"]');
    // (Other topics of this file have due jobs and no worker too: the row counts them.)
    expect(await kpi(page, 'consumers').textContent()).toContain('none on ');
    expect(await kpi(page, 'consumers').getAttribute('class')).toContain('kpi-bad');
    await page.goBack();
    await warning.waitFor();
    await claim('orphan', 'w-late', 1);
    await warning.waitFor({ state: 'detached', timeout: 10_000 });
    await done(page);
  });

  it('an unknown topic gets a page that says so, and opening it creates nothing', async ({ skip }) => {
    chrome.need(skip);
    const page = await open('#/topics/NOPE');
    const missing = page.locator('#topic-missing');
    await missing.waitFor({ timeout: 10_000 });
    expect(await missing.textContent()).toContain('There is no topic “NOPE”');
    expect(await missing.textContent()).toContain('did not create one');
    await screenshot(page, 'console-unknown-topic', false);
    for (const absent of ['#jobs', '#push-open', '#settings', '#workers']) expect(await page.locator(absent).count(), absent).toBe(0);
    expect((await broker.api('GET', '/v1/topics/NOPE')).status).toBe(404);
    expect((await broker.api('GET', '/v1/topics')).body.topics.map((t: { topic: string }) => t.topic)).not.toContain('NOPE');
    // Created meanwhile (by its first push): the page hears of it and becomes the topic's.
    await page.waitForSelector('#live-status[data-events="open"]');
    await push('NOPE', [{ id: 'first', payload: 0 }]);
    await page.waitForSelector('#jobs tr[data-job="first"]', { timeout: 10_000 });
    await done(page);
  });

  it('fits a phone (375 px): no page scrolls sideways, wide tables scroll in their box', async ({ skip }) => {
    chrome.need(skip);
    await makeDead('phone', ['ph-dead']);
    await push('phone', Array.from({ length: 4 }, (_, i) => ({ id: `ph-${i}`, payload: { to: `user${i}@example.com`, body: 'x'.repeat(80) } })));
    const page = await open('#/', PHONE);
    await page.waitForSelector('#topics tr[data-topic="phone"]');
    await expect.poll(async () => Number(await page.locator('.charts[data-samples]').getAttribute('data-samples')), { timeout: 10_000 }).toBeGreaterThan(2);
    expect(await pageWidth(page)).toMatchObject({ client: PHONE.width });
    expect((await pageWidth(page)).scroll).toBeLessThanOrEqual(PHONE.width);
    // The topics table is wider than the phone: it scrolls inside its box.
    const box = await page.locator('#topics').evaluate((t) => ({ table: t.scrollWidth, box: t.parentElement!.clientWidth }));
    expect(box.table).toBeGreaterThan(box.box);
    for (const hash of ['#/topics/phone?state=pending', '#/topics/phone?state=dead&job=ph-dead']) {
      await page.goto(`${broker.url}/${hash}`);
      await page.waitForSelector('#jobs tr[data-job]');
      if (hash.includes('job=')) await page.waitForSelector('#job-drawer #job-state:has-text("dead")');
      expect((await pageWidth(page)).scroll, hash).toBeLessThanOrEqual(PHONE.width);
    }
    await done(page);
  });
});
