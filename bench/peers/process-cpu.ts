/**
 * CPU time a server process has used, for the "CPU per job" rows of bench:peers: utime + stime
 * from /proc/PID/stat (all threads of the process: a Node broker's threadpool doing fsync counts,
 * so do Redis's background threads), in clock ticks converted to µs. Linux only; elsewhere, or
 * once the process is gone, null.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Ticks per second of utime/stime (`getconf CLK_TCK`; 100 on Linux unless told otherwise). */
const TICKS_PER_S = ((): number => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/** The resolution of {@link cpuMicros}, in µs (10,000 at 100 ticks per second). */
export const CPU_TICK_US = 1e6 / TICKS_PER_S;

/** utime + stime of `pid` in µs, or null when /proc has no such process. */
export function cpuMicros(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name (from 1).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return ((utime + stime) * 1e6) / TICKS_PER_S;
}
