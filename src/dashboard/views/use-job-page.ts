/**
 * One page of a topic's jobs in one state, kept live: job events are applied to the rows on
 * screen at once (a row whose job left the state shows where it went), and when an event touches the page
 * (a row's job changed, or a job entered this state) the page is fetched again, at most once a
 * second however many events arrive, and never while a fetch is under way (on a loaded broker a
 * page may take longer than a second: a refetch that replaced it would replace the next one too,
 * and the list would never show). Paging is by the broker's cursor; a stack of the cursors seen
 * makes "previous" possible.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import { useJobEvents } from '../live.js';
import type { Job, JobEvent, JobPage, ListState } from '../types.js';

export const PAGE_SIZE = 50;
const REFETCH_GAP_MS = 1000;

/** The state a job is in after an event (undefined: the event says nothing about it). */
function stateAfter(event: JobEvent): string | undefined {
  switch (event.kind) {
    case 'pushed':
      return event.state ?? 'pending';
    case 'claimed':
      return 'claimed';
    case 'acked':
      return 'completed';
    case 'nacked':
      return 'pending';
    case 'dead':
      return 'dead';
    case 'cancelled':
      return 'cancelled';
    case 'retried':
    case 'released':
      return 'pending';
    default:
      return undefined;
  }
}

export interface LivePage {
  page: JobPage | null;
  error: string | null;
  loading: boolean;
  /** 1-based page number. */
  number: number;
  hasPrevious: boolean;
  next(): void;
  previous(): void;
  reload(): void;
}

export function useJobPage(topic: string, state: ListState, q: string): LivePage {
  const [page, setPage] = useState<JobPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // cursors[i] is the `after` of page i+1 (null for the first page).
  const [cursors, setCursors] = useState<Array<string | null>>([null]);
  const lastFetch = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pageRef = useRef<JobPage | null>(null);
  const generation = useRef(0);
  /** A fetch is under way; `again`: events asked for another meanwhile. */
  const inFlight = useRef(false);
  const again = useRef(false);
  const after = cursors[cursors.length - 1] ?? null;

  const load = useCallback(async () => {
    const mine = ++generation.current;
    lastFetch.current = Date.now();
    inFlight.current = true;
    setLoading(true);
    try {
      const result = await api.jobs(topic, { state, limit: PAGE_SIZE, after, q: q || undefined });
      if (mine !== generation.current) return; // a newer request (another tab, page, search) won
      pageRef.current = result;
      setPage(result);
      setError(null);
    } catch (err) {
      if (mine === generation.current) setError(describeError(err));
    } finally {
      if (mine === generation.current) {
        setLoading(false);
        inFlight.current = false;
        lastFetch.current = Date.now();
        if (again.current) {
          again.current = false;
          scheduleRef.current();
        }
      }
    }
  }, [topic, state, q, after]);

  useEffect(() => {
    void load();
  }, [load]);

  // A new tab or search starts from the first page, and shows nothing of the old list meanwhile
  // (rows of another state under this tab's name would be clicked for what they are not).
  useEffect(() => {
    setCursors([null]);
    pageRef.current = null;
    setPage(null);
  }, [topic, state, q]);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );

  const schedule = (): void => {
    if (timer.current) return;
    const wait = Math.max(0, lastFetch.current + REFETCH_GAP_MS - Date.now());
    timer.current = setTimeout(() => {
      timer.current = null;
      if (inFlight.current) again.current = true;
      else void loadRef.current();
    }, wait);
  };
  const loadRef = useRef(load);
  loadRef.current = load;
  const scheduleRef = useRef(schedule);
  scheduleRef.current = schedule;

  useJobEvents(topic, (event) => {
    if (event.kind === 'reset') return schedule();
    const current = pageRef.current;
    const after = stateAfter(event);
    const row = current?.jobs.find((j) => j.id === event.job);
    if (row && after && current) {
      // Shown at once, marked with where the job went; the re-fetch then replaces the row. (Not
      // removed: under load the head of the pending list is claimed within the second, and an
      // empty page beside a count of hundreds would tell the operator something false.)
      const jobs = current.jobs.map((j): Job => (j.id === event.job ? { ...j, state: after as Job['state'] } : j));
      pageRef.current = { ...current, jobs };
      setPage(pageRef.current);
    }
    if (row || after === state) schedule();
  });

  return {
    page,
    error,
    loading,
    number: cursors.length,
    hasPrevious: cursors.length > 1,
    next: () => page?.next && setCursors((c) => [...c, page.next]),
    previous: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    reload: () => void load(),
  };
}
