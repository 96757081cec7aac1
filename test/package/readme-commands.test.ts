/**
 * The command lines of the README and the docs are copied into shells as they are: a checkout and
 * a project that installed bucketq have no `bucketq` on PATH (npm links it into node_modules/.bin),
 * so every command line runs it as `npx bucketq`, which finds it in both (test/package/pack.test.ts
 * runs `npx bucketq --help` in each).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..');
const README = path.join(ROOT, 'README.md');
/** Where commands are written for people to run: the README, CONTRIBUTING.md and docs/. */
const DOCS = ['README.md', 'CONTRIBUTING.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join('docs', f))].filter((f) =>
  existsSync(path.join(ROOT, f)),
);

/** The lines of a Markdown file's fenced code blocks, with their line numbers. */
function codeLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let inBlock = false;
  text.split('\n').forEach((l, i) => {
    if (l.startsWith('```')) inBlock = !inBlock;
    else if (inBlock) out.push({ line: i + 1, text: l });
  });
  return out;
}

/** `bucketq` where a shell looks for a command: at the start (after VAR=value words) or after | ; &. */
const BARE_COMMAND = /(^|[|;&]\s*)(?:[A-Z_]+=\S+\s+)*bucketq\s/;

describe('README command lines', () => {
  it.each(DOCS)('%s runs the CLI as `npx bucketq`, never a bare `bucketq` that no checkout or local install has on PATH', (file) => {
    const bare = codeLines(readFileSync(path.join(ROOT, file), 'utf8')).filter((l) => BARE_COMMAND.test(l.text.replace(/#.*$/, '')));
    expect(bare.map((l) => `${file}:${l.line}: ${l.text}`)).toEqual([]);
  });

  it('the first CLI block pushes with `npx bucketq push`', () => {
    const first = codeLines(readFileSync(README, 'utf8')).find((l) => /\bbucketq push\b/.test(l.text));
    expect(first?.text).toMatch(/^npx bucketq push /);
  });
});
