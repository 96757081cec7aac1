/**
 * A chaos producer: pushes jobs with its own ids (`<name>-<n>`) at a steady rate through
 * createClient and records each push's outcome with when it was sent. SIGTERM: stop pushing,
 * wait for the pushes in flight, exit 0. Producers are not targets of the nemesis: every push
 * they send gets an outcome in the history.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '../src/client/index.js';
import { isQueueError } from '../src/errors.js';
import { mulberry32 } from '../src/storage/faulty.js';
import { onTerm, readChildConfig, type ChaosPayload } from './child-config.js';
import { HistoryWriter, monoNow } from './history.js';

const cfg = readChildConfig();
const rate = cfg.rate ?? 40;
/** Sequential push loops: enough that a slow store (pushes of 100 ms and more) still reaches the rate. */
const LANES = Math.max(4, Math.ceil(rate / 5));
const history = new HistoryWriter(cfg.historyDir, cfg.name);
const rnd = mulberry32(cfg.seed);
const client = createClient<ChaosPayload>({ store: cfg.store, topic: cfg.topic, retry: { deadlineMs: 20_000 } });
let stopping = false;
let next = 0;

function job(): { payload: ChaosPayload; maxAttempts: number } {
  const r = rnd();
  if (r < 0.04) return { payload: { kind: 'poison', ms: 5 }, maxAttempts: 3 };
  if (r < 0.14) return { payload: { kind: 'flaky', ms: 5 }, maxAttempts: 8 };
  if (r < 0.2) return { payload: { kind: 'slow', ms: 800 + Math.floor(rnd() * 1700) }, maxAttempts: 8 };
  return { payload: { kind: 'ok', ms: Math.floor(rnd() * 20) }, maxAttempts: 8 };
}

async function lane(): Promise<void> {
  // Each lane paces itself: one push per LANES / rate seconds, less the time the push took.
  const periodMs = (LANES * 1000) / rate;
  while (!stopping) {
    const id = `${cfg.name}-${next++}`;
    const { payload, maxAttempts } = job();
    const st = Date.now();
    const sm = monoNow();
    try {
      const r = await client.push(payload, { id, maxAttempts, backoff: { type: 'fixed', delayMs: 100 } });
      history.record({ op: 'push', id, st, sm, ok: true, created: r.created });
    } catch (err) {
      history.record({ op: 'push', id, st, sm, ok: false, code: isQueueError(err) ? err.code : 'INTERNAL' });
    }
    const wait = periodMs - (Date.now() - st);
    if (wait > 0 && !stopping) await delay(wait);
  }
}

const lanes = Array.from({ length: LANES }, () => lane());
onTerm(async () => {
  stopping = true;
  await Promise.all(lanes);
  await client.close();
  history.close();
});
