/**
 * Every `npm run bench…` command line answers --help with its usage (exit 0) and refuses a
 * mistake in one line on stderr with exit code 2 before it starts anything (bench/bench-args.ts):
 * an unknown option (with the flag it was likely meant to be), a bad number, a value it does not
 * know. Each command's script runs under tsx (node --import tsx), as its npm script runs it, all at once.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      done({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

/** npm script name, its file, and a bad value of one of its options with the line that refuses it. */
const BENCHMARKS: Array<[string, string, string[], string]> = [
  ['bench', 'bench/run.ts', ['--only', 'networks'], 'bench: --only takes nolatency, latency, worker, backlog, network, network-throughput, network-latency; got "networks"'],
  ['bench:embedded', 'bench/embedded.ts', ['--seconds', '0'], 'bench:embedded: --seconds must be a number above 0, got "0"'],
  ['bench:network', 'bench/network.ts', ['--jobs', '10k'], 'bench:network: --jobs must be a whole number of at least 1, got "10k"'],
  ['bench:scale', 'bench/scale/run.ts', ['--parts', 'latency,speed'], 'bench:scale: --parts takes latency,backlog,build,topics,payload; got "speed"'],
  ['bench:peers', 'bench/peers/run.ts', ['--workloads', '5'], 'bench:peers: --workloads takes 1,1i,2,3,4; got "5"'],
];

describe('the benchmarks’ command lines', () => {
  it('print their usage for --help and -h, and refuse mistakes in one line with exit code 2', async () => {
    const runs = await Promise.all(
      BENCHMARKS.map(async ([name, script, bad, refusal]) => ({
        name,
        refusal,
        help: await run(script, ['--help']),
        short: await run(script, ['-h']),
        typo: await run(script, ['--jobz', '5']),
        bad: await run(script, bad),
      })),
    );
    for (const r of runs) {
      expect(r.help.code, `${r.name} --help: ${r.help.stderr}`).toBe(0);
      expect(r.help.stdout.split('\n')[0], r.name).toBe(`npm run ${r.name} -- [options]`);
      expect(r.help.stderr, r.name).toBe('');
      expect(r.short.stdout, `${r.name} -h`).toBe(r.help.stdout);

      // Every command but bench:embedded has --jobs; that one has no near flag to offer.
      const hint = r.name === 'bench:embedded' ? '' : ' (did you mean --jobs?)';
      expect([r.typo.code, r.typo.stdout, r.typo.stderr], r.name).toEqual([2, '', `${r.name}: Unknown option '--jobz'${hint} (see --help)\n`]);
      expect([r.bad.code, r.bad.stdout, r.bad.stderr], r.name).toEqual([2, '', `${r.refusal}\n`]);
    }
  }, 120_000);
});
