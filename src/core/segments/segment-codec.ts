/**
 * Segment objects ⇄ jobs (docs/format.md, section 3). A segment is written once and never changed;
 * its layout puts what a reader needs first, so each reader reads (and parses) only its part, and
 * every part carries its own checksum, so a reader of one part checks what it read:
 *
 *   "BQSG" u16 version u16 kind u32 n u32 metaLen | n × (hi u32, lo u32) fingerprints | u32 CRC
 *   | meta JSON | n × u32 record CRCs | u32 CRC of meta and record CRCs
 *   | records (each job's JSON + "\n")                                      (little-endian)
 *
 * - fingerprints (the first fingerprintPrefix(n) bytes): the id index at takeover;
 * - header (the first segmentHeaderBytes() bytes: ids, orders, due times, record ends and CRCs):
 *   a confirmation of an id, inspect; plus one record's bytes (recordSpan) for a get;
 * - all: a refill or a compaction, every section checked.
 * Records are the head's own job JSON (jobBytes, cached per job), copied into the segment: the records
 * of jobs pushed together lie in one slab already as the segment holds them (job-json.ts), one copy a run.
 */
import { QueueError } from '../../errors.js';
import { ByteWriter } from '../byte-writer.js';
import { cachedRecordCrc, keepRecordCrc, primeJobBytes, recordBuffer, shapeRecord, recordLength, recordStart } from '../job-json.js';
import type { JobRecord } from '../types.js';
import { crc32, fingerprintInto } from './fingerprint.js';

export type SegmentKind = 'ready' | 'delayed';

const MAGIC = 0x47535142; // "BQSG" read as a little-endian u32
/** 2: every section has its own CRC (1, unreleased, had one CRC over the whole object). */
const VERSION = 2;
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
  /** CRC-32 of record i's bytes (its JSON and "\n"). */
  crcs: Uint32Array;
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

/** Where each section of a segment of `n` jobs and `metaLen` bytes of meta starts. */
function layout(n: number, metaLen: number) {
  const fpsCrcAt = PREAMBLE + 8 * n;
  const metaAt = fpsCrcAt + 4;
  const crcsAt = metaAt + metaLen;
  const headCrcAt = crcsAt + 4 * n;
  return { fpsCrcAt, metaAt, crcsAt, headCrcAt, recordsAt: headCrcAt + 4 };
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
  const ends: number[] = new Array(n);
  let end = 0;
  for (let i = 0; i < n; i++) {
    end += recordLength(jobs[i]!) + 1;
    ends[i] = end;
  }
  const meta = writeMeta(topic, kind, jobs, ends);
  const metaLen = meta.length;
  const at = layout(n, metaLen);
  const body = Buffer.allocUnsafe(at.recordsAt + end);
  body.writeUInt32LE(MAGIC, 0);
  body.writeUInt16LE(VERSION, 4);
  body.writeUInt16LE(kind === 'ready' ? 0 : 1, 6);
  body.writeUInt32LE(n, 8);
  body.writeUInt32LE(metaLen, 12);
  if (LITTLE_ENDIAN) body.set(new Uint8Array(fps.buffer, fps.byteOffset, 8 * n), PREAMBLE);
  else for (let i = 0; i < 2 * n; i++) body.writeUInt32LE(fps[i]!, PREAMBLE + 4 * i);
  body.writeUInt32LE(crc32(body, at.fpsCrcAt), at.fpsCrcAt);
  meta.buf.copy(body, at.metaAt, 0, metaLen);
  releaseMeta(meta);
  // Records after the header, each with its own CRC (over the record and its newline) in the header.
  const p = copyRecords(jobs, body, at.recordsAt);
  if (p !== body.length) throw new Error(`segment records are ${p - at.recordsAt} bytes, ${end} expected`);
  // A job merged again at the next seal is not checksummed again: its CRC is cached with its record.
  let start = at.recordsAt;
  for (let i = 0; i < n; i++) {
    const j = jobs[i]!;
    const recEnd = at.recordsAt + ends[i]!;
    body.writeUInt32LE(cachedRecordCrc(j) ?? keepRecordCrc(j, crc32(body, recEnd, start)), at.crcsAt + 4 * i);
    start = recEnd;
  }
  body.writeUInt32LE(crc32(body, at.headCrcAt, at.metaAt), at.headCrcAt);
  return body;
}

/** Where a segment's meta is written before its size (and so the segment's) is known: reused. */
const metaOut = new ByteWriter();
/** A scratch buffer larger than this (ids of hundreds of characters) is not kept after its segment. */
const META_KEEP = 4 * 1024 * 1024;

/**
 * The header's meta, written as bytes: the text JSON.stringify writes for {topic, priority, ids,
 * order, runAt, ends, priorities?}, without making that text (a string of ~70 bytes a job, then
 * measured and encoded again: a tenth of a bulk push's CPU, profiled).
 */
function writeMeta(topic: string, kind: SegmentKind, jobs: readonly JobRecord[], ends: readonly number[]): ByteWriter {
  const w = metaOut;
  const n = jobs.length;
  w.reset();
  w.ascii('{"topic":');
  w.jsonString(topic);
  w.ascii(',"priority":');
  if (kind === 'ready') w.jsonNumber(jobs[0]?.priority ?? 0);
  else w.ascii('null');
  w.ascii(',"ids":[');
  for (let i = 0; i < n; i++) {
    if (i > 0) w.ascii(',');
    w.jsonString(jobs[i]!.id);
  }
  w.ascii('],"order":[');
  for (let i = 0; i < n; i++) {
    if (i > 0) w.ascii(',');
    w.jsonNumber(jobs[i]!.order);
  }
  w.ascii('],"runAt":[');
  for (let i = 0; i < n; i++) {
    if (i > 0) w.ascii(',');
    w.jsonNumber(jobs[i]!.runAt);
  }
  w.ascii('],"ends":[');
  for (let i = 0; i < n; i++) {
    if (i > 0) w.ascii(',');
    w.jsonNumber(ends[i]!);
  }
  if (kind === 'delayed') {
    w.ascii('],"priorities":[');
    for (let i = 0; i < n; i++) {
      if (i > 0) w.ascii(',');
      w.jsonNumber(jobs[i]!.priority);
    }
  }
  w.ascii(']}');
  return w;
}

function releaseMeta(w: ByteWriter): void {
  if (w.buf.length > META_KEEP) w.buf = Buffer.allocUnsafe(0);
}

/**
 * Copies each job's record and a newline into `body` from `p` on; returns the end. Records that lie
 * one after another in one buffer, newlines between (a slab: job-json.ts), go in one copy.
 */
function copyRecords(jobs: readonly JobRecord[], body: Buffer, p: number): number {
  let src: Buffer | undefined;
  let from = 0;
  let to = 0;
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i]!;
    const buf = recordBuffer(j);
    const s = recordStart(j);
    const len = recordLength(j);
    if (buf === src && s === to + 1 && buf[to] === NL) {
      to = s + len;
      continue;
    }
    if (src) p = copyRun(src, from, to, body, p);
    src = buf;
    from = s;
    to = s + len;
  }
  return src ? copyRun(src, from, to, body, p) : p;
}

function copyRun(src: Buffer, from: number, to: number, body: Buffer, p: number): number {
  p += src.copy(body, p, from, to);
  body[p] = NL;
  return p + 1;
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

/** Throws CORRUPT_STATE unless the u32 at `at` is the CRC-32 of buf[from, at). */
function checkCrc(buf: Buffer, from: number, at: number, what: string, where: string): void {
  if (crc32(buf, at, from) !== buf.readUInt32LE(at)) throw corrupt(where, `${what} checksum mismatch`);
}

/** Leading bytes holding the fingerprints (and their CRC) of a segment of `n` jobs (n is in its manifest entry). */
export function fingerprintPrefix(n: number): number {
  return layout(n, 0).metaAt;
}

/** How many leading bytes a reader needs for the fingerprints (from the 16-byte preamble). */
export function fingerprintBytes(prefix: Uint8Array, where: string): number {
  return fingerprintPrefix(preamble(prefix, where).n);
}

/** How many leading bytes decodeSegmentMeta needs (from a prefix of at least 16 bytes). */
export function segmentHeaderBytes(prefix: Uint8Array, where: string): number {
  const { n, metaLen } = preamble(prefix, where);
  return layout(n, metaLen).recordsAt;
}

/**
 * A first read for the header of a segment of `n` jobs, large enough in the usual case (ids of a
 * few dozen characters): a second read fetches the rest when the header is longer.
 */
export function segmentHeaderGuess(n: number): number {
  return layout(n, 0).recordsAt + 96 * n + 1024;
}

/** The ids' fingerprints, from a prefix of at least fingerprintBytes(), their CRC checked. */
export function decodeSegmentFingerprints(bytes: Uint8Array, where: string): { kind: SegmentKind; fps: Uint32Array } {
  const { kind, n, buf } = preamble(bytes, where);
  const at = layout(n, 0);
  if (buf.length < at.metaAt) throw corrupt(where, 'truncated fingerprints');
  checkCrc(buf, 0, at.fpsCrcAt, 'fingerprint section', where);
  const fps = new Uint32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) fps[i] = buf.readUInt32LE(PREAMBLE + 4 * i);
  return { kind, fps };
}

/** The header (ids, orders, due times, record ends and CRCs), its CRCs checked, without parsing any record. */
export function decodeSegmentMeta(bytes: Uint8Array, where: string): SegmentMeta {
  const { kind, n, metaLen, buf } = preamble(bytes, where);
  const at = layout(n, metaLen);
  if (buf.length < at.recordsAt) throw corrupt(where, 'truncated header');
  checkCrc(buf, 0, at.fpsCrcAt, 'fingerprint section', where);
  checkCrc(buf, at.metaAt, at.headCrcAt, 'header', where);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(buf.toString('utf8', at.metaAt, at.crcsAt)) as Record<string, unknown>;
  } catch {
    throw corrupt(where, 'the header is not JSON');
  }
  const col = (name: string): unknown[] => {
    const v = raw[name];
    if (!Array.isArray(v) || v.length !== n) throw corrupt(where, `header column ${name} is not ${n} long`);
    return v;
  };
  const crcs = new Uint32Array(n);
  for (let i = 0; i < n; i++) crcs[i] = buf.readUInt32LE(at.crcsAt + 4 * i);
  const meta: SegmentMeta = {
    kind,
    n,
    topic: String(raw.topic),
    priority: typeof raw.priority === 'number' ? raw.priority : null,
    ids: col('ids') as string[],
    order: col('order') as number[],
    runAt: col('runAt') as number[],
    ends: col('ends') as number[],
    crcs,
    recordsAt: at.recordsAt,
  };
  if (kind === 'delayed') meta.priorities = col('priorities') as number[];
  return meta;
}

/** Byte range [start, end) of record i in the object. */
export function recordSpan(meta: SegmentMeta, i: number): [number, number] {
  return [meta.recordsAt + (i === 0 ? 0 : meta.ends[i - 1]!), meta.recordsAt + meta.ends[i]!];
}

/** Every job of the segment, every section's CRC checked. */
export function decodeSegment(bytes: Uint8Array, where: string): DecodedSegment {
  const meta = decodeSegmentMeta(bytes, where);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = meta.recordsAt + (meta.ends[meta.n - 1] ?? 0);
  if (buf.length !== total) throw corrupt(where, `${buf.length} bytes where the header says ${total}`);
  const jobs: JobRecord[] = new Array(meta.n);
  for (let i = 0; i < meta.n; i++) jobs[i] = decodeRecord(meta, i, buf.subarray(...recordSpan(meta, i)), where);
  return { meta, jobs };
}

/** One job's record by id (a get), or undefined when the segment does not hold it. */
export function decodeSegmentRecord(bytes: Uint8Array, id: string, where: string): JobRecord | undefined {
  const meta = decodeSegmentMeta(bytes, where);
  const i = meta.ids.indexOf(id);
  return i < 0 ? undefined : decodeRecord(meta, i, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).subarray(...recordSpan(meta, i)), where);
}

/** Record i from exactly its bytes (recordSpan), its CRC checked against the header's. */
export function decodeRecord(meta: SegmentMeta, i: number, bytes: Uint8Array, where: string): JobRecord {
  const [start, end] = recordSpan(meta, i);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length !== end - start) throw corrupt(where, `record ${i} is ${buf.length} bytes where the header says ${end - start}`);
  if (crc32(buf) !== meta.crcs[i]) throw corrupt(where, `record ${i} checksum mismatch`);
  let job: JobRecord;
  try {
    job = shapeRecord(JSON.parse(buf.toString('utf8', 0, buf.length - 1)) as JobRecord);
  } catch {
    throw corrupt(where, `record ${i} is not JSON`);
  }
  if (job.id !== meta.ids[i]) throw corrupt(where, `record ${i} is job ${job.id}, the header says ${meta.ids[i]}`);
  // The record is the job's head JSON as it was sealed (jobBytes): a view of it, no copy.
  primeJobBytes(job, buf.subarray(0, buf.length - 1));
  return job;
}
