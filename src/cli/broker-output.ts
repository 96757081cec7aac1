/**
 * What `bucketq broker` prints, in one of two formats chosen at startup (docs/operations.md, "Logs"):
 *
 *   pretty  human lines only: the default when stdout is a terminal.
 *   json    one JSON object per line on stdout, nothing else: the default into a pipe or a file
 *           (systemd, containers), where a log collector reads it.
 *
 * BUCKETQ_LOG_FORMAT or --log-format forces either. Everything goes through one pino logger, so
 * each thing that happens is one line, in the chosen format: a leadership change is one
 * "leading topic T (epoch N)" line on a terminal and one {"event":"leader",...} record in a pipe,
 * never both.
 *
 * Some lines are printed whatever --log-level says, because scripts and people wait for them: the
 * startup line (in JSON an "event":"listening" record whose "msg" is the same text, so a script
 * matching " listening on URL " finds it in either format), leadership and state changes of
 * topics, the drain, and errors. --log-level filters the rest (storage errors, slow commits,
 * refused connections, ...), which pretty mode prints as "LEVEL: message (field value, ...)".
 */
import { pino } from 'pino';
import { createJsonLogger, LOG_LEVELS, type LogLevel } from '../server/logger.js';
import { UsageError } from './command.js';
import { didYouMean } from './did-you-mean.js';

export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** --log-format, else BUCKETQ_LOG_FORMAT, else pretty on a terminal and json elsewhere. */
export function logFormatOf(flag: string | undefined, env: NodeJS.ProcessEnv, isTTY: boolean): LogFormat {
  const [text, where] = flag !== undefined ? [flag, '--log-format'] : env.BUCKETQ_LOG_FORMAT ? [env.BUCKETQ_LOG_FORMAT, 'BUCKETQ_LOG_FORMAT'] : [undefined, ''];
  if (text === undefined) return isTTY ? 'pretty' : 'json';
  if ((LOG_FORMATS as readonly string[]).includes(text)) return text as LogFormat;
  throw new UsageError(`${where} must be pretty or json, got ${JSON.stringify(text)}${didYouMean(text, LOG_FORMATS)}`);
}

/** Records printed whatever the level (see the module comment). */
const ALWAYS = new Set(['listening', 'leader', 'fenced', 'state-lost', 'segment-lost', 'state-reset', 'draining', 'stopped', 'error', 'internal-error', 'exit']);

interface LogRecord {
  level: string;
  event?: string;
  msg?: string;
  [field: string]: unknown;
}

/** The fields of a record a person reads, after its message: no level, time, name or event. */
function fieldText(r: LogRecord): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (['level', 'time', 'name', 'msg', 'event', 'pid', 'hostname'].includes(k) || v === undefined || v === null) continue;
    const value = typeof v === 'object' && v !== null && 'code' in v && 'message' in v ? `${String((v as { code: unknown }).code)}: ${String((v as { message: unknown }).message)}` : typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(`${k} ${value}`);
  }
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function errorMessage(v: unknown): string {
  return typeof v === 'object' && v !== null && 'message' in v ? String((v as { message: unknown }).message) : String(v);
}

/**
 * A record as a human line and its stream, or null when pretty mode has a line of its own for
 * it (the startup and drain lines the command prints itself).
 */
export function prettyLine(r: LogRecord): { text: string; stderr: boolean } | null {
  const topic = String(r.topic ?? '?');
  switch (r.event) {
    case 'started':
    case 'listening':
    case 'draining':
    case 'stopped':
      return null;
    case 'leader':
      return { text: `leading topic ${topic} (epoch ${String(r.epoch)})`, stderr: false };
    case 'fenced': {
      const leader = r.leader as { id?: string; url?: string } | null | undefined;
      return { text: `lost topic ${topic} to broker ${leader?.id ?? '?'}${leader?.url ? ` at ${leader.url}` : ''}`, stderr: false };
    }
    case 'state-lost':
      return { text: `state of topic ${topic} lost: ${errorMessage(r.error)}`, stderr: false };
    case 'segment-lost':
      return { text: `segment ${String(r.key)} of topic ${topic} lost: ${errorMessage(r.error)}`, stderr: false };
    case 'state-reset':
      return { text: `topic ${topic} serving again (${String(r.action)}, commit ${String(r.seq)})`, stderr: false };
    case 'error':
      return { text: `error: ${String(r.context)}: ${errorMessage(r.error)}`, stderr: true };
    case 'internal-error':
      return { text: `error: topic ${topic}: ${String(r.op)}: ${errorMessage(r.error)}`, stderr: true };
    default: {
      const { level, msg, ...rest } = r;
      return { text: `${level}: ${msg ?? ''}${fieldText({ level, ...rest })}`, stderr: level === 'warn' || level === 'error' || level === 'fatal' };
    }
  }
}

export interface BrokerOutput {
  readonly format: LogFormat;
  /** For startBrokerServer's `logger`: every record comes back through this output. */
  readonly logger: pino.Logger;
  /**
   * A line of the command itself: `text` on a terminal; in JSON, a record of `event` with
   * `fields` and `text` as its message (or nothing, when `json` is false: a record of the
   * server's says it already).
   */
  say(event: string, fields: Record<string, unknown>, text: string, o?: { level?: 'info' | 'warn' | 'error'; stderr?: boolean; json?: boolean }): void;
  /** Log records wait until the startup line is out (scripts take the first line for it). */
  flushHeld(): void;
}

export function createBrokerOutput(format: LogFormat, level: LogLevel, out: (line: string) => void = (l) => process.stdout.write(l), err: (line: string) => void = (l) => process.stderr.write(l)): BrokerOutput {
  const threshold = LOG_LEVELS.indexOf(level);
  /** A record passes when the level allows it or it is one of those printed always. */
  const passes = (r: LogRecord) => ALWAYS.has(r.event ?? '') || (level !== 'silent' && LOG_LEVELS.indexOf(r.level as LogLevel) <= threshold);
  let held: string[] | null = [];
  const emit = (line: string) => {
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      return;
    }
    if (!passes(record)) return;
    if (format === 'json') return out(line.endsWith('\n') ? line : `${line}\n`);
    const pretty = prettyLine(record);
    if (pretty) (pretty.stderr ? err : out)(`${pretty.text}\n`);
  };
  // The logger runs at info or below so that the records printed always reach `emit`; `passes`
  // applies --log-level to the rest.
  const loggerLevel: LogLevel = threshold > LOG_LEVELS.indexOf('info') && level !== 'silent' ? level : 'info';
  const logger = createJsonLogger(loggerLevel, (line) => (held ? held.push(line) : emit(line)));
  // The command's own records are never held: the startup record must be the first line.
  const own = createJsonLogger('info', emit);
  return {
    format,
    logger,
    say(event, fields, text, o = {}) {
      if (format === 'pretty') return (o.stderr ? err : out)(`${text}\n`);
      if (o.json === false) return;
      own[o.level ?? 'info']({ event, ...fields }, text);
    },
    flushHeld() {
      const lines = held ?? [];
      held = null;
      for (const line of lines) emit(line);
    },
  };
}
