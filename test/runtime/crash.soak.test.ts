/**
 * The crash harness (test/helpers/crash-harness.ts) at length: 200 SIGKILLs on
 * a local store, 100 each on S3 and GCS with injected faults
 * (`npm run test:soak`; bench/crash.mjs raises the counts through the environment).
 */
import { crashSuite } from "../helpers/crash-harness";

crashSuite({
  kills: Number(process.env.SPOTJOB_CRASH_KILLS ?? 200),
  remoteKills: Number(process.env.SPOTJOB_CRASH_KILLS_REMOTE ?? 100),
  timeoutMs: Number(process.env.SPOTJOB_CRASH_TIMEOUT_S ?? 900) * 1000,
});
