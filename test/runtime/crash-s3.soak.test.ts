/**
 * The crash harness (test/helpers/crash-harness.ts) at length on the s3 store
 * (`npm run test:soak`; bench/crash.mjs raises the counts through the environment).
 * Each store has its own file so the soak tier runs them side by side.
 */
import { crashSuite } from "../helpers/crash-harness";

crashSuite({
  kills: Number(process.env.SPOTJOB_CRASH_KILLS ?? 150),
  remoteKills: Number(process.env.SPOTJOB_CRASH_KILLS_REMOTE ?? 60),
  timeoutMs: Number(process.env.SPOTJOB_CRASH_TIMEOUT_S ?? 900) * 1000,
  stores: ["s3"],
});
