/**
 * The shape of src/transports (docs/architecture.md, "Transports"): one folder per wire (http/,
 * resp/, connect/) and the layer they share (shared/); no wire imports another, shared/ imports
 * no wire, the rest of src/ enters a folder only through its index.ts, and no import circle
 * runs through any of it. Read from the source text, type-only imports included.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');
const TRANSPORTS = path.join(SRC, 'transports');
const WIRES = ['http', 'resp', 'connect'];

function tsFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

/** The files of src/ a file imports (relative specifiers, `.js` read as `.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts'));
}

/** `http`, `shared`, ... for a file under src/transports/; null outside. */
function folderOf(file: string): string | null {
  const rel = path.relative(TRANSPORTS, file);
  return rel.startsWith('..') ? null : rel.split(path.sep)[0]!;
}

const rel = (f: string) => path.relative(SRC, f);

describe('src/transports', () => {
  const files = tsFiles(TRANSPORTS);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => t.startsWith(TRANSPORTS))]));

  it('has one folder per wire and shared/, each with an index.ts, and no file beside them', () => {
    const top = readdirSync(TRANSPORTS, { withFileTypes: true });
    expect(top.filter((e) => !e.isDirectory()).map((e) => e.name)).toEqual([]);
    expect(top.map((e) => e.name).sort()).toEqual([...WIRES, 'shared'].sort());
    for (const folder of [...WIRES, 'shared']) expect(files).toContain(path.join(TRANSPORTS, folder, 'index.ts'));
  });

  it('no wire imports another, and shared/ imports no wire', () => {
    const crossings: string[] = [];
    for (const [file, deps] of graph) {
      const from = folderOf(file)!;
      for (const dep of deps) {
        const to = folderOf(dep)!;
        if (to !== from && to !== 'shared') crossings.push(`${rel(file)} -> ${rel(dep)}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it('the rest of src/ imports a transports folder through its index.ts only', () => {
    const outside = tsFiles(SRC).filter((f) => folderOf(f) === null);
    const deep: string[] = [];
    for (const file of outside) {
      for (const dep of importsOf(file)) {
        if (folderOf(dep) !== null && path.basename(dep) !== 'index.ts') deep.push(`${rel(file)} -> ${rel(dep)}`);
      }
    }
    expect(deep).toEqual([]);
  });

  it('has no import circle', () => {
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === 'open') circles.push([...stack.slice(stack.indexOf(dep)), dep].map(rel).join(' -> '));
        else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(circles).toEqual([]);
  });
});
