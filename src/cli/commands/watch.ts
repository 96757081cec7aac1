/** `bucketq watch`: a broker's live events, one line each, until Ctrl-C. */
import { createClient } from '../../client/client.js';
import { watchEvents, type EventsOptions } from '../../client/events.js';
import { EVENT_KINDS, type QueueEvent, type QueueEventKind } from '../../event-types.js';
import { defineCommand, UsageError } from '../command.js';
import { didYouMean } from '../did-you-mean.js';
import { duration, ENVIRONMENT_USAGE, EXIT_USAGE, GLOBAL_USAGE, parse, positionals, previewText, topicArg } from '../shared.js';

const usage = `NAME
    bucketq watch - live events of a topic, or of every topic of a broker

SYNOPSIS
    bucketq watch [TOPIC] [--kind KIND,...] [--all] [--last-event-id ID]

DESCRIPTION
    Prints one line per event as it happens: jobs pushed, claimed, acked, nacked (a retry is
    scheduled), dead, cancelled, retried and released; leader changes. Every event is printed
    only once the commit that made it has landed in storage. The stats of every commit (one
    event per commit, many per second on a busy topic) are printed only when asked for, with
    --kind commit or --all.

    With a TOPIC, the events of that topic, read from its leader (followed when it changes).
    Without one, every topic that the broker reached by --url (or found through --store) leads;
    topics led by other brokers are not shown: watch each of those by name, or at its leader.

    A dropped connection is reopened with the last event id, so no event is missed while the
    broker still keeps it (its last 10 000); otherwise a "reset" line says events were missed.
    Runs until interrupted (Ctrl-C, SIGTERM), then exits 0. Stops with an error when no broker
    answers within --timeout.

OPTIONS
    --kind KIND,...
        Only these kinds of event (comma-separated, or the flag repeated): ${EVENT_KINDS.join(', ')}.
        Default: every kind but commit. A "reset" line (events were missed) is printed whatever
        the kinds.

    --all
        Every kind, commit included.

    --last-event-id ID
        Resume after this event (the "id" of a JSON line printed earlier).

${GLOBAL_USAGE}

OUTPUT
    On a terminal: TIME TOPIC KIND JOB DETAILS, e.g.
        12:00:01.250  emails  claimed    j-17  worker w1, attempt 1/5, lease 30s
    With --json or into a pipe: one JSON object per line, {"id", "kind", "topic", "time", ...}
    (docs/http-api.md, "Events"). Connection notes go to stderr.

${ENVIRONMENT_USAGE}

${EXIT_USAGE}

EXAMPLES
    bucketq watch emails
    bucketq watch emails --kind dead,nacked
    bucketq watch --json | jq -c 'select(.kind == "dead")'
`;

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** What follows TIME TOPIC KIND JOB on a line. */
function details(e: QueueEvent): string {
  switch (e.kind) {
    case 'pushed':
      return [e.state, e.priority ? `priority ${e.priority}` : '', e.runAt !== undefined && e.runAt > e.time ? `due in ${duration(e.runAt - e.time)}` : ''].filter(Boolean).join(', ');
    case 'claimed':
      return `worker ${e.worker}, attempt ${e.attempt}/${e.maxAttempts}, lease ${duration(e.leaseUntil - e.time)}`;
    case 'acked':
      return `worker ${e.worker}`;
    case 'nacked':
      return `worker ${e.worker}${e.runAt !== undefined ? `, retry in ${duration(Math.max(0, e.runAt - e.time))}` : ''}${e.error ? `: ${previewText(e.error, 120)}` : ''}`;
    case 'dead':
      return `worker ${e.worker}${e.error ? `: ${previewText(e.error, 120)}` : ''}`;
    case 'released':
      return `worker ${e.worker}, back to pending untouched`;
    case 'cancelled':
    case 'retried':
      return '';
    case 'leader':
      return e.leading ? `this broker (${e.broker}) leads, epoch ${e.epoch}` : `lost to ${e.leaderId ?? 'another broker'}${e.leader ? ` at ${e.leader}` : ''}`;
    case 'commit':
      return `seq ${e.seq}, ${e.requests} request${e.requests === 1 ? '' : 's'}, ${bytes(e.bytes)}, ${e.ms} ms${e.conflicts > 0 ? `, ${e.conflicts} conflicts` : ''}`;
    case 'reset':
      return `events were missed: ${e.reason}`;
  }
}

/** The kinds to print: --kind's (checked, with "did you mean"), --all's, or every kind but commit; reset always. */
export function kindsToShow(kinds: string[] | undefined, all: boolean): Set<QueueEventKind> {
  if (all && kinds !== undefined) throw new UsageError('--all and --kind exclude each other');
  if (all) return new Set(EVENT_KINDS);
  if (kinds === undefined) return new Set(EVENT_KINDS.filter((k) => k !== 'commit'));
  const given = kinds.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((k) => k !== '');
  if (given.length === 0) throw new UsageError(`--kind needs at least one kind: ${EVENT_KINDS.join(', ')}`);
  for (const k of given) {
    if (!(EVENT_KINDS as readonly string[]).includes(k)) throw new UsageError(`--kind: unknown event kind ${JSON.stringify(k)}${didYouMean(k, EVENT_KINDS)}; the kinds are ${EVENT_KINDS.join(', ')}`);
  }
  return new Set<QueueEventKind>(['reset', ...(given as QueueEventKind[])]);
}

export function eventLine(e: QueueEvent): string {
  const topic = 'topic' in e ? e.topic : '-';
  const job = 'job' in e ? e.job : '-';
  return [clock(e.time), topic, e.kind.padEnd(9), job, details(e)].join('  ').trimEnd();
}

export default defineCommand({
  name: 'watch',
  summary: 'live events of a topic or of a broker, one line each (Ctrl-C ends)',
  usage,
  async run(argv, env) {
    const { flags, ctx } = parse(argv, { 'last-event-id': { type: 'string' }, kind: { type: 'string', multiple: true }, all: { type: 'boolean' } }, env);
    const shown = kindsToShow(flags.values.kind, flags.values.all === true);
    const [topicText] = positionals(flags.positionals, ['[TOPIC]']);
    const topic = topicText === undefined ? undefined : topicArg(topicText);
    const lastEventId = flags.values['last-event-id'];

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    // A closed pipe (`| head`) is the reader saying it has seen enough.
    const onPipeError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') stop.abort();
    };
    process.stdout.on('error', onPipeError);
    const options: EventsOptions = {
      signal: stop.signal,
      lastEventId,
      onOpen: ({ url }) => process.stderr.write(`bucketq watch: connected to ${url}${topic ? ` (topic ${topic})` : ''}\n`),
    };
    const client = topic !== undefined ? createClient({ ...ctx.connection, topic }) : null;
    try {
      const events = client ? client.events(options) : watchEvents({ ...ctx.connection, ...options });
      for await (const e of events) {
        if (!shown.has(e.kind)) continue;
        process.stdout.write(`${ctx.json ? JSON.stringify(e) : eventLine(e)}\n`);
      }
      return 0;
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.stdout.off('error', onPipeError);
      await client?.close();
    }
  },
});
