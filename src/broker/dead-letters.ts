/**
 * The broker's I/O around dead jobs for browsing and bulk retry: a dead job that left queue.json
 * is an index stub there, and its full record (payload, last error, result) is in an archive
 * object. These helpers read those objects, one read per distinct archive, a few at a time.
 */
import type { JobRecord } from '../core/types.js';
import { QueueError } from '../errors.js';

/** Reads an object's body with the broker's retry policy (a transient error is retried, not reported). */
export type ReadWithRetry = (key: string) => Promise<{ body: Uint8Array } | null>;

const PARALLEL_READS = 8;

/**
 * The archived records of these stubs by id. Stubs whose archive object is not written yet, or
 * does not hold them, are absent from the answer (the caller decides what that means).
 */
export async function archivedRecords(read: ReadWithRetry, stubs: readonly JobRecord[]): Promise<Map<string, JobRecord>> {
  const byArchive = new Map<string, Set<string>>();
  for (const s of stubs) {
    if (s.archive === undefined) continue;
    let ids = byArchive.get(s.archive);
    if (!ids) byArchive.set(s.archive, (ids = new Set()));
    ids.add(s.id);
  }
  const out = new Map<string, JobRecord>();
  const keys = [...byArchive.keys()];
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const obj = await read(key);
      if (!obj) continue;
      const { jobs } = JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: JobRecord[] };
      const wanted = byArchive.get(key)!;
      // The last record of an id in an object is its final one (a job may finish, be retried and finish again).
      for (const j of jobs) if (wanted.has(j.id)) out.set(j.id, j);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, keys.length) }, worker));
  return out;
}

/** A dead stub completed from its archived record, or the stub itself when the record is missing. */
export function completeStub(stub: JobRecord, records: Map<string, JobRecord>): JobRecord {
  const rec = records.get(stub.id);
  return rec ? { ...rec, state: 'dead' } : stub;
}

/** The archived record of one dead stub: NOT_FOUND without an archive, UNAVAILABLE while it is not written yet. */
export async function archivedRecord(read: ReadWithRetry, stub: JobRecord): Promise<JobRecord> {
  if (!stub.archive) throw new QueueError('NOT_FOUND', `no archive for job ${stub.id}`);
  const key = stub.archive;
  const obj = await read(key);
  if (!obj) throw new QueueError('UNAVAILABLE', `the archive ${key} of job ${stub.id} is not written yet`, { details: { id: stub.id } });
  const { jobs } = JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: JobRecord[] };
  const rec = jobs.findLast((j) => j.id === stub.id);
  if (!rec) throw new QueueError('NOT_FOUND', `job ${stub.id} is not in its archive ${key}`);
  return rec;
}
