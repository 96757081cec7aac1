/**
 * `bucketq doctor --topic T`: checks one topic's segmented backlog in the store (docs/format.md,
 * section 7). Every segment the head names must exist and decode with its checksum; the manifest's
 * counts must add up. Segments under the topic's prefix that no head names are listed: orphans
 * (normal for a while after a failed commit or a crash: the leader deletes them) and segments of
 * a commit not landed yet. Retired segments awaiting deletion are listed too. Reads only.
 */
import { queueKey } from '../core/keys.js';
import { QueueError } from '../errors.js';
import { checkSegments, countMismatch, manifestOf, summarizeBacklog, unnamedSegments, type BacklogSummary, type SegmentCheck, type UnnamedSegment } from './topic-backlog.js';
import type { StorageDriver } from './types.js';

export interface TopicDoctorReport {
  topic: string;
  head: { key: string; format: number; seq: number; epoch: number; writer: string; time: number | null };
  /** Null for a head older than format 3 (no segments). */
  backlog: BacklogSummary | null;
  segments: SegmentCheck[];
  /** Keys under segments/<topic>/ the head does not name: orphans, and segments of a later commit. */
  unnamed: UnnamedSegment[];
  /** Retired segments (the manifest's garbage) and whether the store still holds them. */
  garbage: Array<{ key: string; at: number; stored: boolean }>;
  /** One line each: a segment missing or corrupt, counts that do not add up. Empty when ok. */
  problems: string[];
  /** Reads the store failed (transient): the check is incomplete, not the topic broken. */
  unreadable: string[];
  ok: boolean;
}

interface RawHead {
  format?: number;
  seq?: number;
  writer?: string;
  time?: number;
  broker?: { epoch?: number } | null;
  jobs?: [];
  backlog?: unknown;
}

export async function runTopicDoctor(store: StorageDriver, topic: string): Promise<TopicDoctorReport> {
  const key = queueKey(topic);
  const obj = await store.read(key);
  if (!obj) throw new QueueError('NOT_FOUND', `no topic ${topic} (no ${key})`);
  let raw: RawHead;
  try {
    raw = JSON.parse(Buffer.from(obj.body).toString('utf8')) as RawHead;
  } catch (err) {
    throw new QueueError('CORRUPT_STATE', `${key} is not valid JSON (${(err as Error).message})`);
  }
  const head = { key, format: raw.format ?? 0, seq: raw.seq ?? 0, epoch: raw.broker?.epoch ?? 0, writer: raw.writer ?? '', time: typeof raw.time === 'number' ? raw.time : null };
  const manifest = manifestOf(raw, key); // CORRUPT_STATE when the manifest is not one a broker loads
  if (!manifest) return { topic, head, backlog: null, segments: [], unnamed: [], garbage: [], problems: [], unreadable: [], ok: true };
  const [segments, listed] = await Promise.all([checkSegments(store, manifest, { full: true }), unnamedSegments(store, topic, manifest, head)]);
  const problems = segments.filter((s) => s.status === 'missing' || s.status === 'corrupt').map((s) => `topic ${topic}: ${s.problem!}`);
  const mismatch = countMismatch(manifest);
  if (mismatch) problems.push(`topic ${topic}: ${mismatch}`);
  const unreadable = segments.filter((s) => s.status === 'unreadable').map((s) => s.problem!);
  return {
    topic,
    head,
    backlog: summarizeBacklog(raw.jobs ?? [], manifest),
    segments,
    unnamed: listed.unnamed,
    garbage: manifest.garbage.map((g) => ({ key: g.key, at: g.at, stored: listed.stored.has(g.key) })),
    problems,
    unreadable,
    ok: problems.length === 0 && unreadable.length === 0,
  };
}
