/**
 * `spotjob status <spec> [--store URL] [--json]`: what the runtime and the
 * supervisor keep in the job's store, wherever it runs.
 */
import { formatUsd } from "../../core/catalog/format";
import { openStore } from "../../runtime/store/open";
import { liveState, readStatus, readSupervisorRecord, type JobStatus, type LaunchFailure } from "../../runtime/status";
import { formatDuration } from "../render/duration";
import { EXIT } from "../exit-codes";
import { style } from "../render/style";
import { storeOf } from "./job-home";

export async function statusCommand(specFile: string, options: { store?: string; json?: boolean }): Promise<number> {
  const where = storeOf(specFile, options.store);
  if (typeof where === "number") return where;
  const store = openStore(where.url);
  const [status, supervisor] = await Promise.all([readStatus(store), readSupervisorRecord(store)]);
  const launchFailure = supervisor.launchFailure;
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
  const cost = costOf(status, supervisor.spentUsd, where.spec.cost.max_total_budget);
  if (options.json) process.stdout.write(`${JSON.stringify({ ok: true, store: where.url, ...status, state: live.state, recorded_state: status.state, heartbeat_age_seconds: live.heartbeatAgeSeconds, cost, ...(launchFailure ? { launch_failure: launchFailure } : {}) })}\n`);
  else process.stdout.write(formatStatus(status, where.url, Date.now(), launchFailure, cost));
  return EXIT.ok;
}

export interface Cost {
  spent_usd: number;
  budget_usd: number;
  left_usd: number;
  /** Where the figure comes from: the cloud job's supervisor, or nothing billed (this machine). */
  source: "supervisor" | "this machine";
}

/** Spend so far: the supervisor's (instances × price × time) for a cloud job; nothing for one run on this machine. */
export function costOf(status: JobStatus, supervisorSpentUsd: number | undefined, budgetUsd: number): Cost {
  const local = status.instance?.market === "local" || (status.instance === undefined && supervisorSpentUsd === undefined);
  const spent = local ? 0 : (supervisorSpentUsd ?? 0);
  return { spent_usd: round2(spent), budget_usd: budgetUsd, left_usd: round2(Math.max(0, budgetUsd - spent)), source: local ? "this machine" : "supervisor" };
}

const round2 = (usd: number) => Math.round(usd * 100) / 100;

const KIND: Record<LaunchFailure["kind"], string> = {
  quota: "vCPU quota",
  image: "AMI",
  disk: "root volume",
  permission: "permission",
  capacity: "capacity",
  transient: "transient",
  unknown: "unrecognised",
};

/** The supervisor's record of a launch that cannot succeed: the cloud's message and the fix. */
export function formatLaunchFailure(f: LaunchFailure): string {
  const paint = style();
  return [
    `launch     ${paint.red(`failed: ${KIND[f.kind]}`)} in ${f.group} at ${f.at}; every group is at zero, no fallback`,
    `  ${(f.cloud ?? "aws").padEnd(9)}${f.message}`,
    `  fix      ${f.fix}`,
  ].join("\n") + "\n";
}

export function formatStatus(s: JobStatus, storeUrl: string, now = Date.now(), launchFailure?: LaunchFailure, cost?: Cost): string {
  const paint = style();
  const live = liveState(s, now);
  const colour = s.state === "SUCCEEDED" ? paint.green : s.state === "FAILED" || live.state === "LOST" ? paint.red : s.state === "INTERRUPTED" || s.state === "CANCELLED" ? paint.yellow : paint.bold;
  const ago = (iso: string) => `${formatDuration(Math.max(0, Math.round((now - Date.parse(iso)) / 1000)))} ago`;
  const state =
    live.state === "LOST"
      ? `${colour("LOST")} (recorded ${s.state}, but no heartbeat for ${formatDuration(live.heartbeatAgeSeconds)}: its runtime was killed, crashed or lost its machine; run it again to resume, nothing finished is lost)`
      : colour(s.state);
  const lines = [
    `job        ${s.job}: ${state}${s.exit_code !== undefined ? ` (exit ${s.exit_code})` : ""}`,
    ...(s.items.total > 0 ? [`items      ${s.items.done}/${s.items.total} done, ${s.items.failed} failed, ${s.items.total - s.items.done - s.items.failed} pending`] : []),
    `attempts   ${s.attempts}${s.run_seconds !== undefined ? `, ${formatDuration(s.run_seconds)} running in all` : ""}`,
    ...(s.instance ? [`instance   ${s.instance.market === "local" ? `this machine (${s.instance.type})` : `${s.instance.type}, ${s.instance.market}${s.instance.id ? ` (${s.instance.id}${s.instance.region ? `, ${s.instance.region}` : ""})` : ""}`}`] : []),
    ...(s.market_seconds && Object.keys(s.market_seconds).length ? [`time       ${Object.entries(s.market_seconds).map(([market, seconds]) => `${formatDuration(seconds)} ${market === "local" ? "on this machine" : `on ${market}`}`).join(", ")}`] : []),
    ...(cost ? [`cost       ${cost.source === "this machine" ? "$0.00 (runs on this machine: nothing billed)" : `${formatUsd(cost.spent_usd)} so far (the supervisor's count)`}; budget ${formatUsd(cost.budget_usd)}, ${formatUsd(cost.left_usd)} left`] : []),
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
