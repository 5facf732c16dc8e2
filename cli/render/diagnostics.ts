import { formatDiagnostic, type Diagnostic } from "../../core/spec";
import { style } from "./style";

/** Diagnostics to stderr, with the offending line of the spec under each. */
export function printDiagnostics(diagnostics: readonly Diagnostic[], source?: string): void {
  const s = style(process.stderr);
  for (const d of diagnostics) {
    const text = formatDiagnostic(d, source);
    const [first, ...rest] = text.split("\n");
    const colour = d.severity === "error" ? s.red : s.yellow;
    process.stderr.write(`${colour(first)}\n${rest.length ? rest.join("\n") + "\n" : ""}`);
  }
}
