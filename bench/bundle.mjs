// The runtime bundle: its size (target <= 3 MB) and its cold start to --help (target <= 300 ms).
import { execFileSync, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
execFileSync(process.execPath, [join(root, "scripts/build.mjs")], { stdio: "inherit" });
const bundle = join(root, "dist/runtime.cjs");
console.log(`runtime bundle: ${(statSync(bundle).size / 1e6).toFixed(2)} MB (dist/runtime.cjs)`);
const times = [];
for (let i = 0; i < 15; i++) {
  const t = performance.now();
  const run = spawnSync(process.execPath, [bundle, "--help"], { encoding: "utf8" });
  times.push(performance.now() - t);
  if (run.status !== 0) throw new Error(run.stderr);
}
times.sort((a, b) => a - b);
console.log(`cold start to --help: median ${times[7].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times[14].toFixed(0)} ms (15 runs)`);
