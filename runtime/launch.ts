/**
 * Starts a job run from a command line: the on-instance runtime and
 * `spotjob run` both come through here.
 */
import { mkdirSync } from "node:fs";
import { workdirOf, type ResolvedSpec } from "../core/jobspec/load";
import { consoleEvents, stopOnSignals } from "./console";
import { awsInstance } from "./cloud/instance";
import { runJob, RUNTIME_EXIT, type JobResult } from "./job";
import { openStore } from "./store/open";

export interface LaunchOptions {
  spec: ResolvedSpec;
  /** The spec file, to resolve `workdir` against. */
  specFile: string;
  storeUrl: string;
  stateDir: string;
  onBusy?: "wait" | "exit";
  /** Run a job that already succeeded with this spec again. */
  rerun?: boolean;
  /** Start over, keeping the previous history aside in the store. */
  fresh?: boolean;
  graceMs?: number;
}

export async function launch(o: LaunchOptions): Promise<JobResult> {
  const events = consoleEvents();
  const controller = new AbortController();
  const hurry = new AbortController();
  // First: from here a signal stops the job (INTERRUPTED, 75); before, it stopped a process that had started nothing
  // (see early-signals.ts).
  const unhook = stopOnSignals((signal) => controller.abort(new Error(`stopped by ${signal}`)), events.info, () => hurry.abort());
  const watching = new AbortController();
  try {
    // A signal that came while this process loaded is dispatched at the event loop's next turn: take it before
    // anything starts, so that it stops a job that never started, writing nothing.
    await new Promise((resolve) => setImmediate(resolve));
    if (controller.signal.aborted) {
      const result: JobResult = { state: "INTERRUPTED", exitCode: RUNTIME_EXIT.interrupted, message: "before the job started: nothing ran, nothing was written" };
      events.info(`${result.state}: ${result.message}`);
      return result;
    }
    const store = openStore(o.storeUrl);
    const workDir = workdirOf({ file: o.specFile, spec: o.spec });
    mkdirSync(o.stateDir, { recursive: true });
    // SPOTJOB_CLOUD names the cloud this instance runs on (the startup script sets it). The AWS modules, and the SDK
    // clients under them, load on an AWS instance only, and there only once needed.
    const cloud = process.env.SPOTJOB_CLOUD;
    if (cloud === "aws") {
      void (await import("./cloud/aws-notice.js")).watchSpotNotice({
        signal: watching.signal,
        onNotice: (notice) => {
          events.warn(`spot interruption notice: ${notice.action} at ${notice.time}; stopping and saving progress`);
          controller.abort(new Error(`spot interruption notice (${notice.action} at ${notice.time})`));
        },
        onRebalance: (at) => events.warn(`EC2 rebalance recommendation (${at}): this spot instance is at elevated risk of interruption`),
        log: events.info,
      });
    }
    // `secrets` are read by an AWS instance; anywhere else the job has this
    // machine's environment, whose values for them are masked all the same.
    const secretNames = Object.keys(o.spec.secrets ?? {});
    let secrets = cloud === "aws" && secretNames.length ? async () => (await import("./cloud/aws-secrets.js")).awsSecretsReader(o.spec)!() : undefined;
    if (secretNames.length && cloud !== "aws") {
      const unset = secretNames.filter((name) => process.env[name] === undefined);
      events.warn(`secrets are read on an AWS instance only; here ${secretNames.join(", ")} ${secretNames.length === 1 ? "comes" : "come"} from this machine's environment${unset.length ? ` (not set: ${unset.join(", ")})` : ""}`);
      secrets = async () => Object.fromEntries(secretNames.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
    }
    events.info(`job ${o.spec.name}: store ${store.url}, working in ${workDir}`);
    const result = await runJob({ spec: o.spec, store, stateDir: o.stateDir, workDir, signal: controller.signal, hurry: hurry.signal, events, onBusy: o.onBusy, rerun: o.rerun, fresh: o.fresh, graceMs: o.graceMs ?? graceFromEnv(), onCloud: cloud !== undefined && cloud !== "", secrets, instance: cloud === "aws" ? await awsInstance() : undefined });
    events.end?.();
    events.info(`${result.state}: ${result.message}`);
    if (cloud === "aws" && (result.state === "SUCCEEDED" || result.state === "FAILED" || result.state === "CANCELLED")) {
      const groups = await import("./cloud/aws-groups.js");
      await groups.scaleOwnGroupsToZero(groups.ownGroups(), events.info);
    }
    return result;
  } finally {
    watching.abort();
    unhook();
  }
}

/** SPOTJOB_GRACE_SECONDS: how long the job may take to stop after the first signal. */
function graceFromEnv(): number | undefined {
  const seconds = Number(process.env.SPOTJOB_GRACE_SECONDS);
  return Number.isFinite(seconds) && seconds >= 0 && process.env.SPOTJOB_GRACE_SECONDS ? seconds * 1000 : undefined;
}
