/**
 * The confirm step in front of every action that changes many jobs or cannot be undone (cancel,
 * retry all, purge): a dialog that says what will happen, to how many jobs, before anything is
 * sent. `confirmStep(...)` resolves true only when the operator pressed the action's own button.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export interface ConfirmRequest {
  title: string;
  /** What happens, in a sentence or two: what is changed, how many, whether it can be undone. */
  body: string;
  /** The button's label: the action itself ("Purge 12 dead jobs"), never just "OK". */
  action: string;
  danger?: boolean;
}

let current: (ConfirmRequest & { answer(yes: boolean): void }) | null = null;
const listeners = new Set<() => void>();

export function confirmStep(request: ConfirmRequest): Promise<boolean> {
  current?.answer(false); // a second question replaces the first, which is then declined
  return new Promise((resolve) => {
    current = {
      ...request,
      answer: (yes) => {
        current = null;
        listeners.forEach((l) => l());
        resolve(yes);
      },
    };
    listeners.forEach((l) => l());
  });
}

export function ConfirmHost() {
  const [, setTick] = useState(0);
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const l = (): void => setTick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  useEffect(() => {
    if (!current) return;
    button.current?.focus();
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') current?.answer(false);
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  });
  if (!current) return null;
  const ask = current;
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && ask.answer(false)}>
      <div class="modal" id="confirm" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-body">
        <h3 id="confirm-title">{ask.title}</h3>
        <p id="confirm-body">{ask.body}</p>
        <div class="actions">
          <button type="button" id="confirm-cancel" onClick={() => ask.answer(false)}>
            Go back
          </button>
          <button type="button" id="confirm-ok" ref={button} class={ask.danger ? 'primary danger-fill' : 'primary'} onClick={() => ask.answer(true)}>
            {ask.action}
          </button>
        </div>
      </div>
    </div>
  );
}
