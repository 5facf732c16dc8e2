/**
 * `spotjob jobs [ROOT] [--json]`: every job under a store root — `.spotjob/`
 * here (where `spotjob run` keeps jobs), a directory, `s3://bucket/jobs`
 * (where AWS stacks keep theirs) or `gs://bucket/prefix` — with its state as
 * it is now (LOST when the heartbeat stopped), progress, age and cost so far.
 */
import { formatUsd } from "../../core/catalog/format";
import { canonicalStoreUrl } from "../../runtime/local-home";
import { liveState, readStatus, readSupervisorRecord, STATUS_KEY, type JobStatus } from "../../runtime/status";
import { openStore } from "../../runtime/store/open";
import { EXIT } from "../exit-codes";
import { formatDuration } from "../render/duration";
import { renderTable } from "../render/table";
import { costOf } from "./status";

export interface JobRow {
  job: string;
  store: string;
  /** As it is now: LOST when a running job's heartbeat stopped. */
  state: string;
  items: JobStatus["items"];
  /** Seconds since the job last did anything (its heartbeat, or its end). */
  idle_seconds: number;
  spent_usd: number;
  instance?: JobStatus["instance"];
}

export async function jobsCommand(rootUrl: string | undefined, options: { json?: boolean }): Promise<number> {
  const root = canonicalStoreUrl(rootUrl ?? ".spotjob");
  const names = jobNames(await openStore(root).list(""));
  const rows: JobRow[] = [];
  for (const name of names) {
    const store = openStore(`${root}/${name}`);
    const [status, supervisor] = await Promise.all([readStatus(store), readSupervisorRecord(store)]);
    if (!status) continue;
    const now = Date.now();
    rows.push({
      job: status.job,
      store: store.url,
      state: liveState(status, now).state,
      items: status.items,
      idle_seconds: Math.max(0, Math.round((now - Date.parse(status.finished_at ?? status.heartbeat_at)) / 1000)),
      spent_usd: costOf(status, supervisor.spentUsd, 0).spent_usd,
      ...(status.instance ? { instance: status.instance } : {}),
    });
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ok: true, root, jobs: rows })}\n`);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    process.stderr.write(`no jobs in ${root}: a job's folder appears there once it has run (\`spotjob run <spec>\` keeps jobs in .spotjob/; an AWS stack in s3://<bucket>/jobs)\n`);
    return EXIT.ok;
  }
  process.stdout.write(`${formatJobs(rows)}\n`);
  return EXIT.ok;
}

/** Job folders directly under the root: those holding a status (history/ copies and machine caches are deeper). */
export function jobNames(keys: string[]): string[] {
  const suffix = `/${STATUS_KEY}`;
  return [...new Set(keys.filter((k) => k.endsWith(suffix) && k.indexOf("/") === k.length - suffix.length).map((k) => k.slice(0, -suffix.length)))].sort();
}

export function formatJobs(rows: JobRow[]): string {
  return renderTable(
    ["JOB", "STATE", "PROGRESS", "IDLE", "COST", "ON", "STORE"],
    rows.map((r) => [
      r.job,
      r.state,
      r.items.total ? `${r.items.done}/${r.items.total}${r.items.failed ? ` (${r.items.failed} failed)` : ""}` : "-",
      formatDuration(r.idle_seconds, "compact"),
      formatUsd(r.spent_usd),
      r.instance ? (r.instance.market === "local" ? "this machine" : `${r.instance.type} ${r.instance.market}`) : "-",
      r.store,
    ]),
  );
}
