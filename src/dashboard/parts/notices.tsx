/**
 * Success and error lines for the actions: each action's outcome is shown, errors with the
 * broker's code and message from its JSON body, until dismissed (errors) or for a few seconds.
 */
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../api.js';

export interface Notice {
  id: number;
  kind: 'ok' | 'error';
  text: string;
}

let nextId = 1;
const notices: Notice[] = [];
const listeners = new Set<() => void>();
const emit = (): void => listeners.forEach((l) => l());

export function notify(kind: Notice['kind'], text: string): void {
  const notice = { id: nextId++, kind, text };
  notices.push(notice);
  while (notices.length > 5) notices.shift();
  emit();
  // Successes fade; errors stay until dismissed, so a failure is never missed.
  if (kind === 'ok') setTimeout(() => dismiss(notice.id), 4000);
}

export function dismiss(id: number): void {
  const i = notices.findIndex((n) => n.id === id);
  if (i >= 0) notices.splice(i, 1);
  emit();
}

/** Runs an action and reports it: `done` on success, the error's code and message on failure. */
export async function act<T>(what: string, action: () => Promise<T>, done: (result: T) => string): Promise<T | undefined> {
  try {
    const result = await action();
    notify('ok', done(result));
    return result;
  } catch (err) {
    notify('error', `${what} failed — ${describeError(err)}`);
    return undefined;
  }
}

export function Notices() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = (): void => setTick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return (
    <div class="notices" role="status" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`} data-kind={n.kind}>
          <span>{n.text}</span>
          <button class="link" onClick={() => dismiss(n.id)} aria-label="dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
