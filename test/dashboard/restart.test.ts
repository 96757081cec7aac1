/**
 * A bad day: the broker restarts under an open dashboard. The page says it lost the stream,
 * reopens both streams by itself when the broker is back (the browser alone gives up on the
 * draining broker's 503), re-reads what it shows, and carries on live — no reload.
 */
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../client/proxy.js';
import { done, openPage, startBroker, useChromium, type TestBroker } from './harness.js';

const chrome = useChromium();
const brokers: TestBroker[] = [];

afterAll(async () => {
  for (const b of brokers) await b.stop();
});

it('survives a broker restart: shows the outage, then reconnects and is live again', async ({ skip: skipTest }) => {
  const browser = chrome.need(skipTest);
  const listen = `127.0.0.1:${await freePort()}`;
  const first = await startBroker({ listen });
  expect((await first.api('POST', '/v1/topics/restarts/jobs', { id: 'before', payload: {} })).status).toBe(201);
  const page = await openPage(browser, first.url, '#/topics/restarts');
  await page.waitForSelector('#jobs tr[data-job="before"]', { timeout: 10_000 });
  await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 10_000 }).toBe('live');

  await first.stop(true); // SIGTERM: the broker drains and exits; its store stays
  await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 10_000 }).toBe('connecting…');

  const second = await startBroker({ listen, dir: first.dir });
  brokers.push(second);
  expect((await second.api('POST', '/v1/topics/restarts/jobs', { id: 'after', payload: {} })).status).toBe(201);
  // Both arrive on the same page, without a reload: the list from the reopened event stream (or
  // the re-read after it), the status and counts from the reopened stats stream.
  await page.waitForSelector('#jobs tr[data-job="after"]', { timeout: 45_000 });
  await expect.poll(() => page.locator('#live-status').textContent(), { timeout: 45_000 }).toBe('live');
  await page.click('.topic-head a[href="#/"]');
  await expect.poll(() => page.locator('#topics tr[data-topic="restarts"] td[data-col="pending"]').textContent(), { timeout: 10_000 }).toBe('2');
  await done(page);
}, 120_000); // two broker processes start on a shared 2-core machine
