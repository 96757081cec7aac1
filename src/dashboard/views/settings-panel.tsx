/**
 * A topic's settings, editable in place: max attempts and the retry backoff (exponential with
 * base, cap and jitter, or a fixed delay). They are the defaults for jobs pushed from then on
 * without their own (jobs already queued keep theirs); pausing is the page's Pause button. Saved
 * with PATCH /v1/topics/:topic, which sends only what changed and answers every setting; the
 * broker's refusal (400 with its message) is shown as every action's is.
 */
import { useEffect, useState } from 'preact/hooks';
import { formatDuration, parseDuration } from '../../duration.js';
import { api } from '../api.js';
import { act } from '../parts/notices.js';
import type { Backoff, TopicSettings } from '../types.js';

interface Form {
  maxAttempts: string;
  type: Backoff['type'];
  baseMs: string;
  maxMs: string;
  jitter: string;
  delayMs: string;
}

const DEFAULT_BASE_MS = 1000;

function formOf(s: TopicSettings): Form {
  const b = s.backoff;
  return {
    maxAttempts: String(s.maxAttempts),
    type: b.type,
    baseMs: formatDuration(b.type === 'exponential' ? b.baseMs : DEFAULT_BASE_MS),
    maxMs: b.type === 'exponential' && b.maxMs !== undefined ? formatDuration(b.maxMs) : '',
    jitter: b.type === 'exponential' && b.jitter !== undefined ? String(b.jitter) : '',
    delayMs: formatDuration(b.type === 'fixed' ? b.delayMs : DEFAULT_BASE_MS),
  };
}

/** The form as settings, or the first thing wrong with it. */
function settingsOf(f: Form): { ok: true; maxAttempts: number; backoff: Backoff } | { ok: false; problem: string } {
  const maxAttempts = Number(f.maxAttempts);
  if (!/^\d+$/.test(f.maxAttempts.trim()) || maxAttempts < 1) return { ok: false, problem: 'max attempts must be a whole number, 1 or more' };
  const ms = (text: string, name: string): number | string => parseDuration(text)?.ms ?? `${name} must be a duration such as 500ms, 30s, 5m or 1h`;
  if (f.type === 'fixed') {
    const delayMs = ms(f.delayMs, 'the delay');
    return typeof delayMs === 'string' ? { ok: false, problem: delayMs } : { ok: true, maxAttempts, backoff: { type: 'fixed', delayMs } };
  }
  const baseMs = ms(f.baseMs, 'the first delay');
  if (typeof baseMs === 'string') return { ok: false, problem: baseMs };
  const backoff: Backoff = { type: 'exponential', baseMs };
  if (f.maxMs.trim() !== '') {
    const maxMs = ms(f.maxMs, 'the longest delay');
    if (typeof maxMs === 'string') return { ok: false, problem: maxMs };
    backoff.maxMs = maxMs;
  }
  if (f.jitter.trim() !== '') {
    const jitter = Number(f.jitter);
    if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) return { ok: false, problem: 'jitter must be a number from 0 to 1' };
    backoff.jitter = jitter;
  }
  return { ok: true, maxAttempts, backoff };
}

/** "max attempts 3, backoff fixed 2s": what the notice says was saved. */
function describe(s: TopicSettings): string {
  const b = s.backoff;
  const backoff = b.type === 'fixed' ? `fixed ${formatDuration(b.delayMs)}` : `exponential from ${formatDuration(b.baseMs)}${b.maxMs !== undefined ? ` to ${formatDuration(b.maxMs)}` : ''}${b.jitter !== undefined ? `, jitter ${b.jitter}` : ''}`;
  return `max attempts ${s.maxAttempts}, backoff ${backoff}`;
}

export function SettingsPanel({ topic, settings, readOnly, onSaved }: { topic: string; settings: TopicSettings; readOnly: boolean; onSaved(): void }) {
  const saved = formOf(settings);
  const [form, setForm] = useState<Form>(saved);
  const [busy, setBusy] = useState(false);
  // The broker's settings changed (saved here or elsewhere): the form follows them.
  useEffect(() => setForm(formOf(settings)), [JSON.stringify(settings)]);
  const parsed = settingsOf(form);
  const changed = JSON.stringify(form) !== JSON.stringify(saved);
  const set = (field: keyof Form) => (e: Event) => setForm({ ...form, [field]: (e.target as HTMLInputElement).value });

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!parsed.ok || !changed) return;
    const patch: Partial<TopicSettings> = {};
    if (parsed.maxAttempts !== settings.maxAttempts) patch.maxAttempts = parsed.maxAttempts;
    if (JSON.stringify(parsed.backoff) !== JSON.stringify(settings.backoff)) patch.backoff = parsed.backoff;
    setBusy(true);
    const done = await act('save settings', () => api.configure(topic, patch), (s) => `settings of ${topic} saved: ${describe(s)}`);
    setBusy(false);
    if (done) onSaved();
  };

  const locked = readOnly ? 'this session may only read' : undefined;
  return (
    <section class="panel" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <form id="settings" class="settings" onSubmit={save}>
        <label>
          max attempts
          <input id="settings-max-attempts" inputMode="numeric" value={form.maxAttempts} onInput={set('maxAttempts')} disabled={readOnly} title={locked} />
        </label>
        <label>
          retry backoff
          <select id="settings-backoff" value={form.type} onChange={set('type')} disabled={readOnly} title={locked}>
            <option value="exponential">exponential</option>
            <option value="fixed">fixed</option>
          </select>
        </label>
        {form.type === 'exponential' ? (
          <>
            <label>
              first delay
              <input id="settings-base" value={form.baseMs} onInput={set('baseMs')} disabled={readOnly} title={locked} />
            </label>
            <label>
              longest delay
              <input id="settings-max" value={form.maxMs} onInput={set('maxMs')} placeholder="no cap" disabled={readOnly} title={locked} />
            </label>
            <label>
              jitter (0–1)
              <input id="settings-jitter" value={form.jitter} onInput={set('jitter')} placeholder="0" disabled={readOnly} title={locked} />
            </label>
          </>
        ) : (
          <label>
            delay
            <input id="settings-delay" value={form.delayMs} onInput={set('delayMs')} disabled={readOnly} title={locked} />
          </label>
        )}
        <div class="settings-actions">
          <button type="button" id="settings-reset" disabled={!changed || busy} onClick={() => setForm(saved)}>
            Undo
          </button>
          <button type="submit" id="settings-save" class="primary" disabled={readOnly || busy || !changed || !parsed.ok} title={locked}>
            Save
          </button>
        </div>
      </form>
      <p class={parsed.ok ? 'muted hint-line' : 'error-line'} id="settings-problem">
        {parsed.ok ? 'Defaults for jobs pushed from now on without their own; jobs already queued keep theirs. Durations: 500ms, 30s, 5m, 1h.' : parsed.problem}
      </p>
    </section>
  );
}
