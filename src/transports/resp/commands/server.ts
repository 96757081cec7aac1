/**
 * Connection and server commands: AUTH, HELLO, PING, ECHO, SELECT, CLIENT, INFO, COMMAND, QUIT.
 * They answer what redis-cli and ioredis ask on connect (INFO for the ready check, CLIENT SETINFO
 * and SETNAME, COMMAND DOCS for hints) with the shapes they parse.
 */
import { QueueError } from '../../../errors.js';
import { intArg, invalid, syntaxError, type CommandCall, type CommandTable, type RespServerContext } from '../command.js';
import { map, OK, simple, type Reply } from '../writer.js';

/** The Redis version whose commands this server answers like (clients gate features on it). */
export const REDIS_COMPAT_VERSION = '7.2.0';
const BUCKETQ_VERSION = '0.1.0';

function wrongPass(): QueueError {
  return new QueueError('UNAUTHENTICATED', 'wrong token', { details: { resp: 'WRONGPASS invalid username-password pair or user is disabled.' } });
}

/** Checks a token (any user name is accepted: bucketq has tokens, no users); the read-only token makes the connection read-only. */
function authenticate(call: CommandCall, token: string): void {
  const roleOf = call.ctx.roleOf;
  if (!roleOf) {
    throw new QueueError('INVALID_ARGUMENT', 'no token', {
      details: { resp: 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?' },
    });
  }
  const role = roleOf(token);
  if (!role) throw wrongPass();
  call.conn.authenticated = true;
  call.conn.readOnly = role === 'read';
}

function auth(call: CommandCall): Reply {
  if (call.args.length > 2) throw syntaxError();
  authenticate(call, call.args.at(-1)!);
  return OK;
}

function hello(call: CommandCall): Reply {
  const [version, ...rest] = call.args;
  let proto = call.conn.proto;
  if (version !== undefined) {
    if (version !== '2' && version !== '3') {
      throw new QueueError('INVALID_ARGUMENT', 'bad protocol', { details: { resp: 'NOPROTO unsupported protocol version' } });
    }
    proto = version === '3' ? 3 : 2;
  }
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!.toUpperCase();
    if (word === 'AUTH' && rest[i + 2] !== undefined) {
      authenticate(call, rest[i + 2]!);
      i += 2;
    } else if (word === 'SETNAME' && rest[i + 1] !== undefined) {
      call.conn.name = rest[++i]!;
    } else throw invalid(`Syntax error in HELLO option '${rest[i]}'`);
  }
  if (call.ctx.roleOf && !call.conn.authenticated) {
    throw new QueueError('UNAUTHENTICATED', 'auth first', {
      details: { resp: 'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time' },
    });
  }
  call.conn.proto = proto;
  return map([
    ['server', 'bucketq'],
    ['version', REDIS_COMPAT_VERSION],
    ['bucketq', BUCKETQ_VERSION],
    ['proto', proto],
    ['id', call.conn.id],
    ['mode', 'standalone'],
    ['role', 'master'],
    ['modules', []],
  ]);
}

function client(call: CommandCall): Reply {
  const [sub, ...rest] = call.args;
  switch (sub!.toUpperCase()) {
    case 'SETNAME':
      if (rest.length !== 1) throw invalid("wrong number of arguments for 'client|setname' command");
      if (/\s/.test(rest[0]!)) throw invalid('Client names cannot contain spaces, newlines or special characters.');
      call.conn.name = rest[0] === '' ? null : rest[0]!;
      return OK;
    case 'GETNAME':
      return call.conn.name;
    case 'ID':
      return call.conn.id;
    case 'LIST': // flags: N normal, b blocked in BRPOP / XREADGROUP BLOCK, as Redis shows them
      return call.ctx
        .connections()
        .map((c) => `id=${c.id} addr=${c.addr} name=${c.name ?? ''} flags=${c.blocked > 0 ? 'b' : 'N'} resp=${c.proto} cmd=${c.cmd}\n`)
        .join('');
    case 'SETINFO': // lib-name / lib-ver, sent by modern clients: noted by Redis, not needed here
      if (rest.length !== 2) throw invalid("wrong number of arguments for 'client|setinfo' command");
      return OK;
    default:
      throw invalid(`unknown subcommand '${sub}'. Try CLIENT HELP.`);
  }
}

async function info(call: CommandCall): Promise<Reply> {
  const sections = new Set(call.args.map((a) => a.toLowerCase()));
  const want = (s: string) => sections.size === 0 || sections.has(s) || sections.has('all') || sections.has('everything') || sections.has('default');
  const { ctx } = call;
  const lines: string[] = [];
  if (want('server')) {
    lines.push('# Server', `redis_version:${REDIS_COMPAT_VERSION}`, `bucketq_version:${BUCKETQ_VERSION}`, 'redis_mode:standalone', `process_id:${process.pid}`,
      `run_id:${ctx.broker.id}`, `tcp_port:${ctx.port()}`, `uptime_in_seconds:${Math.floor((ctx.clock.now() - ctx.startedAt) / 1000)}`, '');
  }
  if (want('clients')) lines.push('# Clients', `connected_clients:${ctx.connections().length}`, `blocked_clients:${ctx.connections().filter((c) => c.blocked > 0).length}`, '');
  // ioredis' ready check waits while `loading` is not 0.
  if (want('persistence')) lines.push('# Persistence', 'loading:0', '');
  if (want('topics') || want('keyspace')) {
    // Bounded: INFO is for people; `bucketq stats` lists everything.
    const topics = (await topicList(ctx)).slice(0, 100);
    lines.push('# Topics');
    const stats = await Promise.all(topics.map((t) => ctx.broker.stats(t).then((s) => [t, s] as const, () => null)));
    for (const entry of stats) {
      if (!entry) continue;
      const [t, s] = entry;
      lines.push(`${t}:pending=${s.pending},delayed=${s.delayed},claimed=${s.claimed},dead=${s.dead},completed=${s.counters.completed},leader=${s.broker?.url || '-'}`);
    }
    lines.push('');
  }
  return lines.join('\r\n');
}

/**
 * The store's topics, listed at most every few seconds: ioredis sends INFO on every connect (its
 * ready check), and a connection storm must not become a storm of LIST requests to the bucket.
 */
const TOPIC_LIST_TTL_MS = 5000;
const topicCache = new WeakMap<RespServerContext, { at: number; topics: Promise<string[]> }>();

function topicList(ctx: RespServerContext): Promise<string[]> {
  const cached = topicCache.get(ctx);
  if (cached && ctx.clock.now() - cached.at < TOPIC_LIST_TTL_MS) return cached.topics;
  const topics = ctx.broker.topics();
  topicCache.set(ctx, { at: ctx.clock.now(), topics });
  topics.catch(() => topicCache.delete(ctx));
  return topics;
}

function commandInfo(name: string, c: CommandTable[string]): Reply {
  const [first, last, step] = c.keys ?? [0, 0, 0];
  return [name, c.arity, c.flags.map(simple), first, last, step, [], [], [], []];
}

function command(all: () => CommandTable) {
  return (call: CommandCall): Reply => {
    const table = all();
    const [sub, ...names] = call.args;
    if (sub === undefined) return Object.entries(table).map(([n, c]) => commandInfo(n, c));
    switch (sub.toUpperCase()) {
      case 'COUNT':
        return Object.keys(table).length;
      case 'INFO':
        return (names.length ? names.map((n) => n.toLowerCase()) : Object.keys(table)).map((n) => (table[n] ? commandInfo(n, table[n]) : null));
      case 'DOCS': // redis-cli asks for hints; no docs is a valid answer that it handles
        return map([]);
      case 'LIST':
        return Object.keys(table);
      default:
        throw invalid(`unknown subcommand '${sub}'. Try COMMAND HELP.`);
    }
  };
}

export function serverCommands(all: () => CommandTable): CommandTable {
  return {
    auth: { arity: -2, noAuth: true, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], run: auth },
    hello: { arity: -1, noAuth: true, flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth'], run: hello },
    quit: {
      arity: -1,
      noAuth: true,
      flags: ['allow_busy', 'noscript', 'loading', 'stale', 'fast', 'no_auth'],
      run: (call) => {
        call.conn.quit = true;
        return OK;
      },
    },
    ping: { arity: -1, flags: ['fast', 'stale'], run: (call) => (call.args.length === 0 ? simple('PONG') : call.args.length === 1 ? call.args[0]! : Promise.reject(invalid("wrong number of arguments for 'ping' command"))) },
    echo: { arity: 2, flags: ['fast'], run: (call) => call.raw[0]! },
    select: {
      arity: 2,
      flags: ['loading', 'stale', 'fast'],
      run: (call) => {
        if (intArg(call.args[0]!, 'DB index') !== 0) throw invalid('DB index is out of range (bucketq has one database, 0: keys are topics)');
        return OK;
      },
    },
    client: { arity: -2, flags: ['loading', 'stale'], run: client },
    info: { arity: -1, flags: ['loading', 'stale'], run: info },
    command: { arity: -1, flags: ['loading', 'stale'], run: command(all) },
  };
}
