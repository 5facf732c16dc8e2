/**
 * The commands an operator reaches for, with the built CLI: `spotjob jobs`
 * lists every job in a store root (a local home, S3 through moto_server and GCS through fake-gcs-server)
 * and `spotjob logs -f` follows a running job to its end.
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createGcsBucket, emulatorEnv } from "../helpers/emulators";
import { bundles, sharedGcs, sharedMoto, unique } from "../helpers/shared";
import { until } from "../helpers/wait";

const cli = bundles().cli;
const moto = sharedMoto();
const gcs = sharedGcs();

/** A folder with job `name`: `items` sweep items, those from `gateFrom` on waiting for a `release` file. */
function folder() {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-operator-"));
  const spec = (name: string, items: number, gateFrom = items) => {
    writeFileSync(
      join(dir, `${name}.yaml`),
      [
        "provider: local",
        `name: ${name}`,
        "sweep:",
        `  grid: {n: [${Array.from({ length: items }, (_, i) => i).join(", ")}]}`,
        '  key: "n{n}"',
        "  command: |",
        '    echo "item {n} of ' + name + ' says hello"',
        `    if [ {n} -ge ${gateFrom} ]; then while [ ! -e release ]; do sleep 0.05; done; fi`,
        '    echo "{}" > "$SWEEP_RESULT"',
        'run: echo "all done for ' + name + '"',
        "",
      ].join("\n"),
    );
    return `${name}.yaml`;
  };
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, NO_COLOR: "1", SPOTJOB_LOGS_POLL_MS: "100", ...extra });
  const cmd = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", env: env(extra), timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, output: r.stdout + r.stderr };
  };
  const start = (args: string[]) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: env() });
    let stdout = "";
    let output = "";
    child.stdout!.on("data", (d) => ((stdout += d), (output += d)));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    return { child, stdout: () => stdout, output: () => output, exited };
  };
  const status = (name: string) => {
    const file = join(dir, ".spotjob", name, "status.json");
    return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
  };
  return { dir, spec, cmd, start, status };
}

describe("spotjob jobs", () => {
  it("lists every job in .spotjob/ with its state, progress and cost; --json has the same rows", async () => {
    const f = folder();
    expect(f.cmd(["run", f.spec("alpha", 3)]).status).toBe(0);
    const beta = f.start(["run", f.spec("beta", 4, 1)]);
    await until("beta to have one item done", () => f.status("beta")?.items.done === 1, 30_000, beta.output);
    beta.child.kill("SIGINT");
    expect(await beta.exited).toBe(75);

    const table = f.cmd(["jobs"]);
    expect(table.status, table.output).toBe(0);
    const lines = table.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^JOB\s+STATE\s+PROGRESS\s+IDLE\s+COST\s+ON\s+STORE$/);
    expect(lines[1]).toMatch(new RegExp(`^alpha\\s+SUCCEEDED\\s+3/3\\s+\\d+s\\s+\\$0\\.00\\s+this machine\\s+${join(f.dir, ".spotjob", "alpha")}$`));
    expect(lines[2]).toMatch(/^beta\s+INTERRUPTED\s+1\/4\s+\d+s\s+\$0\.00\s+this machine\s+/);
    expect(lines).toHaveLength(3);

    const json = JSON.parse(f.cmd(["jobs", "--json"]).stdout) as { ok: boolean; root: string; jobs: Array<{ job: string; state: string; items: { done: number; total: number }; spent_usd: number }> };
    expect(json.ok).toBe(true);
    expect(json.root).toBe(join(f.dir, ".spotjob"));
    expect(json.jobs.map((j) => [j.job, j.state, j.items.done, j.items.total, j.spent_usd])).toEqual([
      ["alpha", "SUCCEEDED", 3, 3, 0],
      ["beta", "INTERRUPTED", 1, 4, 0],
    ]);
  }, 120_000);

  it("says where jobs would be when a root has none", () => {
    const f = folder();
    const empty = f.cmd(["jobs"]);
    expect(empty.status).toBe(0);
    expect(empty.output).toMatch(/no jobs in .*\.spotjob: a job's folder appears there once it has run/);
  });

  it.runIf(moto)("lists the jobs under an s3:// root", async () => {
    const bucket = unique("operator");
    const env = emulatorEnv(moto);
    await new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: bucket }));
    const f = folder();
    expect(f.cmd(["run", f.spec("gamma", 2), "--store", `s3://${bucket}/jobs/gamma`], env).status).toBe(0);
    expect(f.cmd(["run", f.spec("delta", 1), "--store", `s3://${bucket}/jobs/delta`], env).status).toBe(0);
    const listed = f.cmd(["jobs", `s3://${bucket}/jobs/`], env);
    expect(listed.status, listed.output).toBe(0);
    const rows = listed.stdout.trim().split("\n").slice(1);
    expect(rows.map((r) => r.split(/\s+/).slice(0, 3))).toEqual([
      ["delta", "SUCCEEDED", "1/1"],
      ["gamma", "SUCCEEDED", "2/2"],
    ]);
    expect(rows[0]).toMatch(new RegExp(`s3://${bucket}/jobs/delta$`));
  }, 120_000);

  it.runIf(gcs)("lists the jobs under a gs:// root, and nothing from a folder without a status", async () => {
    const bucket = unique("operator");
    const env = emulatorEnv(undefined, gcs);
    await createGcsBucket(gcs!, bucket);
    const f = folder();
    expect(f.cmd(["run", f.spec("epsilon", 2), "--store", `gs://${bucket}/jobs/epsilon`], env).status).toBe(0);
    // Not a job: a folder with objects but no status.json.
    expect((await fetch(`${gcs!.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=jobs/stray/notes.txt`, { method: "POST", body: "x" })).ok).toBe(true);
    const listed = f.cmd(["jobs", `gs://${bucket}/jobs`], env);
    expect(listed.status, listed.output).toBe(0);
    const rows = listed.stdout.trim().split("\n").slice(1);
    expect(rows.map((r) => r.split(/\s+/).slice(0, 3))).toEqual([["epsilon", "SUCCEEDED", "2/2"]]);
    expect(rows[0]).toMatch(new RegExp(`gs://${bucket}/jobs/epsilon$`));
  }, 120_000);
});

describe("spotjob logs -f", () => {
  it("follows a running job's output as it comes, and stops at the job's end with everything printed", async () => {
    const f = folder();
    const spec = f.spec("follow", 3, 1);
    const follower = f.start(["logs", spec, "-f"]);
    await until("the follower to wait for a log", () => /waiting for job follow to start writing its log/.test(follower.output()), 30_000, follower.output);
    const run = f.start(["run", spec]);
    // Item 0 finishes at once; the others wait: its line arrives while the job still runs.
    await until("item 0's line to be followed", () => /item 0 of follow says hello/.test(follower.stdout()), 30_000, follower.output);
    expect(f.status("follow").state).toBe("RUNNING");
    writeFileSync(join(f.dir, "release"), "");
    expect(await run.exited).toBe(0);
    expect(await follower.exited).toBe(0);
    for (const n of [0, 1, 2]) expect(follower.stdout()).toContain(`item ${n} of follow says hello`);
    expect(follower.stdout()).toContain("all done for follow");
    expect(follower.output()).toMatch(/--- job follow is SUCCEEDED: no more output ---/);
    // What it printed is the log as the store keeps it, nothing doubled.
    expect(follower.stdout()).toBe(f.cmd(["logs", spec]).stdout);
  }, 120_000);
});
