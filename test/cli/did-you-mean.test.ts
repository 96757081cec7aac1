import { describe, expect, it } from 'vitest';
import { closest, didYouMean } from '../../src/cli/did-you-mean.js';

const COMMANDS = ['broker', 'push', 'claim', 'ack', 'nack', 'heartbeat', 'get', 'cancel', 'retry', 'pause', 'resume', 'stats', 'topics', 'inspect', 'reset', 'work', 'watch', 'doctor'];

describe('did you mean', () => {
  it('finds a typo: a letter off, two swapped, one missing or extra, or a prefix of only one name', () => {
    expect(closest('pussh', COMMANDS)).toBe('push');
    expect(closest('brokr', COMMANDS)).toBe('broker');
    expect(closest('hearbteat', COMMANDS)).toBe('heartbeat');
    expect(closest('stat', COMMANDS)).toBe('stats');
    expect(closest('insp', COMMANDS)).toBe('inspect');
    expect(closest('Claim', COMMANDS)).toBe('claim');
  });

  it('suggests nothing for a word that is not close to any name, or a prefix of several', () => {
    expect(closest('frobnicate', COMMANDS)).toBeNull();
    expect(closest('re', COMMANDS)).toBeNull(); // retry, resume, reset
    expect(didYouMean('xyz', COMMANDS)).toBe('');
    expect(didYouMean('tokne', ['token', 'url'], (n) => `--${n}`)).toBe(' (did you mean --token?)');
  });
});
