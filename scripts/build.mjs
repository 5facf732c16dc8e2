// Bundles the CLI (and, later, the on-instance runtime) into single files
// so that `npx spotjob` starts fast and the runtime ships as one upload.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { common } from "./esbuild-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

const bundles = [
  // Pulumi's SDKs stay in node_modules: only `plan --resources` loads them, and they are large.
  // `spotjob --version` says the package's version.
  { entryPoints: [join(root, "cli/main.ts")], outfile: join(root, "dist/spotjob.cjs"), banner: { js: "#!/usr/bin/env node" }, external: ["@pulumi/*"], define: { SPOTJOB_VERSION: JSON.stringify(version) } },
  // The on-instance runtime: one self-contained file, uploaded as is.
  { entryPoints: [join(root, "runtime/main.ts")], outfile: join(root, "dist/runtime.cjs"), minify: true, banner: { js: "#!/usr/bin/env node" } },
  // The runtime's API for TypeScript programs: `require("spotjob/runtime")`.
  { entryPoints: [join(root, "runtime/index.ts")], outfile: join(root, "dist/runtime-api.cjs") },
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await Promise.all(bundles.map((b) => build({ ...common, ...b })));
}
