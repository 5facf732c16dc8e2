import { formatDiagnostic, type Diagnostic } from "../../core/jobspec";
import { style } from "./style";

/**
 * Diagnostics to stderr, with the offending line under each: from `source`
 * (the spec's text), or from whichever file a diagnostic names when `source`
 * says per diagnostic (a catalog override's errors are in the catalog).
 */
export function printDiagnostics(diagnostics: readonly Diagnostic[], source?: string | ((d: Diagnostic) => string | undefined)): void {
  const s = style(process.stderr);
  for (const d of diagnostics) {
    const text = formatDiagnostic(d, typeof source === "function" ? source(d) : source);
    const [first, ...rest] = text.split("\n");
    const colour = d.severity === "error" ? s.red : s.yellow;
    process.stderr.write(`${colour(first)}\n${rest.length ? rest.join("\n") + "\n" : ""}`);
  }
}
