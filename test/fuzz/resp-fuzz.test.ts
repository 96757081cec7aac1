/**
 * Redis protocol fuzzing of an in-process broker server (memory store, a token, small reader
 * limits), on raw sockets: thousands of cases made of RESP command frames (every command of the
 * table with random keys, ids and arguments, usually after AUTH), inline commands, then mutated
 * byte by byte, plus random bytes, huge declared lengths and deeply nested arrays. A control
 * client pushes jobs through the HTTP API in between.
 *
 * Asserted: the server never crashes and reports no bug (onError; an `-ERR internal error` reply
 * is the RESP 5xx), it still answers PING after AUTH at the end, the heap after GC grew by a
 * bounded amount, every control job is still there and pending, every topic's queue.json holds a
 * valid state (assertInvariants), and close() does not hang.
 *
 * FUZZ_SEED=N replays a run; FUZZ_RUNS=N changes its length.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKey } from '../../src/core/keys.js';
import { exchange, mutate, mutationArb } from './raw.js';
import { controlJobs, expectCloseWithin, expectValidStates, fuzzCases, startFuzzTarget, type FuzzTarget } from './target.js';

const TOKEN = 'resp-fuzz-token-x1';
const CONTROL = 'control-topic-r4';
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);

let target: FuzzTarget;
let respPort: number;

beforeAll(async () => {
  target = await startFuzzTarget({
    respListen: '127.0.0.1:0',
    token: TOKEN,
    limits: { maxWaitMs: 50, maxBatch: 50, maxPayloadBytes: 4096 },
    resp: { maxPipeline: 64, reader: { maxArgs: 256, maxBulkBytes: 64 * 1024, maxCommandBytes: 256 * 1024, maxLineBytes: 4096 } },
  });
  respPort = Number(new URL(target.server.respUrl!).port);
});

afterAll(async () => {
  await target?.server.close(); // idempotent: the test closes it itself, this is for a test that failed early
});

const frame = (args: Array<string | Buffer>): Buffer =>
  Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${Buffer.byteLength(a)}\r\n`), Buffer.from(a), Buffer.from('\r\n')])]);

const key = fc.oneof(fc.constantFrom('a', 'b', 's', 'jobs', 'bad key', '..', '', 'k'.repeat(300)), fc.string({ maxLength: 8 }));
const word = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '-1', '1', '100', '99999999999', '*', '>', '$', '0-0', '1-1', 'COUNT', 'BLOCK', 'NOACK', 'STREAMS', 'GROUP', 'MKSTREAM', 'IDLE', 'JUSTID', 'FORCE', '3', '2'));
const small = fc.constantFrom('0', '1', '2', '10', '-5', '0.01', 'x', '50');

/** One command, mostly well-formed per the command table, some with random arity. */
const commandArb: fc.Arbitrary<string[]> = fc.oneof(
  fc.tuple(key, fc.array(fc.oneof(fc.json({ maxDepth: 2 }), word), { minLength: 1, maxLength: 3 })).map(([k, vs]) => ['LPUSH', k, ...vs]),
  fc.tuple(key, fc.array(word, { minLength: 1, maxLength: 3 })).map(([k, vs]) => ['RPUSH', k, ...vs]),
  fc.tuple(fc.constantFrom('RPOP', 'LPOP', 'LLEN', 'XLEN'), key, fc.option(small, { nil: undefined })).map(([c, k, n]) => (n === undefined ? [c, k] : [c, k, n])),
  fc.tuple(fc.constantFrom('BRPOP', 'BLPOP'), key, fc.constantFrom('0.01', '0.05', '0', 'x', '-1')).map(([c, k, t]) => [c, k, t]),
  fc.tuple(key, fc.constantFrom('*', '0-1', '1-*', 'bad'), fc.array(word, { minLength: 2, maxLength: 4 })).map(([k, id, fv]) => ['XADD', k, id, ...fv]),
  fc.tuple(key, fc.constantFrom('g', 'h'), fc.constantFrom('$', '0', 'x')).map(([k, g, id]) => ['XGROUP', 'CREATE', k, g, id, 'MKSTREAM']),
  fc.tuple(fc.constantFrom('g', 'h'), fc.constantFrom('c1', 'c2'), small, key, fc.constantFrom('>', '0', 'x')).map(([g, c, n, k, id]) => ['XREADGROUP', 'GROUP', g, c, 'COUNT', n, 'BLOCK', '20', 'STREAMS', k, id]),
  fc.tuple(key, fc.constantFrom('g', 'h'), fc.array(word, { minLength: 1, maxLength: 3 })).map(([k, g, ids]) => ['XACK', k, g, ...ids]),
  fc.tuple(key, fc.constantFrom('g', 'h'), fc.array(word, { maxLength: 4 })).map(([k, g, rest]) => ['XPENDING', k, g, ...rest]),
  fc.tuple(key, fc.constantFrom('g'), fc.constantFrom('c1'), small, fc.array(word, { minLength: 1, maxLength: 3 })).map(([k, g, c, idle, ids]) => ['XCLAIM', k, g, c, idle, ...ids]),
  fc.tuple(key, small, fc.array(word, { maxLength: 2 })).map(([k, s, rest]) => ['XAUTOCLAIM', k, 'g', 'c1', s, '0-0', ...rest]),
  fc.tuple(fc.constantFrom('STREAM', 'GROUPS', 'CONSUMERS', 'HELP', 'x'), key).map(([s, k]) => ['XINFO', s, k, 'g']),
  fc.tuple(key, fc.array(word, { minLength: 1, maxLength: 2 })).map(([k, ids]) => ['XDEL', k, ...ids]),
  fc.tuple(fc.constantFrom('bq.nack', 'bq.retry'), key, fc.array(word, { minLength: 1, maxLength: 3 })).map(([c, k, rest]) => [c, k, ...rest]),
  fc.constantFrom<string[]>(['PING'], ['PING', 'hi'], ['ECHO', 'x'], ['INFO'], ['INFO', 'server'], ['COMMAND'], ['COMMAND', 'COUNT'], ['COMMAND', 'DOCS', 'xadd'], ['CLIENT', 'SETNAME', 'n'], ['CLIENT', 'GETNAME'], ['CLIENT', 'ID'], ['CLIENT', 'LIST'], ['CLIENT', 'INFO'], ['SELECT', '0'], ['SELECT', '9'], ['HELLO', '3'], ['HELLO', '2'], ['HELLO', '4'], ['QUIT'], ['KEYS', '*'], ['FLUSHALL']),
  fc.constantFrom<string[]>(['AUTH', TOKEN], ['AUTH', 'default', TOKEN], ['AUTH', 'wrong'], ['HELLO', '3', 'AUTH', 'default', TOKEN], ['HELLO', '3', 'AUTH', 'default', 'nope']),
  fc.array(word, { minLength: 1, maxLength: 6 }),
);

const authFrame = frame(['AUTH', TOKEN]);

/** A case: commands as frames (after AUTH, mostly) or inline, mutated; random bytes; hostile headers. */
const caseArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.array(commandArb, { minLength: 1, maxLength: 6 }).map((cmds) => Buffer.concat([authFrame, ...cmds.map(frame)])) },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.boolean(), fc.array(commandArb, { minLength: 1, maxLength: 5 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
      .map(([auth, cmds, ms]) => Buffer.concat([...(auth ? [authFrame] : []), mutate(Buffer.concat(cmds.map(frame)), ms)])),
  },
  { weight: 1, arbitrary: fc.array(commandArb, { minLength: 1, maxLength: 4 }).map((cmds) => Buffer.from([`AUTH ${TOKEN}`, ...cmds.map((c) => c.join(' '))].join('\r\n') + '\r\n')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom('*99999999999\r\n', '*2147483648\r\n$1\r\na\r\n', '*1\r\n$99999999999\r\n', '*1\r\n$-2\r\n', '*-5\r\n', '*1\r\n$3\r\nab', '$5\r\nhello\r\n', '+OK\r\n', ':1\r\n', '*1\r\n:5\r\n', '*2\r\n$4\r\nLLEN\r\n*1\r\n$1\r\na\r\n', '*300\r\n', `*1\r\n$${70 * 1024}\r\n`, '\r\n\r\n\r\n', `${'x'.repeat(5000)}\r\n`, '*1\r\n$4\r\nPING'),
      fc.integer({ min: 1, max: 5000 }).map((depth) => Buffer.from('*1\r\n'.repeat(depth) + '$4\r\nPING\r\n').toString('latin1')),
      fc.integer({ min: 1, max: 300 }).map((n) => `*${n}\r\n` + '$1\r\nx\r\n'.repeat(n)),
    ).map((s) => Buffer.concat([authFrame, Buffer.from(s, 'latin1')])),
  },
);

describe('RESP fuzzing', () => {
  it(`${RUNS} random and mutated command streams: no crash, no internal error, bounded heap, nothing lost`, async () => {
    const { server, bugs, store } = target;
    const control = controlJobs(server, CONTROL, TOKEN);
    const kinds = new Map<string, number>();
    try {
      const run = await fuzzCases(caseArb, RUNS, control, async (bytes) => {
        const out = (await exchange(respPort, bytes)).toString('latin1');
        for (const m of out.matchAll(/^([-+:$*_#,%|>=(!~])/gm)) kinds.set(m[1]!, (kinds.get(m[1]!) ?? 0) + 1);
        if (/-ERR internal error/.test(out)) throw new Error(`internal error for ${JSON.stringify(bytes.toString('latin1').slice(0, 400))}: ${out.slice(0, 400)}`);
      });
      console.log(`resp fuzz: ${run.cases} cases; reply types ${JSON.stringify(Object.fromEntries(kinds))}; heap ${run.heap}`);
      expect(bugs).toEqual([]);
      expect(run.heapGrowth).toBeLessThan(64 * 2 ** 20);
      expect((await exchange(respPort, Buffer.concat([authFrame, frame(['PING'])]))).toString()).toBe('+OK\r\n+PONG\r\n');
      await control.checkUntouched();
    } finally {
      await control.close();
    }
    await expectCloseWithin(server);
    expect(await expectValidStates(store)).toContain(queueKey(CONTROL));
  }, 120_000);
});
