/**
 * `spotjob jobs [ROOT] [--json]`: every job under a store root — `.spotjob/`
 * here (where `spotjob run` keeps jobs), a directory, `s3://bucket/jobs`
 * (where AWS stacks keep theirs) or `gs://bucket/jobs` (GCP stacks) — with its state as
 * it is now (LOST when the heartbeat stopped), progress, age and cost so far.
 */
import { formatUsd } from "../../core/catalog/format";
import { canonicalStoreUrl } from "../../runtime/local-home";
import { liveState, readStatus, readSupervisorRecord, type JobStatus } from "../../runtime/status";
import { openStore } from "../../runtime/store/open";
import { inParallel } from "../../runtime/store/transfer";
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

/** Job folders read at once: a bucket with hundreds of jobs is read in seconds, not one round trip after another. */
const READS_AT_ONCE = 8;

export async function jobsCommand(rootUrl: string | undefined, options: { json?: boolean }): Promise<number> {
  const root = canonicalStoreUrl(rootUrl ?? ".spotjob");
  // One delimiter listing names the folders; listing every key would read each job's snapshot blobs and history too.
  const folders = await openStore(root).listFolders("");
  const found = new Map<string, JobRow>();
  await inParallel(folders, READS_AT_ONCE, async (name) => {
    const store = openStore(`${root}/${name}`);
    const [status, supervisor] = await Promise.all([readStatus(store), readSupervisorRecord(store)]);
    // A folder without a status is not a job (this machine's cache, a half-deleted job).
    if (!status) return;
    const now = Date.now();
    found.set(name, {
      job: status.job,
      store: store.url,
      state: liveState(status, now).state,
      items: status.items,
      idle_seconds: Math.max(0, Math.round((now - Date.parse(status.finished_at ?? status.heartbeat_at)) / 1000)),
      spent_usd: costOf(status, supervisor.spentUsd, 0).spent_usd,
      ...(status.instance ? { instance: status.instance } : {}),
    });
  });
  const rows = folders.flatMap((name) => found.get(name) ?? []);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ ok: true, root, jobs: rows })}\n`);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    process.stderr.write(`no jobs in ${root}: a job's folder appears there once it has run (\`spotjob run <spec>\` keeps jobs in .spotjob/; an AWS stack in s3://<bucket>/jobs, a GCP stack in gs://<bucket>/jobs)\n`);
    return EXIT.ok;
  }
  process.stdout.write(`${formatJobs(rows)}\n`);
  return EXIT.ok;
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
