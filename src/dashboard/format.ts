/** Numbers and times the way an operator scans them: short, aligned, unit attached. */
export function count(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US');
}

export function rate(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
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

/** An absolute time plus how far from now: "12:03:04 (in 8.2 s)". */
export function when(at: number | undefined, now = Date.now()): string {
  if (at === undefined || !Number.isFinite(at)) return '–';
  const clock = new Date(at).toLocaleTimeString('en-GB', { hour12: false });
  const delta = at - now;
  return `${clock} (${delta >= 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`})`;
}
