/**
 * Starts a job run from a command line: the on-instance runtime and
 * `spotjob run` both come through here.
 */
import { mkdirSync } from "node:fs";
import { workdirOf, type ResolvedSpec } from "../core/spec/load";
import { consoleEvents, stopOnSignals } from "./console";
import { ownGroups, scaleOwnGroupsToZero } from "./cloud/aws-groups";
import { watchSpotNotice } from "./cloud/aws-notice";
import { awsSecretsReader } from "./cloud/aws-secrets";
import { runJob, type JobResult } from "./job";
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
  const store = openStore(o.storeUrl);
  const workDir = workdirOf({ file: o.specFile, spec: o.spec });
  mkdirSync(o.stateDir, { recursive: true });
  const controller = new AbortController();
  const hurry = new AbortController();
  const unhook = stopOnSignals((signal) => controller.abort(new Error(`stopped by ${signal}`)), events.info, () => hurry.abort());
  // SPOTJOB_CLOUD names the cloud this instance runs on (the startup script sets it).
  const cloud = process.env.SPOTJOB_CLOUD;
  const watching = new AbortController();
  if (cloud === "aws") {
    void watchSpotNotice({
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
  let secrets = cloud === "aws" ? awsSecretsReader(o.spec) : undefined;
  if (secretNames.length && cloud !== "aws") {
    const unset = secretNames.filter((name) => process.env[name] === undefined);
    events.warn(`secrets are read on an AWS instance only; here ${secretNames.join(", ")} ${secretNames.length === 1 ? "comes" : "come"} from this machine's environment${unset.length ? ` (not set: ${unset.join(", ")})` : ""}`);
    secrets = async () => Object.fromEntries(secretNames.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
  }
  try {
    events.info(`job ${o.spec.name}: store ${store.url}, working in ${workDir}`);
    const result = await runJob({ spec: o.spec, store, stateDir: o.stateDir, workDir, signal: controller.signal, hurry: hurry.signal, events, onBusy: o.onBusy, rerun: o.rerun, fresh: o.fresh, graceMs: o.graceMs ?? graceFromEnv(), onCloud: cloud !== undefined && cloud !== "", secrets });
    events.info(`${result.state}: ${result.message}`);
    if (cloud === "aws" && (result.state === "SUCCEEDED" || result.state === "FAILED")) await scaleOwnGroupsToZero(ownGroups(), events.info);
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
