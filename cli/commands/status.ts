/**
 * `spotjob status <spec> [--store URL] [--json]` and `spotjob logs <spec>`:
 * read what the runtime keeps in the job's store, wherever it runs.
 */
import { openStore } from "../../runtime/store/open";
import { liveState, readLaunchFailure, readStatus, type JobStatus, type LaunchFailure } from "../../runtime/status";
import { CliError, EXIT } from "../exit-codes";
import { style } from "../render/style";
import { jobHome } from "./job-home";
import { loadOrReport } from "./load";

function storeOf(specFile: string, storeUrl: string | undefined): { url: string; job: string } | number {
  const loaded = loadOrReport(specFile);
  if (typeof loaded === "number") return loaded;
  return { url: jobHome(loaded.spec, storeUrl).store, job: loaded.spec.name };
}

export async function statusCommand(specFile: string, options: { store?: string; json?: boolean }): Promise<number> {
  const where = storeOf(specFile, options.store);
  if (typeof where === "number") return where;
  const store = openStore(where.url);
  const [status, launchFailure] = await Promise.all([readStatus(store), readLaunchFailure(store)]);
  if (!status && launchFailure) {
    // The instance never launched, so the runtime never wrote a status: the supervisor's record says why.
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: false, job: where.job, store: where.url, error: "launch failed", launch_failure: launchFailure })}\n`);
    else process.stdout.write(`job        ${where.job}: ${style().red("LAUNCH FAILED")} (no instance ever started)\n${formatLaunchFailure(launchFailure)}store      ${where.url}\n`);
    return EXIT.error;
  }
  if (!status) {
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: false, job: where.job, store: where.url, error: "no run yet" })}\n`);
    else process.stderr.write(`job ${where.job} has not run yet: nothing in ${where.url}\n  start it with \`spotjob run ${specFile}\` or \`pulumi up\`\n`);
    return EXIT.error;
  }
  const live = liveState(status);
  // `state` is what is true now (LOST when the heartbeat stopped); `recorded_state` what the runtime last wrote.
  if (options.json) process.stdout.write(`${JSON.stringify({ ok: true, store: where.url, ...status, state: live.state, recorded_state: status.state, heartbeat_age_seconds: live.heartbeatAgeSeconds, ...(launchFailure ? { launch_failure: launchFailure } : {}) })}\n`);
  else process.stdout.write(formatStatus(status, where.url, Date.now(), launchFailure));
  return EXIT.ok;
}

const KIND: Record<LaunchFailure["kind"], string> = {
  quota: "vCPU quota",
  image: "AMI",
  disk: "root volume",
  permission: "permission",
  capacity: "capacity",
  transient: "transient",
  unknown: "unrecognised",
};

/** The supervisor's record of a launch that cannot succeed: AWS's message and the fix. */
export function formatLaunchFailure(f: LaunchFailure): string {
  const paint = style();
  return [
    `launch     ${paint.red(`failed: ${KIND[f.kind]}`)} in ${f.group} at ${f.at}; every group is at zero, no fallback`,
    `  aws      ${f.message}`,
    `  fix      ${f.fix}`,
  ].join("\n") + "\n";
}

export function formatStatus(s: JobStatus, storeUrl: string, now = Date.now(), launchFailure?: LaunchFailure): string {
  const paint = style();
  const live = liveState(s, now);
  const colour = s.state === "SUCCEEDED" ? paint.green : s.state === "FAILED" || live.state === "LOST" ? paint.red : s.state === "INTERRUPTED" ? paint.yellow : paint.bold;
  const duration = (seconds: number) => (seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`);
  const ago = (iso: string) => `${duration(Math.max(0, Math.round((now - Date.parse(iso)) / 1000)))} ago`;
  const state =
    live.state === "LOST"
      ? `${colour("LOST")} (recorded ${s.state}, but no heartbeat for ${duration(live.heartbeatAgeSeconds)}: its runtime was killed, crashed or lost its machine; run it again to resume, nothing finished is lost)`
      : colour(s.state);
  const lines = [
    `job        ${s.job}: ${state}${s.exit_code !== undefined ? ` (exit ${s.exit_code})` : ""}`,
    ...(s.items.total > 0 ? [`items      ${s.items.done}/${s.items.total} done, ${s.items.failed} failed, ${s.items.total - s.items.done - s.items.failed} pending`] : []),
    `attempts   ${s.attempts}${s.run_seconds !== undefined ? `, ${duration(s.run_seconds)} running in all` : ""}`,
    `started    ${s.started_at} (${ago(s.started_at)})`,
    `heartbeat  ${s.heartbeat_at} (${ago(s.heartbeat_at)}) by ${s.holder}`,
    ...(s.finished_at ? [`finished   ${s.finished_at}`] : []),
    ...(s.stop_reason ? [`stopped    ${s.stop_reason}`] : []),
    ...(s.last_error ? [`last error ${s.last_error}`] : []),
    ...(launchFailure ? [formatLaunchFailure(launchFailure).trimEnd()] : []),
    `store      ${storeUrl}`,
  ];
  return `${lines.join("\n")}\n`;
}

export async function logsCommand(specFile: string, options: { store?: string; attempt?: string }): Promise<number> {
  const where = storeOf(specFile, options.store);
  if (typeof where === "number") return where;
  const store = openStore(where.url);
  const logs = await store.list("logs/");
  if (logs.length === 0) {
    process.stderr.write(`job ${where.job} has no logs in ${where.url} yet\n`);
    return EXIT.error;
  }
  let key = logs[logs.length - 1];
  if (options.attempt !== undefined) {
    const wanted = `logs/run-${options.attempt.padStart(4, "0")}.log`;
    if (!logs.includes(wanted)) throw new CliError(`no log for attempt ${options.attempt}; attempts with logs: ${logs.map((k) => Number(/(\d+)\.log$/.exec(k)?.[1])).join(", ")}`);
    key = wanted;
  }
  const object = await store.get(key);
  process.stdout.write(object?.body ?? "");
  return EXIT.ok;
}
