/**
 * Durations as people type them, one rule for the CLI and the dashboard: a number with a unit,
 * `500ms`, `30s`, `2m`, `1h`, `1d`, decimals allowed (`1.5s`) and parts joined (`1m30s`), or a
 * bare number, which is milliseconds (as every `…Ms` field of the API and every `--…-ms` flag).
 * Pure: no Node or DOM, so the browser bundle uses it too.
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export interface ParsedDuration {
  ms: number;
  /** The text was a bare number (no unit). */
  bare: boolean;
}

/** `text` as milliseconds (rounded), or null when it is not a duration. */
export function parseDuration(text: string): ParsedDuration | null {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return { ms: Math.round(Number(t)), bare: true };
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(t)) return null;
  let ms = 0;
  for (const [, n, , unit] of t.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return Number.isFinite(ms) ? { ms: Math.round(ms), bare: false } : null;
}

/** Milliseconds as the shortest exact text: `500ms`, `30s`, `2m`, `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const size = UNIT_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
