/**
 * A fixed set of job records, varied in every way a record's bytes can vary (ids and strings that
 * JSON escapes, non-ASCII and lone surrogates, payloads inline and by reference, large payloads,
 * every optional field, numbers of every size), and the segments made of them. Their bytes were
 * written by the encoder as it stood before the records were encoded straight into bytes
 * (commit 5c5b46a) and are kept in fixtures/: segment-format.test.ts checks that the encoder still
 * writes exactly those bytes (docs/format.md, section 3: a format is never changed in place).
 *
 * Regenerate only with a format change (a new segment version):
 *   npx tsx test/core/segments/format-fixture.ts
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { JobRecord } from '../../../src/core/types.js';

const T0 = 1_767_225_600_000;

/** A small deterministic generator, so the records are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ODD_STRINGS = ['plain', 'quote " and \\ backslash', 'tab\tnew\nline\r', 'ctl \u0001\u001f', 'é ü ß', '日本語', 'emoji 😀', 'lone \ud800 high', 'lone \udc00 low', 'del \u007f', 'nbsp\u00a0', ''];

/** The records (fresh objects on each call: encoding caches its bytes on them). */
export function fixtureJobs(): JobRecord[] {
  const r = rng(7);
  const jobs: JobRecord[] = [];
  for (let i = 0; i < 120; i++) {
    const odd = ODD_STRINGS[i % ODD_STRINGS.length]!;
    const id = i % 5 === 0 ? `id-${odd}-${i}` : i % 7 === 0 ? `${'x'.repeat(200)}-${i}` : `job-${i}`;
    const job: JobRecord = {
      id,
      state: i % 4 === 3 ? 'delayed' : 'pending',
      priority: i % 3 === 0 ? -1_000_000 + i : i % 3 === 1 ? 0 : 1_000_000 - i,
      order: i % 11 === 0 ? 2 ** 40 + i : i + 1,
      runAt: T0 + Math.floor(r() * 1e9),
      attempts: i % 6,
      maxAttempts: 1 + (i % 9),
      createdAt: T0 - i,
      updatedAt: T0 + i,
    };
    if (i % 9 === 4) job.payloadRef = `payloads/t/${odd}-${i}`;
    else if (i % 40 === 13) job.payload = { big: 'é'.repeat(700) + 'a'.repeat(2500), i };
    else if (i % 8 === 1) job.payload = null;
    else job.payload = { n: i, s: odd, f: r(), list: [1, -2.5, 1e21, 1e-7, true, null, 'x'], nested: { a: { b: [odd] } } };
    if (i % 4 === 2) job.backoff = i % 8 === 2 ? { type: 'fixed', delayMs: i * 100 } : { type: 'exponential', baseMs: 1000, maxMs: 60_000, jitter: 0.25 };
    if (i % 5 === 3) job.lastError = `Error: ${odd} at ${i}\n    at handler (worker.js:1:1)`;
    jobs.push(job);
  }
  return jobs;
}

/** Records a segment never holds but the head does (claimed, finished): their bytes are checked too. */
export function fixtureHeadJobs(): JobRecord[] {
  return fixtureJobs().slice(0, 24).map((j, i) => {
    if (i % 3 === 0) return { ...j, state: 'claimed', attempts: j.attempts + 1, lease: { worker: `w-${ODD_STRINGS[i % ODD_STRINGS.length]}`, token: `tok${i}`, until: T0 + 30_000 + i } };
    if (i % 3 === 1) return { ...j, state: 'completed', result: { ok: true, odd: ODD_STRINGS[i % ODD_STRINGS.length], n: i / 3 }, finishedAt: T0 + 5 + i, archive: `archive/t/${i}` };
    return { ...j, state: 'dead', lastError: ODD_STRINGS[i % ODD_STRINGS.length], finishedAt: T0 + 9 + i };
  });
}

/** The segments of the fixture: name → [kind, jobs] (ready: one priority, ascending order; delayed: by (runAt, order)). */
export function fixtureSegments(): Array<{ name: string; kind: 'ready' | 'delayed'; topic: string; jobs: JobRecord[] }> {
  const all = fixtureJobs();
  const ready = all.filter((j) => j.state === 'pending').map((j) => ({ ...j, priority: 5 }));
  const delayed = all.filter((j) => j.state === 'delayed').sort((a, b) => a.runAt - b.runAt || a.order - b.order);
  return [
    { name: 'ready', kind: 'ready', topic: 'emails', jobs: ready },
    { name: 'delayed', kind: 'delayed', topic: 'tópico "x"', jobs: delayed },
    { name: 'one', kind: 'ready', topic: 't', jobs: ready.slice(3, 4) },
  ];
}

export const FIXTURE_DIR = new URL('./fixtures/', import.meta.url);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { encodeSegment } = await import('../../../src/core/segments/segment-codec.js');
  const { jobBytes } = await import('../../../src/core/job-json.js');
  for (const s of fixtureSegments()) writeFileSync(new URL(`segment-${s.name}.seg`, FIXTURE_DIR), encodeSegment(s.topic, s.kind, s.jobs));
  // One record a line (JSON text holds no raw newline), byte for byte as jobBytes wrote it.
  writeFileSync(new URL('records.jsonl', FIXTURE_DIR), Buffer.concat([...fixtureJobs(), ...fixtureHeadJobs()].flatMap((j) => [jobBytes(j), Buffer.from('\n')])));
}
