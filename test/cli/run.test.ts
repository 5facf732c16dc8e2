/**
 * `spotjob run`, `status` and `logs` as users run them: the built CLI, a real
 * sweep, kill -9 and Ctrl-C, then the same command again.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundles } from "../helpers/shared";
import { until } from "../helpers/wait";

const cli = bundles().cli;

/** A job folder with a sweep whose every execution is appended to `executions`. */
function job(items: number, seconds = 0.3, extra = "", extraEnv: NodeJS.ProcessEnv = {}, gated = false) {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-run-"));
  const spec = join(dir, "job.yaml");
  writeFileSync(
    spec,
    [
      "version: 1",
      "provider: local",
      "name: cli-test",
      "sweep:",
      `  grid: {n: [${Array.from({ length: items }, (_, i) => i).join(", ")}]}`,
      '  key: "n{n}"',
      "  command: |",
      "    echo {n} >> executions",
      '    echo "item {n} says hello"',
      `    sleep ${seconds}`,
      // A gated item finishes only once the test creates `release`: a slow machine cannot outrun the test.
      ...(gated ? ["    while [ ! -e release ]; do sleep 0.05; done"] : []),
      '    echo "{\\"square\\": $(( {n} * {n} ))}" > "$SWEEP_RESULT"',
      "  parallel: 2",
      'run: echo "aggregated $(wc -l < "$SWEEP_RESULTS") results"',
      "cost: {max_cost_per_hour: 0, max_total_budget: 0}",
      extra,
    ].join("\n"),
  );
  const env = { ...process.env, NO_COLOR: "1", ...extraEnv };
  const cmd = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8", env, timeout: 60_000 });
  const start = (...args: string[]): ChildProcess & { output: () => string } => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    return Object.assign(child, { output: () => output });
  };
  const status = () => {
    const file = join(dir, ".spotjob", "cli-test", "status.json");
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { state: string; items: { done: number; failed: number; total: number }; attempts: number }) : undefined;
  };
  const executions = () => (existsSync(join(dir, "executions")) ? readFileSync(join(dir, "executions"), "utf8").trim().split("\n") : []);
  return { dir, spec, cmd, start, status, executions };
}


const exited = (child: ChildProcess) => new Promise<number | null>((done) => (child.exitCode !== null ? done(child.exitCode) : child.on("exit", (code) => done(code))));

describe("spotjob run", () => {
  it("resumes after kill -9 without repeating a finished item, then status and logs report it", async () => {
    const j = job(10);
    expect(j.cmd("status", "job.yaml").status).toBe(1);
    expect(j.cmd("status", "job.yaml").stderr).toMatch(/has not run yet.*\n.*spotjob run job\.yaml/);

    const first = j.start("run", "job.yaml");
    await until("four items done", () => (j.status()?.items.done ?? 0) >= 4);
    first.kill("SIGKILL");
    await exited(first);
    // What the killed runtime had made durable: its journal (each record fsynced before it counts). The items it had
    // started run on in their own process groups until the next run stops them, so a count of starts taken here
    // would race them.
    const journal = join(j.dir, ".spotjob", "cli-test", "machine", "journal.jsonl");
    const records = readFileSync(journal, "utf8").split("\n").flatMap((l) => {
      try {
        return [JSON.parse(l) as { key: string; status: string }];
      } catch {
        return []; // a torn last line is not a record (the journal cuts it off too)
      }
    });
    const doneAtKill = new Set(records.filter((r) => r.status === "done").map((r) => r.key));

    const second = j.cmd("run", "job.yaml");
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr + second.stdout).toMatch(/taking over the lease.*has exited/);
    expect(second.stderr + second.stdout).toMatch(/SUCCEEDED: all 10 items done/);

    const runs = j.executions();
    expect(new Set(runs).size).toBe(10);
    // Only items in flight at the kill ran twice: none the journal had as done, at most `parallel` of them.
    const twice = [...new Set(runs.filter((n, i) => runs.indexOf(n) !== i))].map((n) => `n${n}`);
    expect(twice.filter((key) => doneAtKill.has(key))).toEqual([]);
    expect(twice.length).toBeLessThanOrEqual(2);
    expect(doneAtKill.size).toBeGreaterThanOrEqual(4);

    const results = readFileSync(join(j.dir, ".spotjob", "cli-test", "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(results.map((r) => r.key).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `n${i}`).sort());
    expect(results.find((r) => r.key === "n7").result).toEqual({ square: 49 });

    const text = j.cmd("status", "job.yaml");
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/cli-test: SUCCEEDED \(exit 0\)/);
    expect(text.stdout).toMatch(/items +10\/10 done, 0 failed, 0 pending/);
    expect(text.stdout).toMatch(/attempts +2/);
    const json = JSON.parse(j.cmd("status", "job.yaml", "--json").stdout);
    expect(json).toMatchObject({ ok: true, job: "cli-test", state: "SUCCEEDED", attempts: 2, items: { done: 10, failed: 0, total: 10 } });

    const logs = j.cmd("logs", "job.yaml");
    expect(logs.status).toBe(0);
    expect(logs.stdout).toMatch(/aggregated 10 results/);
    expect(j.cmd("logs", "job.yaml", "--attempt", "1").stdout).toMatch(/item \d says hello/);
    expect(j.cmd("logs", "job.yaml", "--attempt", "9").stderr).toMatch(/no log for attempt 9; attempts with logs: 1, 2/);
  }, 90_000);

  it("Ctrl-C stops cleanly (exit 75, INTERRUPTED) and the same command resumes", async () => {
    const j = job(8);
    const first = j.start("run", "job.yaml");
    await until("two items done", () => (j.status()?.items.done ?? 0) >= 2);
    first.kill("SIGINT");
    expect(await exited(first)).toBe(75);
    expect(first.output()).toMatch(/INTERRUPTED: stopped with \d\/8 items done/);
    expect(j.status()!.state).toBe("INTERRUPTED");

    const second = j.cmd("run", "job.yaml");
    expect(second.status).toBe(0);
    expect(new Set(j.executions()).size).toBe(8);
    expect(j.executions().length).toBeLessThanOrEqual(10);
  }, 60_000);

  it("max_runtime_minutes stops the job (progress saved) and fails it saying so; earlier attempts' running time counts", () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-cap-"));
    writeFileSync(join(dir, "job.yaml"), ["provider: local", "name: capped", "max_runtime_minutes: 60", 'run: echo started; sleep 600', ""].join("\n"));
    // Earlier attempts ran 59 min 57 s: 3 s are left (a fresh store's job would have the whole hour).
    const home = join(dir, ".spotjob", "capped");
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "status.json"), JSON.stringify({ job: "capped", state: "INTERRUPTED", holder: "h", items: { done: 0, failed: 0, total: 0 }, attempts: 1, started_at: "2026-12-01T00:00:00.000Z", heartbeat_at: "2026-12-01T01:00:00.000Z", run_seconds: 3597 }));
    const t0 = Date.now();
    const run = spawnSync(process.execPath, [cli, "run", "job.yaml"], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 });
    const output = run.stdout + run.stderr;
    expect(run.status, output).toBe(1);
    expect(Date.now() - t0).toBeLessThan(60_000); // not the 600 s the job asked for
    expect(output).toMatch(/FAILED: max_runtime_minutes \(60\) reached \(stopped during run\); progress is saved: raise max_runtime_minutes and run again to go on/);
    const status = JSON.parse(readFileSync(join(home, "status.json"), "utf8")) as { state: string; attempts: number; run_seconds: number; last_error: string };
    expect(status).toMatchObject({ state: "FAILED", attempts: 2 });
    expect(status.run_seconds).toBeGreaterThanOrEqual(3600);
    expect(status.last_error).toMatch(/max_runtime_minutes \(60\) reached/);
  }, 120_000);

  it("a finished job is not run again with the same spec; --rerun runs it again, and so does a changed spec", () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-rerun-"));
    const write = (text: string) => writeFileSync(join(dir, "job.yaml"), ["provider: local", "name: once", `run: echo ${text} >> runs`, ""].join("\n"));
    const run = (...flags: string[]) => spawnSync(process.execPath, [cli, "run", "job.yaml", ...flags], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
    const runs = () => readFileSync(join(dir, "runs"), "utf8").trim().split("\n");
    write("first");
    expect(run().status).toBe(0);
    const again = run();
    expect(again.status).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/SUCCEEDED: already finished \(.*\) with this spec: nothing run; `--rerun` runs it again/);
    expect(runs()).toEqual(["first"]);
    expect(run("--rerun").status).toBe(0);
    expect(runs()).toEqual(["first", "first"]);
    write("second");
    expect(run().status).toBe(0);
    expect(runs()).toEqual(["first", "first", "second"]);
  }, 120_000);

  it("a second instance of the same job exits (--exit-if-busy) naming the holder, or waits and finds the work done", async () => {
    const j = job(6, 0.1, "", {}, true);
    const first = j.start("run", "job.yaml");
    await until("the first instance to run", () => j.status()?.state === "RUNNING");

    const busy = j.cmd("run", "job.yaml", "--exit-if-busy");
    expect(busy.status).toBe(4);
    expect(busy.stderr + busy.stdout).toMatch(/another instance \(.*:\d+:\d+\.\w+\) holds this job's lease until .*; exiting without writing anything/);

    const waiter = j.start("run", "job.yaml");
    await until("the waiter to say so", () => /waiting: another instance \(.*\) holds this job's lease/.test(waiter.output()));
    writeFileSync(join(j.dir, "release"), "");
    expect(await exited(first)).toBe(0);
    expect(await exited(waiter)).toBe(0);
    // The waiter took over after the first finished, found the job finished with this spec, and ran nothing.
    expect(j.executions().length).toBe(6);
    expect(waiter.output()).toMatch(/SUCCEEDED: already finished \(.*\) with this spec: nothing run; `--rerun` runs it again/);
    expect(j.status()!.attempts).toBe(1);
  }, 60_000);

  it("a failing item is recorded failed with its exit code, the job fails, and the next run retries only it", async () => {
    const j = job(4, 0.05);
    writeFileSync(join(j.dir, "fail-n2"), "");
    writeFileSync(
      j.spec,
      readFileSync(j.spec, "utf8").replace("command: |\n", 'command: |\n    if [ {n} = 2 ] && [ -e fail-n2 ]; then echo "n2 broke" >&2; exit 7; fi\n'),
    );
    const failed = j.cmd("run", "job.yaml");
    expect(failed.status).toBe(1);
    // Which item failed, not just how many, and where to read why.
    expect(failed.stderr + failed.stdout).toMatch(/1 of 4 items failed after \d attempt\(s\): n2; their exit codes and output tails are in results\.jsonl/);
    expect(j.status()).toMatchObject({ state: "FAILED", items: { done: 3, failed: 1, total: 4 } });
    expect(j.cmd("status", "job.yaml").stdout).toMatch(/3\/4 done, 1 failed, 0 pending/);

    execFileSync("rm", [join(j.dir, "fail-n2")]);
    const before = j.executions().length;
    expect(j.cmd("run", "job.yaml").status).toBe(0);
    expect(j.executions().slice(before)).toEqual(["2"]);
  }, 60_000);

  it("parallel: gpus runs one item per GPU, each item seeing only its own device", async () => {
    // Three devices as CUDA_VISIBLE_DEVICES names them; a GPU machine gives nvidia-smi's list instead.
    const j = job(9, 0.2, "", { CUDA_VISIBLE_DEVICES: "0,1,2" });
    writeFileSync(
      j.spec,
      readFileSync(j.spec, "utf8")
        .replace("  parallel: 2\n", "  parallel: gpus\n")
        .replace("command: |\n", 'command: |\n    echo "$CUDA_VISIBLE_DEVICES start $(date +%s%N)" >> devices\n    trap \'echo "$CUDA_VISIBLE_DEVICES end $(date +%s%N)" >> devices\' EXIT\n'),
    );
    expect(j.cmd("run", "job.yaml").status).toBe(0);
    const events = readFileSync(join(j.dir, "devices"), "utf8").trim().split("\n").map((l) => l.split(" "));
    expect(new Set(events.map(([device]) => device))).toEqual(new Set(["0", "1", "2"]));
    // Never two items on one device at once.
    const busy = new Set<string>();
    for (const [device, what] of events.sort((a, b) => Number(BigInt(a[2]) - BigInt(b[2])))) {
      if (what === "start") {
        expect(busy.has(device)).toBe(false);
        busy.add(device);
      } else busy.delete(device);
    }
  }, 60_000);
});

describe("spotjob run with warm workers (sweep.worker)", () => {
  const WORKER = `
import os, sys, time
from spotjob_worker import serve
with open("worker-starts", "a") as f:
    f.write(os.environ.get("CUDA_VISIBLE_DEVICES", "-") + "\\n")
def handle(item):
    print("stray print that must not corrupt results", flush=True)
    n = item["n"]
    if n == 3 and not os.path.exists("n3-failed-once"):
        open("n3-failed-once", "w").close()
        raise ValueError("n3 is unlucky once")
    if n == 5 and not os.path.exists("n5-died-once"):
        open("n5-died-once", "w").close()
        os._exit(9)  # the whole worker dies mid-item
    with open("executions", "a") as f:
        f.write(f"{n}\\n")
    return {"square": n * n, "device": os.environ.get("CUDA_VISIBLE_DEVICES"), "pipe": os.environ.get("SPOTJOB_WORKER_RESULTS")}
serve(handle)
`;

  it("starts one worker per slot, keeps results clean of prints, retries a raised item and restarts a dead worker", () => {
    const j = job(8, 0, "", { CUDA_VISIBLE_DEVICES: "0,1" });
    writeFileSync(join(j.dir, "worker.py"), WORKER);
    const spec = readFileSync(j.spec, "utf8");
    writeFileSync(j.spec, spec.slice(0, spec.indexOf("  command: |")) + "  worker: python3 worker.py\n  parallel: gpus\n  max_attempts: 2\n" + spec.slice(spec.indexOf("run:")));
    const run = j.cmd("run", "job.yaml");
    expect(run.status, run.stderr + run.stdout).toBe(0);

    const results = readFileSync(join(j.dir, ".spotjob", "cli-test", "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(results).toHaveLength(8);
    for (const r of results) {
      const n = Number(r.key.slice(1));
      expect(r.result.square).toBe(n * n);
      expect(["0", "1"]).toContain(r.result.device);
      expect(r.result.pipe).toBeNull(); // on the host, results come on descriptor 3
    }
    expect(new Set(j.executions())).toEqual(new Set(["0", "1", "2", "3", "4", "5", "6", "7"]));
    // Two slots, plus one restart after the worker that died.
    const starts = readFileSync(join(j.dir, "worker-starts"), "utf8").trim().split("\n");
    expect(starts).toHaveLength(3);
    expect(new Set(starts)).toEqual(new Set(["0", "1"]));
    const attempts = Object.fromEntries(results.map((r) => [r.key, r.attempt]));
    expect(attempts.n3).toBe(2);
    expect(attempts.n5).toBe(2);
    expect(run.stderr + run.stdout).toMatch(/ValueError: n3 is unlucky once/);
  }, 60_000);

  it("a sweep gives `command` or `worker`, not both", () => {
    const j = job(2);
    writeFileSync(j.spec, readFileSync(j.spec, "utf8").replace("  command: |", "  worker: python3 w.py\n  command: |"));
    const run = j.cmd("run", "job.yaml");
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/job\.yaml:\d+:\d+: error: sweep\.worker: give either `command` or `worker`, not both/);
  });
});
