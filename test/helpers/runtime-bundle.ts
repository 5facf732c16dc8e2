/** Builds the runtime bundle into a temporary directory, for benchmarks (tests use the run's build: test/helpers/shared.ts). */
import { build } from "esbuild";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `root`: the repository (a bundled benchmark has no `__dirname` of its own there). */
export async function buildRuntime(root = join(__dirname, "../..")): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), "spotjob-runtime-")), "runtime.cjs");
  // The product's own options (target, aliases), unminified for readable stack traces.
  const { common } = await import("../../scripts/esbuild-options.mjs");
  await build({ ...common, entryPoints: [join(root, "runtime/main.ts")], outfile });
  return outfile;
}
