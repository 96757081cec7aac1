/**
 * The RESP request reader: frames split at every byte, inline commands, each bound, and fuzzing
 * with random and truncated frames: never a crash other than a protocol error, never more memory
 * held than the bounds allow, and the server answering a bad frame with an error reply.
 */
import fc from 'fast-check';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokerServer, type BrokerServer } from '../../src/server/broker-server.js';
import { isProtocolError, RespReader } from '../../src/transports/resp/reader.js';
import { encode } from '../../src/transports/resp/writer.js';

function frame(args: string[]): Buffer {
  return encode(args);
}

function readAll(reader: RespReader): string[][] {
  const out: string[][] = [];
  for (let c = reader.next(); c; c = reader.next()) out.push(c.map((b) => b.toString('utf8')));
  return out;
}

describe('RespReader', () => {
  it('reads arrays of bulk strings, inline commands and skips empty lines and *0', () => {
    const r = new RespReader();
    r.feed(Buffer.from('*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n\r\nPING\r\nSET "a b" \'c d\'\r\n*0\r\n*1\r\n$0\r\n\r\n'));
    expect(readAll(r)).toEqual([['PING', 'hi'], ['PING'], ['SET', 'a b', 'c d'], ['']]);
  });

  it('resumes frames split at any byte, with UTF-8 and CRLF inside values', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (commands, cuts) => {
        const bytes = Buffer.concat(commands.map((c) => frame(c.map((s) => `${s}\r\n`))));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const r = new RespReader();
        const got: string[][] = [];
        let at = 0;
        for (const p of [...points, bytes.length]) {
          r.feed(bytes.subarray(at, p));
          at = p;
          got.push(...readAll(r));
        }
        expect(got).toEqual(commands.map((c) => c.map((s) => `${s}\r\n`)));
      }),
    );
  });

  it('joins the chunks of a large bulk once, not per chunk', () => {
    const r = new RespReader();
    const value = 'x'.repeat(1_000_000);
    const bytes = frame(['LPUSH', 'q', value]);
    for (let i = 0; i < bytes.length; i += 1000) {
      r.feed(bytes.subarray(i, i + 1000));
      if (i + 1000 < bytes.length) expect(r.next()).toBeNull();
    }
    expect(r.next()?.map((b) => b.toString())).toEqual(['LPUSH', 'q', value]);
  });

  it.each([
    ['*3\r\n$1\r\na\r\n:1\r\n', "expected '$'"],
    ['*x\r\n', 'invalid multibulk length'],
    ['*1\r\n$-5\r\n', 'invalid bulk length'],
    ['*1\r\n$3\r\nabcd\r\n', 'not followed by CRLF'],
    ['*200\r\n', 'invalid multibulk length'],
    ['*1\r\n$101\r\n', 'invalid bulk length'],
    [`PING ${'x'.repeat(300)}`, 'too big'],
    [`*1\r\n$${'9'.repeat(300)}`, 'too big'],
  ])('refuses %j', (input, message) => {
    const r = new RespReader({ maxArgs: 100, maxBulkBytes: 100, maxLineBytes: 256, maxCommandBytes: 150 });
    r.feed(Buffer.from(input));
    expect(() => readAll(r)).toThrow(message);
  });

  it('bounds a whole command', () => {
    const r = new RespReader({ maxBulkBytes: 100, maxCommandBytes: 150 });
    r.feed(frame(['a'.repeat(100), 'b'.repeat(100)]));
    expect(() => readAll(r)).toThrow('command too large');
  });

  it('fuzz: random and truncated frames never crash it and it never holds more than its bounds', () => {
    const limits = { maxArgs: 16, maxBulkBytes: 64, maxCommandBytes: 256, maxLineBytes: 64 };
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
      fc.constantFrom('*', '$', '\r\n', '\r', '\n', '*2\r\n', '$3\r\n', '$-1\r\n', '*-1\r\n', ':1\r\n', 'PING\r\n', '$999999999999\r\n').map((s) => Buffer.from(s)),
      fc.array(fc.string({ maxLength: 70 }), { minLength: 1, maxLength: 20 }).map((a) => frame(a)),
      fc.tuple(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), fc.nat()).map(([a, n]) => {
        const f = frame(a);
        return f.subarray(0, n % (f.length + 1)); // truncated
      }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const r = new RespReader(limits);
        try {
          for (const p of pieces) {
            r.feed(p);
            for (let c = r.next(); c; c = r.next()) {
              expect(c.length).toBeLessThanOrEqual(limits.maxArgs);
              for (const a of c) expect(a.length).toBeLessThanOrEqual(Math.max(limits.maxBulkBytes, limits.maxLineBytes * 3));
            }
            // What is held is bounded by the limits plus the chunk just fed.
            expect(r.bufferedBytes).toBeLessThanOrEqual(limits.maxCommandBytes + limits.maxLineBytes + p.length + 2);
          }
        } catch (err) {
          if (!isProtocolError(err)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the server answers bad frames with an error and keeps serving', () => {
  let server: BrokerServer;
  beforeAll(async () => {
    server = await startBrokerServer({ store: 'memory://', listen: '127.0.0.1:0', respListen: '127.0.0.1:0', resp: { reader: { maxBulkBytes: 1024 } } });
  });
  afterAll(async () => {
    await server.close();
  });

  /** Sends bytes, resolves with everything the server wrote until it closed the connection (or after `until` matched). */
  function exchange(bytes: Buffer, until?: RegExp): Promise<string> {
    const { port } = new URL(server.respUrl!);
    return new Promise((resolve, reject) => {
      const s = connect(Number(port), '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        if (until?.test(got)) s.end();
      });
      s.on('error', reject);
      s.on('close', () => resolve(got));
      s.write(bytes);
    });
  }

  it('fuzz: every random frame gets replies or an error, then the server still answers PING', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (junk) => {
        // A PING after the junk: either it is answered (junk was valid) or the junk drew an error and a close.
        const got = await exchange(Buffer.concat([Buffer.from(junk), Buffer.from('\r\n*1\r\n$4\r\nPING\r\n')]), /PONG\r\n|-ERR Protocol error[^\r]*\r\n$/);
        expect(got).toMatch(/(\+PONG|-ERR Protocol error)/);
      }),
      { numRuns: 60 },
    );
    expect(await exchange(Buffer.from('*1\r\n$4\r\nPING\r\n'), /PONG/)).toBe('+PONG\r\n');
  });

  it('an oversized bulk is an error and a disconnect', async () => {
    expect(await exchange(Buffer.from('*2\r\n$5\r\nLPUSH\r\n$999999\r\n'))).toBe('-ERR Protocol error: invalid bulk length\r\n');
  });
});
