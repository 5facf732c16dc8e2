/**
 * A diagnostic is everything a user needs to fix a spec: where (file, line,
 * column, field path), what was expected, and how to fix it.
 */
export type Severity = "error" | "warning";

export interface Diagnostic {
  severity: Severity;
  /** Stable machine-readable code, e.g. `unknown_key`, `invalid_type`, `yaml_syntax`. */
  code: string;
  message: string;
  /** How to fix it, when there is something specific to say. */
  hint?: string;
  file: string;
  /** 1-based; 0 when the problem has no place in the file (e.g. the file is unreadable). */
  line: number;
  column: number;
  /** Field path such as `cost.max_cost_per_hour` or `sweep.items[3].lr`; "" for the whole file. */
  path: string;
}

export type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? part : `.${part}`;
  }
  return out;
}

/** `file:line:col: error: path: message`, a caret under the spot, and the hint. */
export function formatDiagnostic(d: Diagnostic, source?: string): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const field = d.path ? `${d.path}: ` : "";
  const lines = [`${where}: ${d.severity}: ${field}${d.message}`];
  if (source !== undefined && d.line > 0) {
    const text = source.split(/\r?\n/)[d.line - 1];
    if (text !== undefined && text.length <= 200) {
      const gutter = String(d.line);
      lines.push(`  ${gutter} | ${text}`);
      lines.push(`  ${" ".repeat(gutter.length)} | ${" ".repeat(Math.max(0, d.column - 1))}^`);
    }
  }
  if (d.hint) lines.push(`  fix: ${d.hint}`);
  return lines.join("\n");
}
