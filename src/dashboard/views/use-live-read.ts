/**
 * A small read kept live by a topic's events: made at once, again when one of `kinds` arrives
 * (at most once a second, and one at a time: a busy topic sends hundreds of events a second), and,
 * with `everyMs`, on a timer too (for what changes without an event, like heartbeats).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { useJobEvents } from '../live.js';

const GAP_MS = 1000;

export function useLiveRead<T>(topic: string, read: () => Promise<T>, kinds: readonly string[], everyMs?: number): { data: T | null; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const reading = useRef(false);
  /** Asked for while a read was under way: one more after it. */
  const again = useRef(false);
  const latest = useRef(read);
  latest.current = read;

  const soon = (): void => {
    if (timer.current) return;
    timer.current = setTimeout(() => ((timer.current = null), load()), Math.max(0, last.current + GAP_MS - Date.now()));
  };
  const load = (): void => {
    if (reading.current) {
      again.current = true;
      return;
    }
    reading.current = true;
    last.current = Date.now();
    latest
      .current()
      .then(
        (d) => (setData(d), setError(null)),
        (err: unknown) => setError(describeError(err)),
      )
      .finally(() => {
        reading.current = false;
        if (again.current) {
          again.current = false;
          soon();
        }
      });
  };
  useEffect(() => {
    load();
    const every = everyMs === undefined ? null : setInterval(load, everyMs);
    return () => {
      if (every) clearInterval(every);
      if (timer.current) clearTimeout(timer.current);
    };
  }, [topic]);
  useJobEvents(topic, (e) => {
    if (kinds.includes(e.kind) || e.kind === 'reset') soon();
  });
  return { data, error };
}
