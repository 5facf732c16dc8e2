// Bundles the CLI (and, later, the on-instance runtime) into single files
// so that `npx spotjob` starts fast and the runtime ships as one upload.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { common } from "./esbuild-options.mjs";
import { holdThenCompile } from "./hold-then-compile.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/** The product's bundles, written into `outdir` (dist/ for the package; the tests build the same into a temporary one). */
export function bundles(outdir = join(root, "dist")) {
  return [
    // Pulumi's SDKs stay in node_modules: only `plan --resources` loads them, and they are large.
    // `spotjob --version` says the package's version.
    { entryPoints: [join(root, "cli/main.ts")], outfile: join(outdir, "spotjob.cjs"), banner: { js: "#!/usr/bin/env node" }, external: ["@pulumi/*"], define: { SPOTJOB_VERSION: JSON.stringify(version) } },
    // The on-instance runtime: one self-contained file, uploaded as is; it holds SIGINT/SIGTERM before V8 compiles the
    // rest of it (the CLI's bin/spotjob.js does so before it reads its bundle).
    { entryPoints: [join(root, "runtime/main.ts")], outfile: join(outdir, "runtime.cjs"), minify: true, banner: { js: "#!/usr/bin/env node" }, plugins: [...common.plugins, holdThenCompile(join(root, "runtime/hold-signals.ts"))] },
    // The runtime's API for TypeScript programs: `require("spotjob/runtime")`.
    { entryPoints: [join(root, "runtime/index.ts")], outfile: join(outdir, "runtime-api.cjs") },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await Promise.all(bundles().map((b) => build({ ...common, ...b })));
}
