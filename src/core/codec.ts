/**
 * queue.json ⇄ QueueState. Serialisation reuses each unchanged job's cached JSON bytes, so a commit
 * on a large topic costs a buffer concatenation, not a full JSON.stringify. Parsing validates the shape,
 * upgrades older formats and refuses newer ones: a file we do not understand is never overwritten.
 *
 * Every field a format has always written must be there: a missing one is refused as corrupt, never
 * filled with a default and written back (counters reset to 0, dead-letter entries or finished jobs
 * dropped, the leadership epoch restarted). The only defaults are the upgrades from older formats.
 */
import { QueueError } from '../errors.js';
import { jobBytes, shapeRecord } from './job-json.js';
import { JoinedBytes } from './joined-bytes.js';
import { groupBytes, parseRecent, windowParts, type RecentGroup } from './recent.js';
import { backlogFromJobs, loadBacklog } from './segments/backlog-load.js';
import { checkManifest, UNSEGMENTED_LIMITS, type BacklogLimits } from './segments/manifest.js';
import { manifestJson } from './segments/manifest-stored.js';
import { attachBacklog, createState, emptyCounters, FORMAT_VERSION, setDone, type QueueState } from './state.js';
import type { Counters, DeadEntry, JobRecord, TopicSettings } from './types.js';

const COMMA = Buffer.from(',');
const COMMA_NL = Buffer.from(',\n');
const DONE_OPEN = Buffer.from(',"done":[\n');
const JOBS_OPEN = Buffer.from('\n],"jobs":[\n');

/** Per state: its `done` list, dead-letter index and recent window as joined between commits (joined-bytes.ts). */
const joined = new WeakMap<QueueState, { done: JoinedBytes<JobRecord>; dead: JoinedBytes<[string, DeadEntry]>; recent: JoinedBytes<RecentGroup> }>();
function joinedOf(s: QueueState) {
  let j = joined.get(s);
  if (!j) {
    const dead = new JoinedBytes<[string, DeadEntry]>(COMMA, ([id, e]) => deadEntryBytes(id, e));
    joined.set(s, (j = { done: new JoinedBytes(COMMA_NL, jobBytes), dead, recent: new JoinedBytes(COMMA, groupBytes) }));
  }
  return j;
}

/**
 * A dead-letter entry as it stands in `dead`, `"id":{...}`, made once per entry: entries are
 * replaced, never changed, and the index only grows at its end between a retry, a purge and an
 * expiry, so a commit copies it as one run (joined-bytes.ts) instead of stringifying every entry
 * again. It is the head's one part that grows with the topic's history: 20,000 dead jobs are about
 * 4 MiB of every commit (docs/architecture.md, "Known gaps").
 */
const deadBytes = new WeakMap<DeadEntry, Buffer>();
function deadEntryBytes(id: string, e: DeadEntry): Buffer {
  let b = deadBytes.get(e);
  if (!b) deadBytes.set(e, (b = Buffer.from(`${JSON.stringify(id)}:${JSON.stringify(e)}`, 'utf8')));
  return b;
}

/**
 * queue.json as UTF-8 bytes, in a buffer from `alloc` (which must return exactly `size` bytes the
 * caller may overwrite: the broker reuses its commit buffers, broker/queue-object.ts).
 */
export function serializeState(s: QueueState, alloc: (size: number) => Buffer = Buffer.allocUnsafe): Buffer {
  const head = JSON.stringify({
    format: s.format,
    topic: s.topic,
    seq: s.seq,
    writer: s.writer,
    time: s.time,
    broker: s.broker,
    settings: s.settings,
    nextOrder: s.nextOrder,
    counters: s.counters,
  });
  const j = joinedOf(s);
  // What JSON.stringify of the whole head wrote, `dead` joined from its cached entries: the same
  // entries, in the index's own order (an object put integer-like ids first; no reader minds).
  const parts: Buffer[] = [
    Buffer.from(`${head.slice(0, -1)},"dead":{`),
    j.dead.join([...s.dead]),
    Buffer.from(`},"archiveOpen":${JSON.stringify(s.archiveOpen)},"recent":`),
    ...windowParts(s.recent, j.recent),
    DONE_OPEN,
    j.done.join(s.done),
    JOBS_OPEN,
  ];
  let first = true;
  for (const job of s.jobs.values()) {
    if (!first) parts.push(COMMA_NL);
    parts.push(jobBytes(job));
    first = false;
  }
  parts.push(Buffer.from(`\n],"backlog":${manifestJson(s.backlog)}}`));
  let size = 0;
  for (const p of parts) size += p.length;
  const out = alloc(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function corrupt(where: string, why: string): QueueError {
  return new QueueError('CORRUPT_STATE', `${where}: ${why}; bucketq refuses to use or overwrite it`, { details: { object: where } });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const LIVE = new Set(['pending', 'delayed', 'claimed']);

function checkJob(j: unknown, where: string, live: boolean): JobRecord {
  if (!isObj(j) || typeof j.id !== 'string' || typeof j.state !== 'string') throw corrupt(where, 'a job lacks id or state');
  if (live && !LIVE.has(j.state)) throw corrupt(where, `job ${j.id} has state ${j.state} in the live list`);
  for (const f of ['priority', 'order', 'runAt', 'attempts', 'maxAttempts', 'createdAt', 'updatedAt'] as const) {
    if (!isNum(j[f])) throw corrupt(where, `job ${j.id} has a bad ${f}`);
  }
  if (j.state === 'claimed' && (!isObj(j.lease) || typeof j.lease.token !== 'string' || !isNum(j.lease.until))) {
    throw corrupt(where, `claimed job ${j.id} has no valid lease`);
  }
  return shapeRecord(j as unknown as JobRecord); // the one shape of a record in memory (job-json.ts)
}

/** Settings as stored, every known field checked (a bad value would be used, then written back as if valid); others kept as they are. */
function checkSettings(raw: unknown, where: string): TopicSettings {
  if (raw === undefined || raw === null) throw corrupt(where, 'settings are missing');
  if (!isObj(raw)) throw corrupt(where, 'settings is not an object');
  if (!isNum(raw.maxAttempts)) throw corrupt(where, raw.maxAttempts === undefined ? 'settings.maxAttempts is missing' : 'settings.maxAttempts is not a number');
  if (typeof raw.paused !== 'boolean') throw corrupt(where, raw.paused === undefined ? 'settings.paused is missing' : 'settings.paused is not a boolean');
  const b = raw.backoff;
  const ok = isObj(b) && ((b.type === 'fixed' && isNum(b.delayMs)) || (b.type === 'exponential' && isNum(b.baseMs) && (b.maxMs === undefined || isNum(b.maxMs)) && (b.jitter === undefined || isNum(b.jitter))));
  if (!ok) throw corrupt(where, b === undefined ? 'settings.backoff is missing' : 'settings.backoff is not a valid backoff');
  return raw as unknown as TopicSettings;
}

/** Every counter (all of them exist since format 1): a missing one would restart at 0. */
function checkCounters(raw: unknown, where: string): Counters {
  if (raw === undefined || raw === null) throw corrupt(where, 'counters are missing');
  if (!isObj(raw)) throw corrupt(where, 'counters is not an object');
  for (const [name, value] of Object.entries(raw)) if (!isNum(value)) throw corrupt(where, `counter ${name} is not a number`);
  for (const name of Object.keys(emptyCounters())) if (!(name in raw)) throw corrupt(where, `counter ${name} is missing`);
  return raw as unknown as Counters;
}

function checkDeadEntry(id: string, e: unknown, where: string): DeadEntry {
  if (!isObj(e) || typeof e.archive !== 'string' || !isNum(e.at) || !isNum(e.attempts) || (e.lastError !== undefined && typeof e.lastError !== 'string')) {
    throw corrupt(where, `dead-letter entry ${id} is not {archive, at, attempts, lastError?}`);
  }
  return e as unknown as DeadEntry;
}

/**
 * Parses queue.json text. `where` names the object in error messages. `now` only decides whether a
 * pending job is due or delayed when indexing (it does not change the stored state).
 */
export function parseState(text: string, where: string, now: number, limits: Partial<BacklogLimits> = UNSEGMENTED_LIMITS): QueueState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw corrupt(where, `not valid JSON (${(err as Error).message})`);
  }
  if (!isObj(raw)) throw corrupt(where, 'not a JSON object');
  if (!isNum(raw.format)) throw corrupt(where, 'no format version');
  if (raw.format > FORMAT_VERSION) {
    throw new QueueError('CORRUPT_STATE', `${where}: written by a newer bucketq (format ${raw.format}, this one knows ${FORMAT_VERSION}); upgrade bucketq, the object is left untouched`, {
      details: { object: where, format: raw.format },
    });
  }
  // Format upgrades, one step per version. 1 → 2: no archive window is open and the recent window
  // is empty, which is what an absent `archiveOpen` and `recent` parse to; the next commit writes 2.
  if (typeof raw.topic !== 'string' || !isNum(raw.seq) || !isNum(raw.nextOrder) || !Array.isArray(raw.jobs)) {
    throw corrupt(where, 'missing topic, seq, nextOrder or jobs');
  }
  if (typeof raw.writer !== 'string' || !isNum(raw.time)) throw corrupt(where, 'missing the commit stamp (writer, time)');
  const s = createState(raw.topic, limits);
  s.seq = raw.seq;
  s.writer = raw.writer;
  s.time = raw.time;
  s.nextOrder = raw.nextOrder;
  // null is "no leader yet"; absent is a damaged object (a default would restart the epoch at 1).
  if (raw.broker === undefined) throw corrupt(where, 'the broker lease is missing (null when none)');
  if (raw.broker !== null) {
    const b = raw.broker;
    if (!isObj(b) || typeof b.id !== 'string' || typeof b.url !== 'string' || !isNum(b.epoch) || !isNum(b.leaseUntil)) throw corrupt(where, 'bad broker lease');
    s.broker = { id: b.id, url: b.url, epoch: b.epoch, leaseUntil: b.leaseUntil };
  }
  s.settings = checkSettings(raw.settings, where);
  s.counters = checkCounters(raw.counters, where);
  if (!isObj(raw.dead)) throw corrupt(where, raw.dead === undefined ? 'dead (the dead-letter index) is missing' : 'dead is not an object');
  for (const [id, e] of Object.entries(raw.dead)) s.dead.set(id, checkDeadEntry(id, e, where));
  // Format 1 had no archive window and no recent window (both start empty); format 2 always writes them.
  if (raw.format >= 2 && (raw.archiveOpen === undefined || raw.recent === undefined)) throw corrupt(where, 'archiveOpen or recent is missing');
  if (raw.archiveOpen !== undefined && raw.archiveOpen !== null) {
    const a = raw.archiveOpen;
    if (!isObj(a) || !isNum(a.seq) || !isNum(a.start) || !isNum(a.n) || !isNum(a.last)) throw corrupt(where, 'bad archiveOpen');
    s.archiveOpen = { seq: a.seq, start: a.start, n: a.n, last: a.last };
  }
  const recent = parseRecent(raw.recent);
  if (typeof recent === 'string') throw corrupt(where, recent);
  s.recent = recent;
  // Finished jobs not archived yet: a default of [] would drop them.
  if (!Array.isArray(raw.done)) throw corrupt(where, raw.done === undefined ? 'done (finished jobs not yet archived) is missing' : 'done is not an array');
  setDone(s, raw.done.map((j) => checkJob(j, where, false)));

  const jobs = raw.jobs.map((j) => checkJob(j, where, true));
  // In enqueue order, whatever order the array was written in: the backlog's FIFOs are rebuilt from it.
  jobs.sort((a, b) => a.order - b.order);
  const waiting: JobRecord[] = [];
  for (const job of jobs) {
    if (s.jobs.has(job.id)) throw corrupt(where, `job ${job.id} appears twice`);
    s.jobs.set(job.id, job);
    if (job.state === 'claimed') {
      s.idx.counts.claimed++;
      s.idx.leases.push({ job, at: job.lease!.until, order: job.order });
    } else {
      waiting.push(job);
    }
  }
  // 2 → 3: every waiting job is in `jobs`; the backlog is built from them (a stored pending job
  // stays pending even if its runAt is in the future: it was promoted), and the first commit's
  // seal writes whatever exceeds the head's window as segments.
  if (raw.format >= 3) {
    const manifest = checkManifest(raw.backlog, where, s.topic);
    attachBacklog(s, loadBacklog(s.topic, s, manifest, waiting, where, limits));
  } else {
    attachBacklog(s, backlogFromJobs(s.topic, s, waiting, now, limits));
  }
  return s;
}
