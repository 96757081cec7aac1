import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** bucketq's version from its package.json (one level up from src/ and from dist/). */
export function packageVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
