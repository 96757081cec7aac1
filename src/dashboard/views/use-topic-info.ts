/**
 * Whether the topic exists, and its settings: GET /v1/topics/:topic, which answers 404 for a
 * topic the store does not have and creates nothing (docs/http-api.md). Read when the page opens,
 * after a gap in the event stream, and, while the topic is missing, at an event naming it (a
 * first push creates it while the page is open). One read at a time: events that arrive while one
 * is under way ask for one more after it, never for a read each (a busy topic sends hundreds a
 * second). A failure after the first answer keeps that answer: a broker restarting under the page
 * does not turn it into an error page. (The view is keyed by topic, so a hook serves one topic.)
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { useJobEvents } from '../live.js';
import type { TopicInfo } from '../types.js';

export type TopicLookup =
  | { kind: 'loading' }
  | { kind: 'found'; info: TopicInfo }
  | { kind: 'missing' }
  | { kind: 'failed'; error: ApiError };

export function useTopicInfo(topic: string): { lookup: TopicLookup; reload(): void } {
  const [lookup, setLookup] = useState<TopicLookup>({ kind: 'loading' });
  const current = useRef(lookup);
  current.current = lookup;
  const reading = useRef(false);
  const again = useRef(false);

  const reload = (): void => {
    if (reading.current) {
      again.current = true;
      return;
    }
    reading.current = true;
    api
      .topic(topic)
      .then(
        (info) => setLookup({ kind: 'found', info }),
        (err: unknown) => {
          const error = err instanceof ApiError ? err : new ApiError(0, 'UNAVAILABLE', String(err));
          if (error.code === 'NOT_FOUND') setLookup({ kind: 'missing' });
          else if (current.current.kind !== 'found') setLookup({ kind: 'failed', error });
        },
      )
      .finally(() => {
        reading.current = false;
        if (again.current) {
          again.current = false;
          reload();
        }
      });
  };
  useEffect(reload, []);
  useJobEvents(topic, (e) => {
    if (e.kind === 'reset' || current.current.kind === 'missing') reload();
  });
  return { lookup, reload };
}
