/**
 * Streams: a key is a topic consumed at least once, the way Redis consumer groups are used.
 *
 * - XADD pushes one job whose payload is the field/value pairs as an object of strings. `*` makes
 *   a stream-style id (`ms-seq`, increasing on this broker), an explicit id is the job id; adding
 *   an id that exists returns it and adds nothing (bucketq's idempotent push), where Redis would
 *   refuse an id not above the top. Trimming (MAXLEN/MINID) is refused: jobs leave when acked.
 * - XREADGROUP `>` claims jobs leased for `--resp-lease-ms` to the broker worker `group:consumer`;
 *   the lease token stays in this server (resp/stream-leases.ts). Another id than `>` lists the
 *   consumer's own live deliveries after it, as Redis does. NOACK claims and acks in one step.
 * - Groups: every group of a key reads the same queue; the group scopes XACK, XPENDING and XCLAIM
 *   and names the worker. Redis would give each group its own copy of every message; a topic is
 *   one queue, so two groups on one key compete for its jobs. XGROUP CREATE is accepted for the
 *   clients that call it first.
 * - XACK acks with the stored lease and counts those the broker really acked. An expired lease is
 *   not acked (0): the job has gone back and will be delivered again.
 * - XLEN counts pending, delayed and claimed jobs; XDEL cancels pending or delayed jobs (a claimed
 *   one is not deleted: 0).
 */
import type { ClaimedJob } from '../../../core/ops/claim.js';
import { QueueError } from '../../../errors.js';
import { intArg, invalid, payloadFields, syntaxError, topicOf, type CommandCall, type CommandTable } from '../command.js';
import { map, NULL_ARRAY, OK, type Reply } from '../writer.js';

const MAX_GROUPS_PER_KEY = 1024;

export function workerOf(group: string, consumer: string): string {
  const w = `${group}:${consumer}`;
  if (group === '' || consumer === '' || w.length > 256) throw invalid('group and consumer names must be 1 to 255 characters in all');
  return w;
}

function streamId(text: string): string {
  const m = /^(\d{1,20})(?:-(\d{1,20}))?$/.exec(text);
  if (!m) throw invalid('Invalid stream ID specified as stream command argument');
  return `${m[1]}-${m[2] ?? '0'}`;
}

async function xadd(call: CommandCall): Promise<Reply> {
  const [key, ...rest] = call.args;
  const topic = topicOf(key!);
  let i = 0;
  let noMkStream = false;
  for (; i < rest.length; i++) {
    const word = rest[i]!.toUpperCase();
    if (word === 'NOMKSTREAM') noMkStream = true;
    else if (word === 'MAXLEN' || word === 'MINID' || word === 'LIMIT') throw invalid('bucketq streams are not trimmed: jobs leave when they are acked (drop MAXLEN/MINID)');
    else break;
  }
  const idText = rest[i];
  const fields = rest.slice(i + 1);
  if (idText === undefined || fields.length === 0 || fields.length % 2 !== 0) throw invalid("wrong number of arguments for 'xadd' command");
  if (noMkStream && !(await call.ctx.broker.topics()).includes(topic)) return null;
  // Own properties even for a field named __proto__ (an assignment would set the prototype instead).
  const payload: Record<string, string> = Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, f) => [fields[2 * f]!, fields[2 * f + 1]!]));
  if (idText !== '*') {
    const id = streamId(idText);
    await call.ctx.broker.push(topic, [{ id, payload }]);
    return id;
  }
  // A generated id that another broker happened to use already would return that job: try the next.
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = call.ctx.nextStreamId();
    const [outcome] = await call.ctx.broker.push(topic, [{ id, payload }]);
    if (outcome?.created !== false) return id;
  }
  throw new QueueError('UNAVAILABLE', 'could not make a fresh stream id; retry');
}

interface ReadGroupArgs {
  group: string;
  consumer: string;
  count: number;
  blockMs: number | null;
  noAck: boolean;
  streams: Array<{ topic: string; key: string; after: string }>;
}

function parseReadGroup(args: string[]): ReadGroupArgs {
  if (args[0]?.toUpperCase() !== 'GROUP' || args.length < 6) throw syntaxError();
  const out: ReadGroupArgs = { group: args[1]!, consumer: args[2]!, count: 1, blockMs: null, noAck: false, streams: [] };
  let countGiven = false;
  let i = 3;
  for (; i < args.length; i++) {
    const word = args[i]!.toUpperCase();
    if (word === 'COUNT') {
      out.count = intArg(args[++i] ?? '', 'COUNT');
      countGiven = true;
    } else if (word === 'BLOCK') out.blockMs = intArg(args[++i] ?? '', 'timeout');
    else if (word === 'NOACK') out.noAck = true;
    else if (word === 'STREAMS') break;
    else throw syntaxError();
  }
  const rest = args.slice(i + 1);
  if (i >= args.length || rest.length === 0 || rest.length % 2 !== 0) {
    throw invalid("Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.");
  }
  const n = rest.length / 2;
  for (let k = 0; k < n; k++) out.streams.push({ key: rest[k]!, topic: topicOf(rest[k]!), after: rest[n + k]! });
  // Redis reads every new entry without COUNT; bucketq claims in batches of the broker's limit.
  if (!countGiven || out.count === 0) out.count = 100;
  return out;
}

/** Entries `[id, [field, value, ...]]` of claimed jobs. */
export function entries(jobs: Array<{ id: string; payload?: unknown }>): Reply {
  return jobs.map((j) => [j.id, payloadFields(j.payload)]);
}

async function claimNew(call: CommandCall, a: ReadGroupArgs, topic: string, waitMs: number, signal?: AbortSignal): Promise<ClaimedJob[]> {
  const { broker, clock, leases, streamLeaseMs } = call.ctx;
  const worker = workerOf(a.group, a.consumer);
  const jobs = await broker.claim(topic, { workerId: worker, max: Math.min(a.count, broker.limits.maxClaim), leaseMs: streamLeaseMs, waitMs }, signal);
  if (a.noAck) {
    await Promise.all(jobs.map((j) => broker.ack(topic, { id: j.id, workerId: worker, lease: j.lease })));
    return jobs;
  }
  const now = clock.now();
  for (const j of jobs) {
    leases.set(topic, { id: j.id, group: a.group, consumer: a.consumer, worker, token: j.lease, leaseUntil: j.leaseUntil, deliveredAt: now, deliveries: j.attempt });
  }
  return jobs;
}

/** The consumer's own live deliveries after `after` (XREADGROUP with an id instead of `>`). */
async function history(call: CommandCall, a: ReadGroupArgs, topic: string, after: string): Promise<Reply> {
  const start = streamId(after);
  const mine = call.ctx.leases.list(topic, a.group).filter((l) => l.consumer === a.consumer && compareAfter(l.id, start)).slice(0, a.count);
  const out: Reply[] = [];
  for (const l of mine) {
    const job = await call.ctx.broker.get(topic, l.id).catch(() => null);
    out.push([l.id, job ? payloadFields(job.payload) : null]);
  }
  return out;
}

function compareAfter(id: string, start: string): boolean {
  return start === '0-0' || idAbove(id, start);
}

function idAbove(id: string, start: string): boolean {
  const m = /^(\d+)-(\d+)$/.exec(id);
  const s = /^(\d+)-(\d+)$/.exec(start)!;
  if (!m) return true;
  return BigInt(m[1]!) > BigInt(s[1]!) || (m[1] === s[1] && BigInt(m[2]!) > BigInt(s[2]!));
}

function readReply(call: CommandCall, found: Array<[string, Reply]>): Reply {
  if (found.length === 0) return NULL_ARRAY;
  return call.conn.proto === 3 ? map(found) : found.map(([k, v]) => [k, v]);
}

async function xreadgroup(call: CommandCall): Promise<Reply> {
  const a = parseReadGroup(call.args);
  const found: Array<[string, Reply]> = [];
  for (const s of a.streams) {
    if (s.after === '>') {
      const jobs = await claimNew(call, a, s.topic, 0);
      if (jobs.length > 0) found.push([s.key, entries(jobs)]);
    } else found.push([s.key, await history(call, a, s.topic, s.after)]);
  }
  const fresh = a.streams.filter((s) => s.after === '>');
  if (found.length > 0 || a.blockMs === null || fresh.length === 0) return readReply(call, found);
  // Nothing yet: long-poll every `>` key at once until one has jobs (BLOCK 0: for ever, in rounds).
  const { clock, broker } = call.ctx;
  const deadline = clock.now() + a.blockMs;
  for (;;) {
    const left = a.blockMs === 0 ? broker.limits.maxWaitMs : Math.min(broker.limits.maxWaitMs, Math.max(0, deadline - clock.now()));
    const stop = new AbortController();
    const onGone = () => stop.abort(call.conn.signal.reason);
    call.conn.signal.addEventListener('abort', onGone, { once: true });
    try {
      await Promise.all(
        fresh.map(async (s) => {
          const jobs = await claimNew(call, a, s.topic, left, stop.signal).catch((err: unknown) => {
            if (stop.signal.aborted) return [];
            throw err;
          });
          if (jobs.length > 0) {
            found.push([s.key, entries(jobs)]);
            stop.abort(new QueueError('CLOSED', 'another key answered'));
          }
        }),
      );
    } finally {
      call.conn.signal.removeEventListener('abort', onGone);
    }
    if (found.length > 0 || call.conn.signal.aborted || call.ctx.draining() || left === 0 || (a.blockMs !== 0 && clock.now() >= deadline)) return readReply(call, found);
  }
}

async function xack(call: CommandCall): Promise<Reply> {
  const [key, group, ...ids] = call.args;
  const topic = topicOf(key!);
  const { broker, leases } = call.ctx;
  const acked = await Promise.all(
    ids.map(async (id) => {
      const l = leases.get(topic, group!, id);
      if (!l) return 0;
      try {
        await broker.ack(topic, { id, workerId: l.worker, lease: l.token });
        leases.delete(topic, id);
        return 1;
      } catch (err) {
        if (err instanceof QueueError && (err.code === 'LEASE_LOST' || err.code === 'NOT_FOUND')) {
          leases.delete(topic, id);
          return 0;
        }
        throw err;
      }
    }),
  );
  return acked.reduce<number>((a, b) => a + b, 0);
}

async function xlen(call: CommandCall): Promise<Reply> {
  const s = await call.ctx.broker.stats(topicOf(call.args[0]!));
  return s.pending + s.delayed + s.claimed;
}

async function xdel(call: CommandCall): Promise<Reply> {
  const [key, ...ids] = call.args;
  const topic = topicOf(key!);
  const done = await Promise.all(ids.map((id) => call.ctx.broker.cancel(topic, id).then(() => 1, () => 0)));
  return done.reduce<number>((a, b) => a + b, 0);
}

async function xinfo(call: CommandCall): Promise<Reply> {
  const [sub, key] = call.args;
  const what = sub!.toUpperCase();
  if (what === 'HELP') return ['XINFO STREAM <key>', 'XINFO GROUPS <key>'];
  if (key === undefined || (what !== 'STREAM' && what !== 'GROUPS')) throw invalid(`unknown subcommand or wrong number of arguments for '${sub}'. Try XINFO HELP.`);
  const topic = topicOf(key);
  if (what === 'GROUPS') {
    return call.ctx.leases.groups(topic).map((g) => {
      const live = call.ctx.leases.list(topic, g);
      return map([['name', g], ['consumers', new Set(live.map((l) => l.consumer)).size], ['pending', live.length], ['last-delivered-id', '0-0'], ['entries-read', null], ['lag', null]]);
    });
  }
  const s = await call.ctx.broker.stats(topic);
  return map([
    ['length', s.pending + s.delayed + s.claimed],
    ['radix-tree-keys', 0],
    ['radix-tree-nodes', 0],
    ['last-generated-id', '0-0'],
    ['groups', call.ctx.leases.groups(topic).length],
    ['first-entry', null],
    ['last-entry', null],
    // bucketq's own counts, after Redis' fields.
    ['pending', s.pending],
    ['delayed', s.delayed],
    ['claimed', s.claimed],
    ['dead', s.dead],
    ['completed', s.counters.completed],
    ['leases-expired', s.counters.leasesExpired],
    ['leader', s.broker?.url ?? null],
  ]);
}

function xgroup(call: CommandCall): Reply {
  const [sub, key, group] = call.args;
  const what = sub!.toUpperCase();
  if (what === 'HELP') return ['XGROUP CREATE <key> <group> <id|$> [MKSTREAM]', 'XGROUP DESTROY <key> <group>', 'XGROUP CREATECONSUMER <key> <group> <consumer>', 'XGROUP DELCONSUMER <key> <group> <consumer>', 'XGROUP SETID <key> <group> <id|$>'];
  if (key === undefined || group === undefined) throw invalid(`unknown subcommand or wrong number of arguments for '${sub}'. Try XGROUP HELP.`);
  const topic = topicOf(key);
  switch (what) {
    case 'CREATE':
      if (call.ctx.leases.groups(topic).length >= MAX_GROUPS_PER_KEY) throw invalid(`at most ${MAX_GROUPS_PER_KEY} groups per key`);
      if (!call.ctx.leases.declare(topic, group)) throw new QueueError('FAILED_PRECONDITION', 'BUSYGROUP Consumer Group name already exists', { details: { resp: 'BUSYGROUP Consumer Group name already exists' } });
      return OK;
    case 'DESTROY':
      return call.ctx.leases.undeclare(topic, group) ? 1 : 0;
    case 'CREATECONSUMER':
      return 1;
    case 'DELCONSUMER':
      return 0;
    case 'SETID':
      return OK;
    default:
      throw invalid(`unknown subcommand '${sub}'. Try XGROUP HELP.`);
  }
}

export const STREAM_COMMANDS: CommandTable = {
  xadd: { arity: -5, flags: ['write', 'denyoom', 'fast'], keys: [1, 1, 1], run: xadd },
  xreadgroup: { arity: -7, flags: ['write', 'blocking'], keys: [0, 0, 0], run: xreadgroup },
  xack: { arity: -4, flags: ['write', 'fast'], keys: [1, 1, 1], run: xack },
  xlen: { arity: 2, flags: ['readonly', 'fast'], keys: [1, 1, 1], run: xlen },
  xdel: { arity: -3, flags: ['write', 'fast'], keys: [1, 1, 1], run: xdel },
  xinfo: { arity: -2, flags: ['readonly'], keys: [2, 2, 1], run: xinfo },
  xgroup: { arity: -2, flags: ['write'], keys: [2, 2, 1], run: xgroup },
};
