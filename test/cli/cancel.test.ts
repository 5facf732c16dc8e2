/**
 * `spotjob cancel`, end to end with the built CLI: a running sweep saves its
 * progress and ends CANCELLED (exit 6), nothing is lost, and `spotjob run`
 * resumes it; with no runtime running, cancel records it itself.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundles } from "../helpers/shared";
import { until } from "../helpers/wait";

const cli = bundles().cli;

/** A 6-item sweep whose items n >= 2 wait for a `release` file: the test decides when the job can finish. */
function job() {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-cancel-"));
  writeFileSync(
    join(dir, "job.yaml"),
    [
      "provider: local",
      "name: stoppable",
      "sweep:",
      "  grid: {n: [0, 1, 2, 3, 4, 5]}",
      '  key: "n{n}"',
      "  command: |",
      "    echo {n} >> executions",
      "    if [ {n} -ge 2 ]; then while [ ! -e release ]; do sleep 0.05; done; fi",
      '    echo "{}" > "$SWEEP_RESULT"',
      "  parallel: 2",
      "",
    ].join("\n"),
  );
  const env = { ...process.env, NO_COLOR: "1", SPOTJOB_CANCEL_POLL_MS: "200" };
  const cmd = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", env, timeout: 60_000 });
    return { status: r.status, output: r.stdout + r.stderr };
  };
  const start = (...args: string[]) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    return { child, output: () => output, exited };
  };
  const home = join(dir, ".spotjob", "stoppable");
  const status = () => (existsSync(join(home, "status.json")) ? JSON.parse(readFileSync(join(home, "status.json"), "utf8")) : undefined);
  const executions = () => (existsSync(join(dir, "executions")) ? readFileSync(join(dir, "executions"), "utf8").trim().split("\n") : []);
  return { dir, home, cmd, start, status, executions };
}

describe("spotjob cancel", () => {
  it("a running job saves its progress and ends CANCELLED; nothing is lost and run resumes only what was not done", async () => {
    const j = job();
    const run = j.start("run", "job.yaml");
    await until("two items done and two running", () => j.status()?.items.done === 2 && j.executions().length === 4, 30_000, run.output);

    const cancel = j.cmd("cancel", "job.yaml");
    expect(cancel.status, cancel.output).toBe(0);
    expect(cancel.output).toMatch(/cancel requested in .* \(cancelled by .*@.* at .*\)/);
    expect(cancel.output).toMatch(/job stoppable: CANCELLED by its runtime after saving progress \(2\/6 items done\)/);
    expect(await run.exited).toBe(6);
    expect(run.output()).toMatch(/CANCELLED: cancelled by .* \(stopped with 2\/6 items done\); progress is saved: `spotjob run` resumes it/);
    expect(j.status()).toMatchObject({ state: "CANCELLED", exit_code: 6, items: { done: 2, total: 6 } });
    expect(j.status().stop_reason).toMatch(/^cancelled by /);
    expect(existsSync(join(j.home, "cancel.json"))).toBe(false);
    const shown = j.cmd("status", "job.yaml");
    expect(shown.output).toMatch(/job {8}stoppable: CANCELLED \(exit 6\)/);

    writeFileSync(join(j.dir, "release"), "");
    const resumed = j.cmd("run", "job.yaml");
    expect(resumed.status, resumed.output).toBe(0);
    // The two finished items were not run again; the two cut short and the two never started were.
    expect(j.executions().slice(4).sort()).toEqual(["2", "3", "4", "5"]);
    expect(j.status()).toMatchObject({ state: "SUCCEEDED", items: { done: 6, total: 6 } });
  }, 120_000);

  it("--no-wait returns at once; the runtime carries the request out", async () => {
    const j = job();
    const run = j.start("run", "job.yaml");
    await until("the job to run", () => j.status()?.state === "RUNNING" && j.executions().length >= 3, 30_000, run.output);
    const cancel = j.cmd("cancel", "job.yaml", "--no-wait");
    expect(cancel.status, cancel.output).toBe(0);
    expect(cancel.output).toMatch(/is running the job: it checks for the request every few seconds/);
    expect(await run.exited).toBe(6);
    expect(j.status().state).toBe("CANCELLED");
  }, 120_000);

  it("with no runtime running, cancel records CANCELLED itself; a finished job has nothing to cancel", async () => {
    const j = job();
    const run = j.start("run", "job.yaml");
    await until("two items done", () => j.status()?.items.done === 2, 30_000, run.output);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(75);

    const cancel = j.cmd("cancel", "job.yaml");
    expect(cancel.status, cancel.output).toBe(0);
    expect(cancel.output).toMatch(/job stoppable: CANCELLED \(no runtime was running it\)\. Progress is kept; `spotjob run job.yaml` resumes it/);
    expect(j.status()).toMatchObject({ state: "CANCELLED", items: { done: 2, total: 6 } });
    expect(existsSync(join(j.home, "cancel.json"))).toBe(false);
    const again = j.cmd("cancel", "job.yaml");
    expect(again.output).toMatch(/job stoppable has already ended \(CANCELLED\): nothing to cancel/);
    expect(existsSync(join(j.home, "cancel.json"))).toBe(false);
  }, 120_000);

  it("a request that stands when a runtime starts is carried out before anything runs", () => {
    const j = job();
    execFileSync("mkdir", ["-p", j.home]);
    writeFileSync(join(j.home, "cancel.json"), JSON.stringify({ requested_at: "2026-12-02T10:00:00.000Z", by: "ops@desk" }));
    const run = j.cmd("run", "job.yaml");
    expect(run.status, run.output).toBe(6);
    expect(run.output).toMatch(/CANCELLED: cancelled by ops@desk at 2026-12-02T10:00:00.000Z: nothing run/);
    expect(j.executions()).toEqual([]);
    expect(existsSync(join(j.home, "cancel.json"))).toBe(false);
  }, 60_000);

  it("says how to use --timeout when it is not a number", () => {
    const j = job();
    const bad = j.cmd("cancel", "job.yaml", "--timeout", "soon");
    expect(bad.status).toBe(1);
    expect(bad.output).toMatch(/--timeout takes a number of seconds, got soon/);
  });
});
