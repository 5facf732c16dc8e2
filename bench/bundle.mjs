// The runtime bundle: its size (target <= 3 MB) and its cold start to --help (target <= 300 ms); the runtime's and
// the CLI's `run`: how soon after spawn a signal stops them cleanly (target <= 150 ms), and how soon the job's own
// handlers have it (SPOTJOB_DEBUG_READY=1 makes them say so on stderr).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = 15;
execFileSync(process.execPath, [join(root, "scripts/build.mjs")], { stdio: "inherit" });
const bundle = join(root, "dist/runtime.cjs");
console.log(`runtime bundle: ${(statSync(bundle).size / 1e6).toFixed(2)} MB (dist/runtime.cjs)`);

const summary = (times) => {
  const t = [...times].sort((a, b) => a - b);
  return `median ${t[t.length >> 1].toFixed(0)} ms, min ${t[0].toFixed(0)} ms, max ${t[t.length - 1].toFixed(0)} ms (${t.length} runs)`;
};

const times = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  const run = spawnSync(process.execPath, [bundle, "--help"], { encoding: "utf8" });
  times.push(performance.now() - t);
  if (run.status !== 0) throw new Error(run.stderr);
}
console.log(`cold start to --help: ${summary(times)}`);

/**
 * Spawns `run` of a job that sleeps, times the "signals held" and "signals handled" lines from the spawn, then
 * stops it with SIGTERM and checks it exits 75 (interrupted), as a signal at those instants would make it.
 */
async function signalReady(label, argv) {
  const held = [];
  const handled = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-bench-ready-"));
    try {
      writeFileSync(join(dir, "job.yaml"), "version: 1\nprovider: local\nname: ready-bench\nrun: sleep 60\n");
      const t = performance.now();
      const child = spawn(process.execPath, argv(dir), { cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SPOTJOB_DEBUG_READY: "1" } });
      let stderr = "";
      const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
      await new Promise((resolve, reject) => {
        child.stderr.on("data", (d) => {
          stderr += d;
          if (held.length === i && stderr.includes("signals held")) held.push(performance.now() - t);
          if (handled.length === i && stderr.includes("signals handled")) {
            handled.push(performance.now() - t);
            resolve();
          }
        });
        child.on("close", () => reject(new Error(`${label} exited before its handlers were ready:\n${stderr}`)));
      });
      child.kill("SIGTERM");
      const { code, signal } = await exited;
      if (code !== 75) throw new Error(`${label}: SIGTERM gave ${code ?? signal}, not 75:\n${stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`${label}: spawn to signals held (exit 75 on a signal): ${summary(held)}`);
  console.log(`${label}: spawn to the job's handlers: ${summary(handled)}`);
}

await signalReady("runtime run", (dir) => [bundle, "run", "--spec", join(dir, "job.yaml"), "--store", join(dir, "store"), "--state", join(dir, "state")]);
await signalReady("spotjob run (bin/spotjob.js)", () => [join(root, "bin/spotjob.js"), "run", "job.yaml"]);
