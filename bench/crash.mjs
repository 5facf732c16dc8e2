// The SIGKILL crash harness with more kills than CI runs:
//   npm run bench -- crash            (1000 kills on a local store, 300 each on S3 and GCS)
//   SPOTJOB_CRASH_KILLS=5000 npm run bench -- crash
// It prints, per round, the kills and item starts, and the store faults injected.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = {
  ...process.env,
  SPOTJOB_CRASH_KILLS: process.env.SPOTJOB_CRASH_KILLS ?? "1000",
  SPOTJOB_CRASH_KILLS_REMOTE: process.env.SPOTJOB_CRASH_KILLS_REMOTE ?? "300",
  SPOTJOB_CRASH_TIMEOUT_S: process.env.SPOTJOB_CRASH_TIMEOUT_S ?? "7200",
};
const started = Date.now();
const run = spawnSync("npx", ["vitest", "run", "--config", "vitest.soak.config.mts", "test/runtime/crash-local.soak.test.ts", "test/runtime/crash-s3.soak.test.ts", "test/runtime/crash-gcs.soak.test.ts"], { cwd: root, env, stdio: "inherit" });
console.log(`crash harness: ${env.SPOTJOB_CRASH_KILLS} local kills, ${env.SPOTJOB_CRASH_KILLS_REMOTE} per remote store, ${((Date.now() - started) / 1000).toFixed(0)} s, exit ${run.status}`);
process.exit(run.status ?? 1);
