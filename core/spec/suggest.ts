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
  // An abbreviation of a longer key: `max_cost` for `max_cost_per_hour`.
  if (w.length >= 4) return candidates.find((c) => c.toLowerCase().startsWith(w));
  return undefined;
}
