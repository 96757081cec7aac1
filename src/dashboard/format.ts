/**
 * Numbers and times the way an operator scans them: short, aligned, unit attached.
 *
 * One date/time format on every screen: the browser's local time as `YYYY-MM-DD HH:mm:ss` (sorts
 * as text, reads the same in every locale, pastes into a log search), with how far from now it
 * is and the UTC offset in its tooltip (parts/time.tsx). Chart axes show the `HH:mm:ss` part of
 * it. Spans of time (an age, a delay) are durations: "3.8 s", "2 m 5 s".
 */
export function count(n: number | null | undefined): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US');
}

export function rate(n: number | null | undefined): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '–';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function millis(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** `HH:mm:ss`, local time: the clock part of {@link dateTime} (chart axes). */
export function timeOfDay(at: number): string {
  const d = new Date(at);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** `YYYY-MM-DD HH:mm:ss`, local time; '–' when there is no time. */
export function dateTime(at: number | null | undefined): string {
  if (at === undefined || at === null || !Number.isFinite(at) || at <= 0) return '–';
  const d = new Date(at);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${timeOfDay(at)}`;
}

/** "12.0 s ago", "in 8.2 s", "now". */
export function relative(at: number, now = Date.now()): string {
  const delta = at - now;
  if (Math.abs(delta) < 500) return 'now';
  return delta > 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

/** The browser's UTC offset at `at`, e.g. "UTC+01:00": the times above are in it. */
export function utcOffset(at: number): string {
  const minutes = -new Date(at).getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  return `UTC${sign}${two(Math.floor(Math.abs(minutes) / 60))}:${two(Math.abs(minutes) % 60)}`;
}
