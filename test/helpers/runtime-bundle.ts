/** Builds the runtime bundle once per test file, as the product ships it. */
import { build } from "esbuild";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function buildRuntime(): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), "spotjob-runtime-")), "runtime.cjs");
  await build({ entryPoints: [join(__dirname, "../../runtime/main.ts")], outfile, bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "warning" });
  return outfile;
}
