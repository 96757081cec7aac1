/**
 * Storage keys of a topic. Pure functions: ops compute archive keys without I/O.
 *
 *   topics/<topic>/queue.json                          the state, CAS-updated
 *   archive/<topic>/<YYYY-MM-DDTHH>/<seq>.json         finished jobs, one object per archive window
 *                                                      (opened by commit <seq>, sealed by the broker)
 *   payloads/<topic>/<ref>.json                        large payloads, write-once
 *
 * Archives and payloads live outside `topics/` so listing topics never walks them, and the hour
 * bucket lets retention delete by listing one hour at a time.
 */
export const TOPIC_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

export function queueKey(topic: string): string {
  return `topics/${topic}/queue.json`;
}

export function archivePrefix(topic: string): string {
  return `archive/${topic}/`;
}

/** The hour bucket makes retention a matter of deleting whole old prefixes. */
export function archiveKey(topic: string, now: number, seq: number): string {
  // Every op of a batch asks with the same topic, time and seq: remember the last answer.
  if (lastKey.topic === topic && lastKey.now === now && lastKey.seq === seq) return lastKey.key;
  const hour = new Date(now).toISOString().slice(0, 13);
  const key = `${archivePrefix(topic)}${hour}/${String(seq).padStart(12, '0')}.json`;
  lastKey = { topic, now, seq, key };
  return key;
}
let lastKey = { topic: '', now: NaN, seq: NaN, key: '' };

/** Parses the hour bucket of an archive key back to epoch ms (start of the hour), or undefined. */
export function archiveBucketTime(key: string): number | undefined {
  const m = /^archive\/[^/]+\/(\d{4}-\d{2}-\d{2}T\d{2})\//.exec(key);
  return m ? Date.parse(`${m[1]}:00:00Z`) : undefined;
}

export function payloadKey(topic: string, ref: string): string {
  return `payloads/${topic}/${ref}.json`;
}

/** The topic of a `topics/<topic>/queue.json` key, else undefined. */
export function topicOfQueueKey(key: string): string | undefined {
  const m = /^topics\/([^/]+)\/queue\.json$/.exec(key);
  return m?.[1];
}
