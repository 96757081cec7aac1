/**
 * "Did you mean" for a mistyped command or flag: the closest known name, when it is close enough
 * to be a typo. Hand-written rather than a dependency: a dozen lines over a list of at most a few
 * dozen short names, on the path of every CLI error, not worth a package in every user's install.
 */

/** Edit distance with adjacent transpositions (optimal string alignment): `tokne` is one from `token`. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to `word` if it is a likely typo of it (or `word` is a prefix of only it), else null. */
export function closest(word: string, known: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefixed = known.filter((k) => k.startsWith(w));
  if (w.length >= 2 && prefixed.length === 1) return prefixed[0]!;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = distance(w, k.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [k, dist];
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : null;
}

/** ` (did you mean X?)`, or '' when nothing is close. */
export function didYouMean(word: string, known: readonly string[], show: (name: string) => string = (n) => n): string {
  const match = closest(word, known);
  return match === null ? '' : ` (did you mean ${show(match)}?)`;
}
