// Runs a benchmark: `npm run bench -- journal` bundles bench/journal.ts and runs it.
import { build } from "esbuild";
import { common } from "./esbuild-options.mjs";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const names = process.argv.slice(2);
const available = readdirSync(join(root, "bench")).filter((f) => /\.(ts|mjs)$/.test(f)).map((f) => f.replace(/\.(ts|mjs)$/, ""));
if (names.length === 0) {
  console.error(`usage: npm run bench -- <${available.join("|")}> [...]`);
  process.exit(1);
}
for (const name of names) {
  let entry = join(root, "bench", `${name}.ts`);
  let bundleDir;
  if (!existsSync(entry)) {
    const mjs = join(root, "bench", `${name}.mjs`);
    if (!existsSync(mjs)) {
      console.error(`no benchmark ${name}; available: ${available.join(", ")}`);
      process.exit(1);
    }
    entry = mjs;
  } else {
    bundleDir = mkdtempSync(join(tmpdir(), "spotjob-bench-"));
    const outfile = join(bundleDir, `${name}.cjs`);
    await build({ ...common, entryPoints: [entry], outfile, external: ["esbuild"] });
    entry = outfile;
  }
  console.log(`== bench/${name}`);
  // The bundle lives in a temporary folder: what it leaves external (esbuild) resolves from the repository.
  const run = spawnSync(process.execPath, ["--expose-gc", entry], { stdio: "inherit", cwd: root, env: { ...process.env, NODE_PATH: join(root, "node_modules") } });
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
