/** Builds the runtime bundle into a directory, for benchmarks (tests use the run's build: test/helpers/shared.ts). */
import { build } from "esbuild";
import { join } from "node:path";

/** `root`: the repository (a bundled benchmark has no `__dirname` of its own there); `into`: a directory the caller removes. */
export async function buildRuntime(root: string, into: string): Promise<string> {
  const outfile = join(into, "runtime.cjs");
  // The product's own options (target, aliases), unminified for readable stack traces.
  const { common } = await import("../../scripts/esbuild-options.mjs");
  await build({ ...common, entryPoints: [join(root, "runtime/main.ts")], outfile });
  return outfile;
}
