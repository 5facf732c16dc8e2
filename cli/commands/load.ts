import { readFileSync } from "node:fs";
import { loadSpecFile, type LoadedSpec } from "../../core/jobspec/load";
import { EXIT } from "../exit-codes";
import { printDiagnostics } from "../render/diagnostics";

/** The loaded spec, or the exit status after printing why it could not be loaded. */
export function loadOrReport(file: string): LoadedSpec | number {
  const result = loadSpecFile(file);
  if (!result.ok) {
    printDiagnostics([...result.errors, ...result.warnings], result.text ?? safeRead(file));
    return result.errors.some((e) => e.line > 0 || e.code === "file_too_large") ? EXIT.invalidSpec : EXIT.error;
  }
  printDiagnostics(result.loaded.warnings, result.loaded.source.text);
  return result.loaded;
}

function safeRead(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
