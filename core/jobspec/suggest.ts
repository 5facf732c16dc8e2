import { distance } from "fastest-levenshtein";

/** The candidate closest to `word`, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase().replace(/-/g, "_");
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = candidate === w ? 0 : distance(w, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Short words are all close to each other: allow one typo there, more in long ones.
  const tolerance = w.length <= 4 ? 1 : Math.max(2, Math.floor(w.length / 3));
  if (bestDistance <= tolerance) return best;
  // Two swapped neighbours (`plna`) are one slip of the fingers, not two edits.
  const swapped = candidates.find((c) => isTransposition(w, c.toLowerCase()));
  if (swapped) return swapped;
  // An abbreviation of a longer key: `max_cost` for `max_cost_per_hour`.
  if (w.length >= 4) return candidates.find((c) => c.toLowerCase().startsWith(w));
  return undefined;
}

function isTransposition(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((ch, i) => (ch === b[i] ? [] : [i]));
  return diff.length === 2 && diff[1] === diff[0] + 1 && a[diff[0]] === b[diff[1]] && a[diff[1]] === b[diff[0]];
}
