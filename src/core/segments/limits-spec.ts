/**
 * The head's bounds as operators write them (`bucketq broker --backlog windowJobs=256,...`) and
 * their checks: each a whole number, and together able to work (a refill mark below the window,
 * a tail that can be sealed). docs/format.md, section 2, says what each bound does.
 */
import { QueueError } from '../../errors.js';
import { DEFAULT_LIMITS, type BacklogLimits } from './manifest.js';

const NAMES = Object.keys(DEFAULT_LIMITS) as Array<keyof BacklogLimits>;

function invalid(message: string): QueueError {
  return new QueueError('INVALID_ARGUMENT', message);
}

/** `name=value,...` into bounds; sizes of bytes take K and M suffixes (powers of 1024). */
export function parseBacklogSpec(spec: string): Partial<BacklogLimits> {
  const out: Partial<BacklogLimits> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim() as keyof BacklogLimits;
    if (!NAMES.includes(name)) throw invalid(`backlog bound ${JSON.stringify(name)} is unknown (known: ${NAMES.join(', ')})`);
    if (name in out) throw invalid(`backlog bound ${name} is given twice`);
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    const m = /^(\d+)([KM]i?B?)?$/i.exec(raw);
    const value = m ? Number(m[1]) * (m[2] ? (m[2][0]!.toUpperCase() === 'K' ? 1024 : 1024 * 1024) : 1) : NaN;
    if (!Number.isSafeInteger(value)) throw invalid(`backlog bound ${name} must be a whole number (bytes may end in K or M), got ${JSON.stringify(raw)}`);
    out[name] = value;
  }
  return out;
}

/** The bounds a broker will use (defaults filled in), refused when they cannot work together. */
export function checkBacklogLimits(partial: Partial<BacklogLimits>): BacklogLimits {
  const l: BacklogLimits = { ...DEFAULT_LIMITS, ...partial };
  for (const name of NAMES) {
    const v = l[name];
    const min = name === 'delayedLookaheadMs' || name === 'delayedHeadMax' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalid(`backlog bound ${name} must be a whole number of at least ${min}, got ${String(v)}`);
  }
  if (l.lowWater >= l.windowJobs) throw invalid(`backlog bound lowWater (${l.lowWater}) must be below windowJobs (${l.windowJobs}): a refill is asked for before the window runs dry`);
  if (l.tailSealJobs > l.tailTotalJobs) throw invalid(`backlog bound tailSealJobs (${l.tailSealJobs}) must be at most tailTotalJobs (${l.tailTotalJobs})`);
  return l;
}
