/** Words and numbers for messages and plan output. */

/**
 * `$6.90`, `$0.526`, `$1,234.50`: USD. Cents as usual; a third decimal only
 * below a dollar where it carries information (sub-dollar hourly prices differ in it).
 */
export function formatUsd(amount: number): string {
  if (!Number.isFinite(amount)) return amount > 0 ? "unlimited" : "-";
  const cents = Math.round(amount * 100) / 100;
  const digits = Math.abs(amount) < 1 && Math.abs(cents - amount) > 1e-9 ? 3 : 2;
  const text = Math.abs(amount).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${amount < 0 ? "-" : ""}$${text}`;
}

/** `8`, `1 or 2`, `1, 2, 4 or 8`. */
export function orList(items: readonly string[]): string {
  return wordList(items, "or");
}

/** `aws`, `aws and local`, `aws, gcp and local`. */
export function andList(items: readonly string[]): string {
  return wordList(items, "and");
}

function wordList(items: readonly string[], last: "and" | "or"): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} ${last} ${items[items.length - 1]}`;
}
