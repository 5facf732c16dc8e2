/**
 * Quoting values into bash, for every cloud's startup script. Pure.
 */

/** A bash single-quoted literal: nothing inside it is expanded, newlines included. */
export function shellLiteral(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `NAME='value'` lines, one per value. shellcheck flags `$(...)` in single
 * quotes as a likely mistake (SC2016); here literal is the point, so such a
 * line carries the directive that says so.
 */
export function shellAssignments(values: readonly (readonly [string, string])[]): string[] {
  return values.flatMap(([name, value]) => [...(/[$`]/.test(value) ? ["# shellcheck disable=SC2016"] : []), `${name}=${shellLiteral(value)}`]);
}

/**
 * Why a value cannot become a bash variable, or undefined: an empty one (every
 * value the scripts take is required once given), or one holding a NUL byte
 * (bash would cut it short silently).
 */
export function shellValueProblem(value: string): string | undefined {
  if (value === "") return "is empty";
  if (value.includes("\0")) return "contains a NUL byte";
  return undefined;
}
