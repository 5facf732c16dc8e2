/** Durations for people: `45 s`, `12 min`, `3.5 h`, `4 d` (compact, for table columns: `45s`, `12m`, `3.5h`, `4d`). */
export function formatDuration(seconds: number, style: "long" | "compact" = "long"): string {
  const [s, min, h, d] = style === "compact" ? ["s", "m", "h", "d"] : [" s", " min", " h", " d"];
  if (seconds < 120) return `${seconds}${s}`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}${min}`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)}${h}`;
  return `${Math.round(seconds / 86_400)}${d}`;
}
