/** Builds the runtime bundle once per test file, as the product ships it. */
import { build } from "esbuild";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function buildRuntime(): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), "spotjob-runtime-")), "runtime.cjs");
  // The product's own options (target, aliases), unminified for readable stack traces.
  const { common } = await import("../../scripts/build.mjs");
  await build({ ...common, entryPoints: [join(__dirname, "../../runtime/main.ts")], outfile });
  return outfile;
}
