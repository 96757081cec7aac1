/**
 * Every relative link and image in the project's Markdown (README.md, CONTRIBUTING.md, docs/*.md,
 * the examples' READMEs) points at a file or folder of the repository, and every `#anchor` at a
 * heading of its target, as GitHub (and npmjs.com, which resolves relative links against the
 * repository) would render them. Sections move between these files; a link left behind fails here.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(import.meta.dirname, '..', '..');

function markdownFiles(): string[] {
  const inDir = (dir: string) => (existsSync(path.join(ROOT, dir)) ? readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.md')).map((f) => path.join(dir, f)) : []);
  const examples = readdirSync(path.join(ROOT, 'examples')).map((d) => path.join('examples', d, 'README.md'));
  return ['README.md', 'CONTRIBUTING.md', ...inDir('docs'), ...examples].filter((f) => existsSync(path.join(ROOT, f)));
}

/** The text outside fenced code blocks, line for line (a line of a fenced block becomes empty). */
function outsideFences(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

/** GitHub's heading anchor (github-slugger): lower case, drop everything but letters, marks, digits, `_`, `-` and spaces, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a Markdown text offers: its headings' slugs (repeats get -1, -2, …) and explicit `<a id>` / `<a name>`. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of outsideFences(text)) {
    const h = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(a[1]!);
  }
  return anchors;
}

interface Link {
  line: number;
  target: string;
}

/** Inline links and images `[text](target "title")`, and reference definitions `[label]: target`. */
function linksOf(text: string): Link[] {
  const out: Link[] = [];
  outsideFences(text).forEach((raw, i) => {
    const line = raw.replace(/(`+)[^`].*?\1/g, '``'); // a link inside a code span is an example, not a link
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line: i + 1, target: m[1]! });
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (def) out.push({ line: i + 1, target: def[1]! });
  });
  return out;
}

/**
 * What is wrong with the relative links of `file` (a path from `root`): a target that does not
 * exist, or an anchor that no heading of the target (a Markdown file) has. Absolute URLs are not
 * checked.
 */
function brokenLinks(root: string, file: string): string[] {
  const read = (p: string) => readFileSync(p, 'utf8');
  const problems: string[] = [];
  const abs = path.join(root, file);
  const anchorCache = new Map<string, Set<string>>();
  const anchorsIn = (p: string) => {
    if (!anchorCache.has(p)) anchorCache.set(p, anchorsOf(read(p)));
    return anchorCache.get(p)!;
  };
  for (const { line, target } of linksOf(read(abs))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue; // http:, https:, mailto:
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const dest = pathPart === '' ? abs : path.resolve(path.dirname(abs), pathPart);
    const where = `${file}:${line}: ${target}`;
    if (path.relative(root, dest).startsWith('..')) problems.push(`${where}: points outside the repository`);
    else if (!existsSync(dest)) problems.push(`${where}: no such file`);
    else if (anchor !== undefined && anchor !== '') {
      if (statSync(dest).isDirectory() || !dest.endsWith('.md')) problems.push(`${where}: an anchor into a file that is not Markdown`);
      else if (!anchorsIn(dest).has(anchor)) problems.push(`${where}: no heading with the anchor #${anchor} in ${path.relative(root, dest)}`);
    }
  }
  return problems;
}

describe('links in the documentation', () => {
  it('the slugger gives GitHub\'s anchors', () => {
    expect(slug("When a topic's state vanishes")).toBe('when-a-topics-state-vanishes');
    expect(slug('Events: `GET /v1/events`')).toBe('events-get-v1events');
    expect(slug('Health endpoints (public: no token)')).toBe('health-endpoints-public-no-token');
    expect(slug('Checking a store: `bucketq doctor`')).toBe('checking-a-store-bucketq-doctor');
    expect(slug('Beside BullMQ — and pg-boss')).toBe('beside-bullmq--and-pg-boss');
    expect([...anchorsOf('# A\n## Setup\n```\n## Not a heading\n```\n## Setup\n')]).toEqual(['a', 'setup', 'setup-1']);
  });

  it('the check finds a missing file, a missing anchor and a link out of the repository, and passes good links', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'bucketq-doc-links-'));
    try {
      mkdirSync(path.join(root, 'docs'));
      writeFileSync(path.join(root, 'docs', 'a.md'), '# A\n\n## The part\n');
      writeFileSync(
        path.join(root, 'README.md'),
        [
          '# Title',
          '## Good one',
          'See [ok](docs/a.md#the-part), [self](#good-one), [dir](docs), ![img](docs/a.md) and [web](https://example.com/x).',
          'Broken: [gone](docs/missing.md), [anchor](docs/a.md#no-such-part), [here](#nowhere), [out](../elsewhere.md).',
          '`[in code](nothing.md)` and',
          '```',
          '[in a block](nothing.md)',
          '```',
          '[ref]: docs/also-missing.md',
        ].join('\n'),
      );
      expect(brokenLinks(root, 'README.md')).toEqual([
        'README.md:4: docs/missing.md: no such file',
        'README.md:4: docs/a.md#no-such-part: no heading with the anchor #no-such-part in docs/a.md',
        'README.md:4: #nowhere: no heading with the anchor #nowhere in README.md',
        'README.md:4: ../elsewhere.md: points outside the repository',
        'README.md:9: docs/also-missing.md: no such file',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.each(markdownFiles())('%s: every relative link and image resolves, anchors included', (file) => {
    expect(brokenLinks(ROOT, file)).toEqual([]);
  });
});
