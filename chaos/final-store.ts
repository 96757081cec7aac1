/**
 * The store as the checker sees it at the end, read straight from the directory with the plain
 * file driver (no broker, no faults): queue.json's live jobs, its not yet archived `done`, its
 * dead-letter index and epoch, and every record of every archive object of the topic.
 */
import { archivePrefix, queueKey } from '../src/core/keys.js';
import { openStore } from '../src/storage/index.js';
import type { FinalStore, StoredJob } from './checker.js';

interface QueueJson {
  broker?: { epoch: number } | null;
  jobs: StoredJob[];
  done?: StoredJob[];
  dead?: Record<string, { attempts: number }>;
}

export async function readQueueJson(storeUrl: string, topic: string): Promise<QueueJson | null> {
  const store = await openStore(storeUrl);
  try {
    const obj = await store.read(queueKey(topic));
    return obj ? (JSON.parse(Buffer.from(obj.body).toString('utf8')) as QueueJson) : null;
  } finally {
    await store.close();
  }
}

export async function readFinalStore(storeUrl: string, topic: string): Promise<FinalStore & { archiveObjects: number }> {
  const q = await readQueueJson(storeUrl, topic);
  const store = await openStore(storeUrl);
  try {
    const finished: StoredJob[] = [...(q?.done ?? [])];
    const keys = await store.list(archivePrefix(topic));
    for (const key of keys) {
      const obj = await store.read(key);
      if (obj) finished.push(...(JSON.parse(Buffer.from(obj.body).toString('utf8')) as { jobs: StoredJob[] }).jobs);
    }
    return { finished, live: q?.jobs ?? [], deadIndex: q?.dead ?? {}, epoch: q?.broker?.epoch ?? 0, archiveObjects: keys.length };
  } finally {
    await store.close();
  }
}
