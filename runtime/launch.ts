/**
 * Starts a job run from a command line: the on-instance runtime and
 * `spotjob run` both come through here.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ResolvedSpec } from "../core/spec/load";
import { consoleEvents, stopOnSignals } from "./console";
import { runJob, type JobResult } from "./job";
import { openStore } from "./store/open";

export interface LaunchOptions {
  spec: ResolvedSpec;
  /** The spec file, to resolve `workdir` against. */
  specFile: string;
  storeUrl: string;
  stateDir: string;
  onBusy?: "wait" | "exit";
  graceMs?: number;
}

export async function launch(o: LaunchOptions): Promise<JobResult> {
  const events = consoleEvents();
  const store = openStore(o.storeUrl);
  const workDir = resolve(dirname(o.specFile), o.spec.workdir || ".");
  mkdirSync(o.stateDir, { recursive: true });
  const controller = new AbortController();
  const hurry = new AbortController();
  const unhook = stopOnSignals((signal) => controller.abort(new Error(`stopped by ${signal}`)), events.info, () => hurry.abort());
  try {
    events.info(`job ${o.spec.name}: store ${store.url}, working in ${workDir}`);
    const result = await runJob({ spec: o.spec, store, stateDir: o.stateDir, workDir, signal: controller.signal, hurry: hurry.signal, events, onBusy: o.onBusy, graceMs: o.graceMs ?? graceFromEnv(), onCloud: process.env.SPOTJOB_ON_CLOUD === "1" });
    events.info(`${result.state}: ${result.message}`);
    return result;
  } finally {
    unhook();
  }
}

/** SPOTJOB_GRACE_SECONDS: how long the job may take to stop after the first signal. */
function graceFromEnv(): number | undefined {
  const seconds = Number(process.env.SPOTJOB_GRACE_SECONDS);
  return Number.isFinite(seconds) && seconds >= 0 && process.env.SPOTJOB_GRACE_SECONDS ? seconds * 1000 : undefined;
}
