/**
 * The store as the checker sees it at the end, read straight from the directory with the plain
 * file driver (no broker, no faults): queue.json's live jobs, its not yet archived `done`, its
 * dead-letter index and epoch, and every record of every archive object of the topic.
 */
import { parseState } from '../src/core/codec.js';
import { assertInvariants } from '../src/core/invariants.js';
import { archivePrefix, queueKey } from '../src/core/keys.js';
import { decodeSegment } from '../src/core/segments/segment-codec.js';
import { checkManifest, type BacklogManifest } from '../src/core/segments/manifest.js';
import { openStore } from '../src/storage/index.js';
import type { StorageDriver } from '../src/storage/types.js';
import type { FinalStore, StoredJob } from './checker.js';

interface QueueJson {
  broker?: { epoch: number } | null;
  counters?: FinalStore['counters'];
  jobs: StoredJob[];
  done?: StoredJob[];
  dead?: Record<string, { attempts: number }>;
  /** Format 3: the segments holding the backlog beyond the head, as stored (docs/format.md, section 2). */
  backlog?: unknown;
}

/** The live jobs the head's segments hold: each named segment from its `skip`, cancelled ones left out. */
async function segmentJobs(store: StorageDriver, backlog: BacklogManifest | undefined): Promise<StoredJob[]> {
  if (!backlog) return [];
  const out: StoredJob[] = [];
  for (const ref of [...backlog.ready, ...backlog.delayed]) {
    const obj = await store.read(ref.key);
    if (!obj) throw new Error(`segment ${ref.key} named by queue.json is missing`);
    const jobs = decodeSegment(obj.body, ref.key).jobs.slice(ref.skip);
    for (const j of jobs) if (backlog.tombstones[j.id] !== ref.key) out.push(j as unknown as StoredJob);
  }
  return out;
}

/** The head's manifest, expanded from its stored form (undefined before format 3). */
export function manifestOf(q: QueueJson | null, topic: string): BacklogManifest | undefined {
  return q?.backlog === undefined ? undefined : checkManifest(q.backlog, 'queue.json', topic);
}

export async function readQueueJson(storeUrl: string, topic: string): Promise<QueueJson | null> {
  return (await readQueueText(storeUrl, topic))?.json ?? null;
}

async function readQueueText(storeUrl: string, topic: string): Promise<{ text: string; json: QueueJson } | null> {
  const store = await openStore(storeUrl);
  try {
    const obj = await store.read(queueKey(topic));
    if (!obj) return null;
    const text = Buffer.from(obj.body).toString('utf8');
    return { text, json: JSON.parse(text) as QueueJson };
  } finally {
    await store.close();
  }
}

/** What the core's own invariants say of the final state (null: all hold). */
function invariantError(text: string): string | null {
  try {
    const now = Date.now();
    assertInvariants(parseState(text, 'queue.json', now), now);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function readFinalStore(storeUrl: string, topic: string): Promise<FinalStore & { archiveObjects: number }> {
  const read = await readQueueText(storeUrl, topic);
  const q = read?.json ?? null;
  const store = await openStore(storeUrl);
  try {
    const finished: StoredJob[] = [...(q?.done ?? [])];
    const keys = await store.list(archivePrefix(topic));
    for (const key of keys) {
      const obj = await store.read(key);
      if (obj) finished.push(...(JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: StoredJob[] }).jobs);
    }
    return {
      finished,
      live: [...(q?.jobs ?? []), ...(await segmentJobs(store, q?.backlog === undefined ? undefined : checkManifest(q.backlog, queueKey(topic), topic)))],
      deadIndex: q?.dead ?? {},
      epoch: q?.broker?.epoch ?? 0,
      counters: { pushed: 0, completed: 0, dead: 0, claimed: 0, ...q?.counters },
      invariantError: read ? invariantError(read.text) : 'no queue.json',
      archiveObjects: keys.length,
    };
  } finally {
    await store.close();
  }
}
