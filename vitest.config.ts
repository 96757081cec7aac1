import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Process tests spawn brokers and fsync real files: give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest's default is one file at a time below three cores (cores - 1). Most of our slow files
    // wait on child processes, servers and Chromium rather than compute, so two files at a time
    // on two cores: the whole suite on Node 24 took 644 s one at a time, 408-426 s two at a time
    // (clean-clone `CI=true bash .ci/run`, 2026-12-07), with no test slowed into a timeout.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // One radosgw (a real S3 server) per run, booted in the background; see the file.
    globalSetup: ['test/servers/global-setup.ts'],
    // The JSON report is what .ci/run counts from; the default reporter is for people.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
  },
});
