import { describe, expect, it } from 'vitest';
import { checkBacklogLimits, parseBacklogSpec } from '../../../src/core/segments/limits-spec.js';
import { DEFAULT_LIMITS } from '../../../src/core/segments/manifest.js';

describe('backlog bounds as operators write them', () => {
  it('reads name=value pairs, with K and M for sizes', () => {
    expect(parseBacklogSpec('windowJobs=4096, windowBytes=1M,segmentMaxBytes=512K')).toEqual({ windowJobs: 4096, windowBytes: 1024 * 1024, segmentMaxBytes: 512 * 1024 });
    expect(parseBacklogSpec('')).toEqual({});
  });

  it('refuses unknown names, repeats and values that are not whole numbers', () => {
    expect(() => parseBacklogSpec('window=1')).toThrow(/backlog bound "window" is unknown \(known: windowJobs, windowBytes, /);
    expect(() => parseBacklogSpec('lowWater=1,lowWater=2')).toThrow(/lowWater is given twice/);
    for (const bad of ['windowJobs=', 'windowJobs', 'windowJobs=1.5', 'windowJobs=-1', 'windowJobs=1G']) {
      expect(() => parseBacklogSpec(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/windowJobs must be a whole number/) }));
    }
  });

  it('fills in the defaults and refuses bounds that cannot work together', () => {
    expect(checkBacklogLimits({})).toEqual(DEFAULT_LIMITS);
    expect(checkBacklogLimits({ windowJobs: 64, lowWater: 32 })).toMatchObject({ windowJobs: 64, lowWater: 32, segmentMaxJobs: DEFAULT_LIMITS.segmentMaxJobs });
    expect(() => checkBacklogLimits({ windowJobs: 64 })).toThrow(/lowWater \(512\) must be below windowJobs \(64\)/);
    expect(() => checkBacklogLimits({ tailSealJobs: 5000 })).toThrow(/tailSealJobs \(5000\) must be at most tailTotalJobs \(2048\)/);
    expect(() => checkBacklogLimits({ segmentMaxJobs: 0 })).toThrow(/segmentMaxJobs must be a whole number of at least 1/);
    expect(() => checkBacklogLimits({ windowBytes: Infinity })).toThrow(/windowBytes must be a whole number/);
    expect(checkBacklogLimits({ delayedHeadMax: 0, delayedLookaheadMs: 0 })).toMatchObject({ delayedHeadMax: 0, delayedLookaheadMs: 0 });
  });
});
