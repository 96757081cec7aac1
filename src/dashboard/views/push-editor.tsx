/**
 * Push a job: a JSON editor for the payload, checked as you type (the button stays disabled and
 * the parse error is shown while it is not JSON), plus the options the push route takes.
 */
import { useState } from 'preact/hooks';
import { formatDuration, parseDuration } from '../../duration.js';
import { api } from '../api.js';
import { act } from '../parts/notices.js';

function parse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function integer(text: string, name: string): { value?: number; error?: string } {
  if (text.trim() === '') return {};
  const n = Number(text);
  return Number.isInteger(n) ? { value: n } : { error: `${name} must be a whole number` };
}

/** The same durations as the CLI's flags (src/duration.ts): 30s, 5m, 1h, 500ms; a bare number is milliseconds. */
function delayOf(text: string): { value?: number; error?: string } {
  if (text.trim() === '') return {};
  const d = parseDuration(text);
  return d ? { value: d.ms } : { error: 'delay must be a duration such as 30s, 5m, 1h or 500ms (a bare number is milliseconds)' };
}

export function PushEditor({ topic, onClose }: { topic: string; onClose(): void }) {
  const [payload, setPayload] = useState('{\n  \n}');
  const [id, setId] = useState('');
  const [priority, setPriority] = useState('');
  const [delay, setDelay] = useState('');
  const [busy, setBusy] = useState(false);
  const parsed = parse(payload);
  const prio = integer(priority, 'priority');
  const delayMs = delayOf(delay);
  const problem = !parsed.ok ? `payload is not JSON: ${parsed.error}` : (prio.error ?? delayMs.error ?? null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (problem || !parsed.ok) return;
    const job: Record<string, unknown> = { payload: parsed.value };
    if (id.trim()) job.id = id.trim();
    if (prio.value !== undefined) job.priority = prio.value;
    if (delayMs.value !== undefined) job.delayMs = delayMs.value;
    setBusy(true);
    const done = await act('push', () => api.push(topic, job), (r) => (r.created ? `pushed ${r.id}` : `${r.id} already exists: nothing pushed`));
    setBusy(false);
    if (done) onClose();
  };

  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <form class="modal" id="push-form" onSubmit={submit} aria-label={`push a job to ${topic}`}>
        <h3>Push a job to {topic}</h3>
        <label>
          payload (JSON)
          <textarea id="push-payload" class={`mono ${parsed.ok ? '' : 'invalid'}`} rows={10} spellcheck={false} value={payload} onInput={(e) => setPayload((e.target as HTMLTextAreaElement).value)} />
        </label>
        <div class="row">
          <label>
            id (optional)
            <input id="push-id" value={id} onInput={(e) => setId((e.target as HTMLInputElement).value)} placeholder="made by the broker" />
          </label>
          <label>
            priority
            <input id="push-priority" value={priority} inputMode="numeric" onInput={(e) => setPriority((e.target as HTMLInputElement).value)} placeholder="0" />
          </label>
          <label>
            delay (30s, 5m, 1h; a bare number is ms)
            <input id="push-delay" value={delay} onInput={(e) => setDelay((e.target as HTMLInputElement).value)} placeholder="0s" />
          </label>
        </div>
        <p class={problem ? 'error-line' : 'hint'} id="push-problem">
          {problem ?? `valid JSON${delayMs.value ? `; due in ${formatDuration(delayMs.value)}` : ''}`}
        </p>
        <div class="actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" id="push-submit" class="primary" disabled={busy || problem !== null}>
            Push
          </button>
        </div>
      </form>
    </div>
  );
}
