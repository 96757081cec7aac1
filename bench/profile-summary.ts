/**
 * Where a V8 CPU profile's time went: self time per function (and per file), from the
 * .cpuprofile files that `--cpu-prof` writes (bench:network, bench:peers).
 *
 *   npx tsx bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { benchArgs } from './bench-args.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const HELP = `npx tsx bench/profile-summary.ts FILE.cpuprofile… [options]

Where each V8 CPU profile's time went (the files --cpu-prof writes): busy time, then self time per
file and per function.

  --top N         lines per list (default 25)
  -h, --help      this text
`;
const { values, positionals, usage, integer } = benchArgs('profile-summary', HELP, { top: { type: 'string', default: '25' } }, { positionals: true });
const top = integer(values.top, 'top');
if (positionals.length === 0) usage('name at least one .cpuprofile file');
for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    const where = f.url.replace(/^file:\/\/.*?\/(src|node_modules)\//, '$1/') || '(native)';
    const name = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + dt);
    const fileKey = f.functionName === '(idle)' ? '(idle)' : where.replace(/:\d+$/, '');
    files.set(fileKey, (files.get(fileKey) ?? 0) + dt);
    total += dt;
  });
  const busy = total - (files.get('(idle)') ?? 0);
  const show = (m: Map<string, number>) =>
    [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `  ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n');
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy)\n\nby file:\n${show(files)}\n\nby function (self time):\n${show(fn)}\n\n`);
}
