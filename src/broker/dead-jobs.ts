/**
 * The broker's dead-job work that needs I/O around a pure op: browsing pages of a state (dead
 * jobs shown with their archived records, large payloads read from their objects) and sending
 * many dead jobs back to pending in one op, so in one commit. Split from broker.ts, which hands
 * in the few broker capabilities these need.
 */
import type { OpInput, OpName, OpOutput } from '../core/apply.js';
import { MAX_PAGE, type ListJobsInput, type ListJobsOutput } from '../core/ops/browse-ops.js';
import type { RetryDeadOutput } from '../core/ops/retry-dead.js';
import type { SegmentSource } from '../core/segments/backlog.js';
import type { JobRecord } from '../core/types.js';
import { isQueueError } from '../errors.js';
import { checkId, checkTopic } from '../protocol.js';
import { archivedRecords, completeStub, type ReadWithRetry } from './dead-letters.js';

export interface DeadJobsContext {
  call<K extends OpName>(topic: string, op: K, input: OpInput<K>): Promise<OpOutput<K>>;
  read: ReadWithRetry;
  /** Inlines externalised payloads of these records (with retries). */
  inline(topic: string, records: JobRecord[]): Promise<unknown>;
  /** Writes a payload too large for queue.json to its own object: its ref, or undefined when it fits. */
  externalise(topic: string, json: string): Promise<string | undefined>;
  /** Deletes payload objects nothing points at (in the background). */
  cleanupPayloads(topic: string, refs: string[]): void;
  /** The topic's segments for pages of jobs: what is read already, and reads of more. */
  pageSegments(topic: string): { pageSource: SegmentSource; readForPage(keys: readonly string[]): Promise<void> };
}

const isStub = (j: JobRecord): boolean => j.state === 'dead' && j.payload === undefined && j.payloadRef === undefined;

/**
 * A page of one state's jobs from the committed state, payloads included: large ones are read
 * from their objects, dead jobs from their archive (a stub whose archive is not written yet is
 * shown as the stub). Pending and delayed pages go on into segments: the segments the op wants
 * (at most two) are read, off the loop, and the op runs again with them; a search's exact id
 * waiting in a segment is read with a get (its confirmation and record, docs/format.md section 3).
 */
export async function listJobsPage(ctx: DeadJobsContext, topic: string, input: ListJobsInput): Promise<ListJobsOutput> {
  checkTopic(topic);
  const segs = ctx.pageSegments(topic);
  const asked = { ...input, segments: segs.pageSource };
  delete asked.found;
  let page = await ctx.call(topic, 'listJobs', asked);
  if (page.wants) {
    await segs.readForPage(page.wants);
    page = await ctx.call(topic, 'listJobs', asked);
  } else if (page.lookup !== undefined) {
    const found = await ctx.call(topic, 'get', { id: page.lookup }).catch((err: unknown) => {
      if (isQueueError(err, 'NOT_FOUND')) return undefined;
      throw err;
    });
    if (found) page = await ctx.call(topic, 'listJobs', { ...asked, found });
  }
  delete page.wants;
  delete page.lookup;
  const stubs = page.jobs.filter(isStub);
  if (stubs.length > 0) {
    const records = await archivedRecords(ctx.read, stubs);
    const stubSet = new Set(stubs);
    page.jobs = page.jobs.map((j) => (stubSet.has(j) ? completeStub(j, records) : j));
  }
  if (page.jobs.some((j) => j.payloadRef !== undefined)) await ctx.inline(topic, page.jobs);
  return page;
}

/**
 * Every dead job (or the listed ones) back to pending in one op, so in one commit. Their
 * records are read from the archive first; large payloads get an object of their own again.
 */
export async function retryDeadJobs(ctx: DeadJobsContext, topic: string, ids?: readonly string[]): Promise<RetryDeadOutput> {
  let out = await retryDeadOnce(ctx, topic, ids);
  // A dead job listed from `done` may be archived by the very batch that applies the retry (its
  // record leaves the head then): the op skips it as UNAVAILABLE. Listed and read again, it is
  // found in its archive object. Twice at most: a job cannot be archived more than once.
  for (let again = 0; again < 2; again++) {
    const lagging = out.skipped.filter((s) => s.code === 'UNAVAILABLE').map((s) => s.id);
    if (lagging.length === 0) break;
    const next = await retryDeadOnce(ctx, topic, lagging);
    out = { retried: out.retried + next.retried, ids: [...out.ids, ...next.ids], skipped: [...out.skipped.filter((s) => s.code !== 'UNAVAILABLE'), ...next.skipped] };
  }
  return out;
}

async function retryDeadOnce(ctx: DeadJobsContext, topic: string, ids?: readonly string[]): Promise<RetryDeadOutput> {
  checkTopic(topic);
  const wanted = ids === undefined ? undefined : new Set(ids.map((id) => checkId(id)));
  const stubs: JobRecord[] = [];
  let after: string | undefined;
  do {
    const page = await ctx.call(topic, 'listJobs', { state: 'dead', limit: MAX_PAGE, ...(after !== undefined ? { after } : {}) });
    for (const j of page.jobs) if (!wanted || wanted.has(j.id)) stubs.push(j);
    after = page.next ?? undefined;
  } while (after !== undefined && (!wanted || stubs.length < wanted.size));
  const archived = stubs.filter((j) => j.payload === undefined && j.payloadRef === undefined);
  const records = archived.length > 0 ? await archivedRecords(ctx.read, archived) : new Map<string, JobRecord>();
  /** Payload objects written for this call, by job id: garbage for every job the op does not revive. */
  const written = new Map<string, string>();
  try {
    for (const rec of records.values()) {
      if (rec.payloadRef !== undefined) continue;
      const ref = await ctx.externalise(topic, JSON.stringify(rec.payload ?? null));
      if (ref === undefined) continue;
      written.set(rec.id, ref);
      delete rec.payload;
      rec.payloadRef = ref;
    }
    const jobs = stubs.map((j) => (records.has(j.id) ? { id: j.id, record: records.get(j.id)! } : { id: j.id }));
    // Listed ids that are not dead at all are reported by the op as skipped.
    if (wanted) {
      const found = new Set(stubs.map((j) => j.id));
      for (const id of wanted) if (!found.has(id)) jobs.push({ id });
    }
    if (jobs.length === 0) return { retried: 0, ids: [], skipped: [] };
    const out = await ctx.call(topic, 'retryDead', { jobs });
    // Skipped jobs (retried meanwhile by another call or broker) do not point at their fresh copy.
    ctx.cleanupPayloads(topic, out.skipped.flatMap((s) => (written.has(s.id) ? [written.get(s.id)!] : [])));
    return out;
  } catch (err) {
    // An ambiguous commit may have landed with jobs pointing at these objects: keep them.
    if (!isQueueError(err, 'STORE_AMBIGUOUS')) ctx.cleanupPayloads(topic, [...written.values()]);
    throw err;
  }
}
