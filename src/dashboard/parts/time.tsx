/**
 * A point in time, the one way the dashboard writes it (format.ts): `YYYY-MM-DD HH:mm:ss` local
 * time, with how far from now and the UTC offset on hover. A `<time>` element, so the exact
 * instant is in its `datetime` attribute for anyone who copies it.
 */
import { dateTime, relative, utcOffset } from '../format.js';

export function Time({ at, now }: { at: number | null | undefined; now?: number }) {
  if (at === undefined || at === null || !Number.isFinite(at) || at <= 0) return <span class="muted">–</span>;
  return (
    <time class="ts" dateTime={new Date(at).toISOString()} title={`${relative(at, now)} · ${utcOffset(at)}`}>
      {dateTime(at)}
    </time>
  );
}
