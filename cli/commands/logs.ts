/**
 * `spotjob logs <spec> [--store URL] [--attempt N] [-f]`: an attempt's
 * output, from the store (the runtime copies it there every few seconds),
 * wherever the job runs. `-f` follows the job: new output as it arrives, the
 * next attempt's log when one starts, until the job is no longer running.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { attemptOfLogKey, logKey, LOGS_PREFIX } from "../../runtime/run-log";
import { liveState, readStatus } from "../../runtime/status";
import { openStore } from "../../runtime/store/open";
import type { Store } from "../../runtime/store/store";
import { CliError, EXIT } from "../exit-codes";
import { storeOf } from "./job-home";

/** How often `-f` looks for new output; SPOTJOB_LOGS_POLL_MS overrides it (tests). */
const pollMs = () => Number(process.env.SPOTJOB_LOGS_POLL_MS) || 1000;

export async function logsCommand(specFile: string, options: { store?: string; attempt?: string; follow?: boolean }): Promise<number> {
  const where = storeOf(specFile, options.store);
  if (typeof where === "number") return where;
  const store = openStore(where.url);
  const logs = await store.list(LOGS_PREFIX);
  let key: string | undefined = logs.at(-1);
  if (options.attempt !== undefined) {
    const wanted = logKey(Number(options.attempt));
    if (!logs.includes(wanted)) throw new CliError(`no log for attempt ${options.attempt}; attempts with logs: ${logs.map(attemptOfLogKey).join(", ") || "none yet"}`);
    key = wanted;
  }
  if (!options.follow) {
    if (!key) {
      process.stderr.write(`job ${where.job} has no logs in ${where.url} yet (\`spotjob logs -f\` waits for them)\n`);
      return EXIT.error;
    }
    process.stdout.write((await store.get(key))?.body ?? "");
    return EXIT.ok;
  }
  return follow(store, where.job, key, options.attempt === undefined);
}

/** Prints `key` as it grows (and, unless one attempt was asked for, each newer attempt's log) until the job stops running. */
async function follow(store: Store, job: string, key: string | undefined, nextAttempts: boolean): Promise<number> {
  let printed = 0;
  let waiting = false;
  for (;;) {
    // Read the status before the log: the runtime copies its log before it writes its final status.
    const status = await readStatus(store);
    if (key) {
      const body = (await store.get(key))?.body;
      if (body && body.length > printed) {
        process.stdout.write(body.subarray(printed));
        printed = body.length;
      }
    }
    const newest = nextAttempts ? (await store.list(LOGS_PREFIX)).at(-1) : key;
    if (newest !== undefined && newest !== key) {
      if (key) process.stderr.write(`--- attempt ${attemptOfLogKey(newest)} ---\n`);
      [key, printed] = [newest, 0];
      continue;
    }
    const state = status ? liveState(status).state : undefined;
    if (key && state !== undefined && state !== "RUNNING" && state !== "SETTING_UP" && state !== "PENDING") {
      process.stderr.write(`--- job ${job} is ${state}${state === "LOST" ? " (no heartbeat: its runtime is gone)" : ""}: no more output ---\n`);
      return EXIT.ok;
    }
    if (!key && !waiting) process.stderr.write(`waiting for job ${job} to start writing its log...\n`);
    waiting = true;
    await sleep(pollMs());
  }
}
