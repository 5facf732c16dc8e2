/**
 * `spotjob cancel <spec> [--store URL] [--no-wait] [--timeout S]`: asks the
 * job to stop for good. The request goes into the store; a runtime that is
 * running the job saves progress, stops and records CANCELLED (the
 * supervisor scales a cloud job's instances to zero); when nothing runs it,
 * this command records CANCELLED itself under the job's lease. Nothing is
 * deleted: `spotjob run` resumes a cancelled job.
 */
import { hostname, userInfo } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { readCancel, requestCancel, CANCEL_KEY, describeCancel, type CancelRequest } from "../../runtime/cancel";
import { RUNTIME_EXIT } from "../../runtime/job";
import { Lease, LeaseHeld, localHolderId } from "../../runtime/lease";
import { readStatus, STATUS_KEY, type JobStatus } from "../../runtime/status";
import { openStore } from "../../runtime/store/open";
import type { Store } from "../../runtime/store/store";
import { EXIT } from "../exit-codes";
import { storeOf } from "./job-home";

const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const POLL_MS = 500;

export async function cancelCommand(specFile: string, options: { store?: string; wait: boolean; timeoutSeconds: number }): Promise<number> {
  const where = storeOf(specFile, options.store);
  if (typeof where === "number") return where;
  const store = openStore(where.url);
  const before = await readStatus(store);
  if (before && FINAL.has(before.state) && !(await readCancel(store))) {
    process.stdout.write(`job ${where.job} has already ended (${before.state}): nothing to cancel\n`);
    return EXIT.ok;
  }
  const request = await requestCancel(store, whoAmI());
  process.stdout.write(`cancel requested in ${where.url} (${describeCancel(request)})\n`);
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let announced = false;
  for (;;) {
    const outcome = await carryOutIfIdle(store, where.job, request, before);
    if (outcome === "recorded") {
      process.stdout.write(`job ${where.job}: CANCELLED (no runtime was running it). Progress is kept; \`spotjob run ${specFile}\` resumes it\n`);
      return EXIT.ok;
    }
    if (outcome === "gone" || !(await readCancel(store))) {
      // Carried out by the job's runtime, or overtaken by the job's own end.
      const now = await readStatus(store);
      if (now?.state === "CANCELLED") process.stdout.write(`job ${where.job}: CANCELLED by its runtime after saving progress${now.items.total ? ` (${now.items.done}/${now.items.total} items done)` : ""}. \`spotjob run ${specFile}\` resumes it\n`);
      else process.stdout.write(`job ${where.job} ended ${now?.state ?? "without a status"} before the request was carried out\n`);
      return EXIT.ok;
    }
    if (!options.wait) {
      process.stdout.write(`${outcome.holder} is running the job: it checks for the request every few seconds, then saves progress and stops (on a cloud, the supervisor scales the instances to zero)\n`);
      return EXIT.ok;
    }
    if (!announced) process.stdout.write(`waiting for ${outcome.holder} to save progress and stop (at most ${options.timeoutSeconds} s; Ctrl-C leaves the request standing)\n`);
    announced = true;
    if (Date.now() >= deadline) {
      process.stderr.write(`job ${where.job} is still running after ${options.timeoutSeconds} s; the request stands in ${where.url}/${CANCEL_KEY}: its runtime carries it out when it next checks, and on a cloud the supervisor scales the instances to zero within a few minutes. \`spotjob status\` shows when it is CANCELLED\n`);
      return EXIT.error;
    }
    await sleep(POLL_MS);
  }
}

/** Records CANCELLED under the job's lease when no runtime holds it; otherwise says who does. */
async function carryOutIfIdle(store: Store, job: string, request: CancelRequest, before: JobStatus | undefined): Promise<"recorded" | "gone" | { holder: string }> {
  let lease: Lease;
  try {
    lease = await Lease.acquire({ store, holder: localHolderId("cancel"), onBusy: "exit" });
  } catch (e) {
    if (e instanceof LeaseHeld) return { holder: e.holder };
    throw e;
  }
  try {
    // A runtime may have carried it out between our looks: its record stands.
    if (!(await readCancel(store))) return "gone";
    const now = new Date().toISOString();
    const current = (await readStatus(store)) ?? before;
    const status: JobStatus = {
      ...(current ?? { job, holder: lease.holder, items: { done: 0, failed: 0, total: 0 }, attempts: 0, started_at: now }),
      state: "CANCELLED",
      heartbeat_at: now,
      exit_code: RUNTIME_EXIT.cancelled,
      stop_reason: describeCancel(request),
    };
    await store.put(STATUS_KEY, JSON.stringify(status, null, 2));
    await store.delete(CANCEL_KEY);
    return "recorded";
  } finally {
    await lease.release();
  }
}

function whoAmI(): string {
  let user = process.env.USER ?? "someone";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (a container): the environment's name will do
  }
  return `${user}@${hostname()}`;
}
