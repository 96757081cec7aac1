/**
 * Segment objects ⇄ jobs (docs/format.md, section 3). A segment is written once and never changed;
 * its layout puts what a reader needs first, so each reader reads (and parses) only its part:
 *
 *   "BQSG" u16 version u16 kind u32 n u32 metaLen | n × (hi u32, lo u32) fingerprints | meta JSON
 *   | records (each job's JSON + "\n") | u32 CRC-32 of all before it          (little-endian)
 *
 * - fingerprints (16 + 8n bytes): the id index at takeover;
 * - meta (ids, orders, due times, record ends): a confirmation of an id, a get, inspect;
 * - all: a refill or a compaction, with the CRC checked.
 * Records are the head's own job JSON (jobBytes, cached per job), so encoding is a concatenation.
 */
import { QueueError } from '../../errors.js';
import { jobBytes } from '../job-json.js';
import type { JobRecord } from '../types.js';
import { crc32, fingerprintInto } from './fingerprint.js';

export type SegmentKind = 'ready' | 'delayed';

const MAGIC = 0x47535142; // "BQSG" read as a little-endian u32
const VERSION = 1;
const PREAMBLE = 16;
const NL = 0x0a; // "\n" after each record

export interface SegmentMeta {
  kind: SegmentKind;
  n: number;
  topic: string;
  /** The chain's priority (ready segments); null for delayed ones, which mix priorities. */
  priority: number | null;
  ids: string[];
  order: number[];
  runAt: number[];
  /** Per job (delayed segments only). */
  priorities?: number[];
  /** End of record i, from the start of the records. */
  ends: number[];
  /** Byte offset of the records in the object. */
  recordsAt: number;
}

export interface DecodedSegment {
  meta: SegmentMeta;
  jobs: JobRecord[];
}

function corrupt(where: string, why: string): QueueError {
  return new QueueError('CORRUPT_STATE', `${where}: ${why}; bucketq refuses to use it`, { details: { object: where } });
}

/** Whether this host stores a Uint32Array little-endian (every platform Node runs on today). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The segment's bytes. Ready segments: one priority, ascending order. Delayed: ascending (runAt,
 * order). `fps` are the jobs' fingerprints when the caller has them already (fingerprintInto).
 * One buffer of the exact size is filled in place: records are the cached bytes of each job.
 */
export function encodeSegment(topic: string, kind: SegmentKind, jobs: readonly JobRecord[], fps?: Uint32Array): Buffer {
  const n = jobs.length;
  if (!fps) {
    fps = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) fingerprintInto(jobs[i]!.id, fps, i);
  }
  const ids: string[] = new Array(n);
  const order: number[] = new Array(n);
  const runAt: number[] = new Array(n);
  const ends: number[] = new Array(n);
  const records: Buffer[] = new Array(n);
  let end = 0;
  for (let i = 0; i < n; i++) {
    const j = jobs[i]!;
    ids[i] = j.id;
    order[i] = j.order;
    runAt[i] = j.runAt;
    const rec = jobBytes(j);
    records[i] = rec;
    end += rec.length + 1;
    ends[i] = end;
  }
  const metaObj: Record<string, unknown> = { topic, priority: kind === 'ready' ? (jobs[0]?.priority ?? 0) : null, ids, order, runAt, ends };
  if (kind === 'delayed') metaObj.priorities = jobs.map((j) => j.priority);
  const meta = JSON.stringify(metaObj);
  const metaLen = Buffer.byteLength(meta, 'utf8');
  const fpAt = PREAMBLE;
  const metaAt = fpAt + 8 * n;
  const recordsAt = metaAt + metaLen;
  const body = Buffer.allocUnsafe(recordsAt + end + 4);
  body.writeUInt32LE(MAGIC, 0);
  body.writeUInt16LE(VERSION, 4);
  body.writeUInt16LE(kind === 'ready' ? 0 : 1, 6);
  body.writeUInt32LE(n, 8);
  body.writeUInt32LE(metaLen, 12);
  if (LITTLE_ENDIAN) body.set(new Uint8Array(fps.buffer, fps.byteOffset, 8 * n), fpAt);
  else for (let i = 0; i < 2 * n; i++) body.writeUInt32LE(fps[i]!, fpAt + 4 * i);
  body.write(meta, metaAt, metaLen, 'utf8');
  let at = recordsAt;
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    body.set(rec, at);
    at += rec.length;
    body[at++] = NL;
  }
  body.writeUInt32LE(crc32(body, at), at);
  return body;
}

function preamble(bytes: Uint8Array, where: string): { kind: SegmentKind; n: number; metaLen: number; buf: Buffer } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < PREAMBLE || buf.readUInt32LE(0) !== MAGIC) throw corrupt(where, 'not a bucketq segment');
  const version = buf.readUInt16LE(4);
  if (version !== VERSION) throw corrupt(where, `segment version ${version} (this bucketq knows ${VERSION})`);
  const k = buf.readUInt16LE(6);
  if (k !== 0 && k !== 1) throw corrupt(where, `unknown segment kind ${k}`);
  return { kind: k === 0 ? 'ready' : 'delayed', n: buf.readUInt32LE(8), metaLen: buf.readUInt32LE(12), buf };
}

/** Leading bytes holding the fingerprints of a segment of `n` jobs (n is in its manifest entry). */
export function fingerprintPrefix(n: number): number {
  return PREAMBLE + 8 * n;
}

/** How many leading bytes a reader needs for the fingerprints (from the 16-byte preamble). */
export function fingerprintBytes(prefix: Uint8Array, where: string): number {
  return PREAMBLE + 8 * preamble(prefix, where).n;
}

/** The ids' fingerprints, from a prefix of at least fingerprintBytes(). */
export function decodeSegmentFingerprints(bytes: Uint8Array, where: string): { kind: SegmentKind; fps: Uint32Array } {
  const { kind, n, buf } = preamble(bytes, where);
  if (buf.length < PREAMBLE + 8 * n) throw corrupt(where, 'truncated fingerprints');
  const fps = new Uint32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) fps[i] = buf.readUInt32LE(PREAMBLE + 4 * i);
  return { kind, fps };
}

/** The header (ids, orders, due times) without parsing any record. */
export function decodeSegmentMeta(bytes: Uint8Array, where: string): SegmentMeta {
  const { kind, n, metaLen, buf } = preamble(bytes, where);
  const at = PREAMBLE + 8 * n;
  if (buf.length < at + metaLen) throw corrupt(where, 'truncated header');
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(buf.toString('utf8', at, at + metaLen)) as Record<string, unknown>;
  } catch {
    throw corrupt(where, 'the header is not JSON');
  }
  const col = (name: string): unknown[] => {
    const v = raw[name];
    if (!Array.isArray(v) || v.length !== n) throw corrupt(where, `header column ${name} is not ${n} long`);
    return v;
  };
  const meta: SegmentMeta = {
    kind,
    n,
    topic: String(raw.topic),
    priority: typeof raw.priority === 'number' ? raw.priority : null,
    ids: col('ids') as string[],
    order: col('order') as number[],
    runAt: col('runAt') as number[],
    ends: col('ends') as number[],
    recordsAt: at + metaLen,
  };
  if (kind === 'delayed') meta.priorities = col('priorities') as number[];
  return meta;
}

/** Every job of the segment, the CRC checked. */
export function decodeSegment(bytes: Uint8Array, where: string): DecodedSegment {
  const meta = decodeSegmentMeta(bytes, where);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = meta.recordsAt + (meta.ends[meta.n - 1] ?? 0) + 4;
  if (buf.length !== total) throw corrupt(where, `${buf.length} bytes where the header says ${total}`);
  if (crc32(buf, total - 4) !== buf.readUInt32LE(total - 4)) throw corrupt(where, 'checksum mismatch');
  const jobs: JobRecord[] = new Array(meta.n);
  for (let i = 0; i < meta.n; i++) jobs[i] = recordAt(buf, meta, i, where);
  return { meta, jobs };
}

/** One job's record by id (a get), or undefined when the segment does not hold it. */
export function decodeSegmentRecord(bytes: Uint8Array, id: string, where: string): JobRecord | undefined {
  const meta = decodeSegmentMeta(bytes, where);
  const i = meta.ids.indexOf(id);
  return i < 0 ? undefined : recordAt(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), meta, i, where);
}

function recordAt(buf: Buffer, meta: SegmentMeta, i: number, where: string): JobRecord {
  const start = meta.recordsAt + (i === 0 ? 0 : meta.ends[i - 1]!);
  const end = meta.recordsAt + meta.ends[i]! - 1;
  let job: JobRecord;
  try {
    job = JSON.parse(buf.toString('utf8', start, end)) as JobRecord;
  } catch {
    throw corrupt(where, `record ${i} is not JSON`);
  }
  if (job.id !== meta.ids[i]) throw corrupt(where, `record ${i} is job ${job.id}, the header says ${meta.ids[i]}`);
  return job;
}
