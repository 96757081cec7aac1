/**
 * CPU time per thread of this process (Linux: /proc/self/task), for the benchmarks that split a
 * job's CPU into the main thread (the event loop: HTTP, the commit loop, the core) and the others
 * (V8's GC helpers, the file store's commit threads, libuv's pool). Clock ticks are 10 ms.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Per thread, user + system clock ticks; null elsewhere than Linux, or when a read failed. */
export function threadTicks(): Map<string, number> | null {
  try {
    const out = new Map<string, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(f[11]) + Number(f[12])); // utime, stime (fields 14 and 15)
    }
    return out;
  } catch {
    return null; // a thread that ended while being read, or no procfs
  }
}

/** Ticks since `before` on the main thread and on all the others; null without both readings. */
export function mainAndOthers(before: Map<string, number> | null, after = threadTicks()): { main: number; others: number } | null {
  if (!before || !after) return null;
  let main = 0;
  let others = 0;
  for (const [tid, ticks] of after) {
    const d = ticks - (before.get(tid) ?? 0);
    if (tid === String(process.pid)) main += d;
    else others += d;
  }
  return { main, others };
}
