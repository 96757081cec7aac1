/**
 * Where the CLI takes a token from (src/cli/token-source.ts): flags, files, the environment, and
 * one readable line for each way that goes wrong. Real files in a temp dir.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tokenFrom, tokenGiven } from '../../src/cli/token-source.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bucketq-token-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('tokenFrom', () => {
  it('takes the flag, then the flag\'s file, then BUCKETQ_TOKEN, then BUCKETQ_TOKEN_FILE; one trailing newline is dropped', async () => {
    const f = await file('t', 's3cret\n');
    const g = await file('g', 'fr0m-env-file\r\n');
    const env = { BUCKETQ_TOKEN_FILE: g };
    expect(tokenFrom({ flag: 'token', value: 'flag', file: undefined, env })).toBe('flag');
    expect(tokenFrom({ flag: 'token', value: undefined, file: f, env })).toBe('s3cret');
    expect(tokenFrom({ flag: 'token', value: undefined, file: undefined, env: { BUCKETQ_TOKEN: 'e' } })).toBe('e');
    expect(tokenFrom({ flag: 'token', value: undefined, file: undefined, env })).toBe('fr0m-env-file');
    expect(tokenFrom({ flag: 'token', value: undefined, file: undefined, env: { BUCKETQ_TOKEN: '' } })).toBeUndefined();
    expect(tokenFrom({ flag: 'read-token', value: undefined, file: undefined, env: { BUCKETQ_READ_TOKEN_FILE: f, BUCKETQ_TOKEN: 'x' } })).toBe('s3cret');
    expect(tokenFrom({ flag: 'token', value: '', file: undefined, env: { BUCKETQ_TOKEN: 'e' } })).toBe(''); // as given: the broker refuses it
  });

  it('refuses two sources at once, and files that cannot hold a token, in one line naming the file', async () => {
    const ok = await file('ok', 'x');
    const empty = await file('empty', '\n');
    const two = await file('two', 'a\nb\n');
    const big = await file('big', 'x'.repeat(5000));
    const locked = await file('locked', 'x');
    await chmod(locked, 0o000);
    const missing = join(dir, 'missing');
    const env = {};
    expect(() => tokenFrom({ flag: 'token', value: 'a', file: ok, env })).toThrow('give --token or --token-file, not both');
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: undefined, env: { BUCKETQ_TOKEN: 'a', BUCKETQ_TOKEN_FILE: ok } })).toThrow('BUCKETQ_TOKEN and BUCKETQ_TOKEN_FILE are both set: unset one');
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: empty, env })).toThrow(`--token-file: ${empty} is empty`);
    expect(() => tokenFrom({ flag: 'read-token', value: undefined, file: two, env })).toThrow(`--read-token-file: ${two} holds more than one line; it must hold the token alone`);
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: big, env })).toThrow(`--token-file: ${big} is larger than 4096 bytes, which no token is`);
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: missing, env })).toThrow(`--token-file: cannot read ${missing} (ENOENT)`);
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: undefined, env: { BUCKETQ_TOKEN_FILE: missing } })).toThrow(`BUCKETQ_TOKEN_FILE: cannot read ${missing} (ENOENT)`);
    if (process.getuid?.() !== 0) expect(() => tokenFrom({ flag: 'token', value: undefined, file: locked, env })).toThrow(`--token-file: cannot read ${locked} (EACCES)`);
    // A device has no size to check first: read no further than one byte past the bound.
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: '/dev/zero', env })).toThrow('--token-file: /dev/zero is larger than 4096 bytes, which no token is');
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: '', env: { BUCKETQ_TOKEN: 'e' } })).toThrow('--token-file must not be empty');
  });

  it('refuses spaces or a byte-order mark around the token, without printing the token', async () => {
    for (const text of [' s3cret-token\n', 's3cret-token \n', 's3cret-token\t', '\ufeffs3cret-token\n']) {
      const f = await file('padded', text);
      let message = '';
      try {
        tokenFrom({ flag: 'token', value: undefined, file: f, env: {} });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe(`--token-file: ${f} has spaces or a byte-order mark around the token; it must hold the token alone`);
    }
    const two = await file('two', 's3cret-a\ns3cret-b\n');
    expect(() => tokenFrom({ flag: 'token', value: undefined, file: two, env: {} })).toThrow(`--token-file: ${two} holds more than one line; it must hold the token alone`); // names neither line
    // The file flag beats the environment's token.
    expect(tokenFrom({ flag: 'token', value: undefined, file: await file('ok2', 'from-file\n'), env: { BUCKETQ_TOKEN: 'from-env' } })).toBe('from-file');
  });
});

describe('tokenGiven', () => {
  it('sees --token, --token-file and both environment variables', () => {
    expect(tokenGiven(['push', 't', '--token', 'x'], {})).toBe(true);
    expect(tokenGiven(['push', 't', '--token-file=/run/secrets/t'], {})).toBe(true);
    expect(tokenGiven(['push', 't'], { BUCKETQ_TOKEN_FILE: '/x' })).toBe(true);
    expect(tokenGiven(['push', 't'], { BUCKETQ_TOKEN: '' })).toBe(false);
  });
});
