/**
 * Starts a job run from a command line: the on-instance runtime and
 * `spotjob run` both come through here.
 */
import { workdirOf, type ResolvedSpec } from "../core/jobspec/load";
import { consoleEvents, stopOnSignals } from "./console";
import { parseInstanceEnv } from "../core/wire/instance-env";
import { cloudHost } from "./cloud/hosts";
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
  let stopDeadline: NodeJS.Timeout | undefined;
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
    // The instance environment names the cloud this instance runs on (its startup script sets it); that cloud's
    // modules, and the SDK clients under them, load there only, and only once needed.
    const instanceEnv = parseInstanceEnv(process.env);
    const host = await cloudHost(instanceEnv, events.warn);
    void host?.watchPreemption({
      signal: watching.signal,
      onNotice: (notice) => {
        events.warn(`${notice.description}; stopping and saving progress`);
        controller.abort(new Error(notice.reason));
        // A short notice (GCP's 30 s): what still runs is killed in time for the final flush to end before the power does.
        if (notice.stopWithinMs !== undefined) stopDeadline ??= killBeforeDeadline(notice.stopWithinMs, () => hurry.abort(), events.warn);
      },
      onWarning: events.warn,
      log: events.info,
    });
    // `secrets` are read by a cloud instance; anywhere else the job has this
    // machine's environment, whose values for them are masked all the same.
    const secretNames = Object.keys(o.spec.secrets ?? {});
    let secrets = host?.secretsReader(o.spec);
    if (secretNames.length && !host) {
      const unset = secretNames.filter((name) => process.env[name] === undefined);
      events.warn(`secrets are read on a cloud instance only; here ${secretNames.join(", ")} ${secretNames.length === 1 ? "comes" : "come"} from this machine's environment${unset.length ? ` (not set: ${unset.join(", ")})` : ""}`);
      secrets = async () => Object.fromEntries(secretNames.flatMap((name) => (process.env[name] === undefined ? [] : [[name, process.env[name]!]])));
    }
    events.info(`job ${o.spec.name}: store ${store.url}, working in ${workDir}`);
    const result = await runJob({ spec: o.spec, store, stateDir: o.stateDir, workDir, signal: controller.signal, hurry: hurry.signal, events, onBusy: o.onBusy, rerun: o.rerun, fresh: o.fresh, graceMs: o.graceMs ?? secondsToMs(instanceEnv.graceSeconds), onCloud: host !== undefined, secrets, instance: await host?.instance() });
    events.end?.();
    events.info(`${result.state}: ${result.message}`);
    if (host && (result.state === "SUCCEEDED" || result.state === "FAILED" || result.state === "CANCELLED")) await host.stopBilling(events.info);
    return result;
  } finally {
    clearTimeout(stopDeadline);
    watching.abort();
    unhook();
  }
}

/**
 * What a stop keeps, after the job's processes are killed, for the final flush
 * (the snapshot directory's last changes, the log, the status, the lease).
 */
export const FINAL_FLUSH_MS = 8_000;

/** Kills what still runs (as a second signal does) `FINAL_FLUSH_MS` before a stop must be over. */
function killBeforeDeadline(stopWithinMs: number, kill: () => void, warn: (message: string) => void): NodeJS.Timeout {
  const after = Math.max(0, stopWithinMs - FINAL_FLUSH_MS);
  const timer = setTimeout(() => {
    warn(`${Math.round(after / 1000)} s since the notice: killing what still runs, so that progress is saved before the instance powers off`);
    kill();
  }, after);
  timer.unref();
  return timer;
}

const secondsToMs = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
