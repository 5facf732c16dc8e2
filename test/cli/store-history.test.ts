/**
 * The store is the truth: this machine's cache belongs to one store, another
 * store is another job history, `--fresh` starts over keeping the old history
 * aside, and a finished job's results come from the store on a machine that
 * never ran it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundles } from "../helpers/shared";

const cli = bundles().cli;

function job(items = 3) {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-history-"));
  writeFileSync(
    join(dir, "job.yaml"),
    [
      "provider: local",
      "name: hist",
      "sweep:",
      `  grid: {n: [${Array.from({ length: items }, (_, i) => i).join(", ")}]}`,
      '  key: "n{n}"',
      "  command: |",
      "    echo {n} >> executions",
      '    echo "{\\"n\\": {n}}" > "$SWEEP_RESULT"',
      'run: echo "aggregated $(wc -l < "$SWEEP_RESULTS")"',
      "",
    ].join("\n"),
  );
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, "run", "job.yaml", ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
    return { status: r.status, output: r.stdout + r.stderr };
  };
  const executions = () => (existsSync(join(dir, "executions")) ? readFileSync(join(dir, "executions"), "utf8").trim().split("\n") : []);
  return { dir, run, executions, home: join(dir, ".spotjob", "hist") };
}

describe("the store is the truth", () => {
  it("another store is another job history: a finished job runs in full against a new, empty store, and its logs are its own", () => {
    const j = job();
    expect(j.run().status).toBe(0);
    expect(j.executions()).toHaveLength(3);

    const other = mkdtempSync(join(tmpdir(), "spotjob-other-store-"));
    const second = j.run("--store", other);
    expect(second.status, second.output).toBe(0);
    expect(second.output).toMatch(/SUCCEEDED: all 3 items done/);
    expect(j.executions()).toHaveLength(6);
    // Only this store's one attempt: no log of the default store's run was copied in.
    expect(readdirSync(join(other, "logs"))).toEqual(["run-0001.log"]);
    expect(JSON.parse(readFileSync(join(other, "status.json"), "utf8"))).toMatchObject({ state: "SUCCEEDED", attempts: 1 });
    // The default store's history is untouched, and its cache is not the new store's.
    expect(JSON.parse(readFileSync(join(j.home, "status.json"), "utf8"))).toMatchObject({ state: "SUCCEEDED", attempts: 1 });
    expect(readFileSync(join(j.home, "machine", "store-url"), "utf8").trim()).toBe(j.home);
  }, 120_000);

  it("--fresh starts over in the same store, keeping the previous history under history/<time>/ and this machine's cache beside it", () => {
    const j = job();
    expect(j.run().status).toBe(0);
    const before = readFileSync(join(j.home, "results.jsonl"), "utf8");

    const fresh = j.run("--fresh");
    expect(fresh.status, fresh.output).toBe(0);
    expect(fresh.output).toMatch(/--fresh: the previous history \(\d+ object\(s\), \d+ bytes\) is kept in .* under history\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\//);
    expect(j.executions()).toHaveLength(6);
    expect(JSON.parse(readFileSync(join(j.home, "status.json"), "utf8"))).toMatchObject({ state: "SUCCEEDED", attempts: 1 });

    const [stamp] = readdirSync(join(j.home, "history"));
    const kept = join(j.home, "history", stamp);
    expect(JSON.parse(readFileSync(join(kept, "status.json"), "utf8"))).toMatchObject({ state: "SUCCEEDED", attempts: 1 });
    expect(readFileSync(join(kept, "results.jsonl"), "utf8")).toBe(before);
    expect(readdirSync(join(kept, "logs"))).toEqual(["run-0001.log"]);
    expect(readdirSync(join(kept, "journal")).length).toBeGreaterThan(0);
    expect(readdirSync(j.home).filter((n) => n.startsWith("machine.before-"))).toHaveLength(1);
  }, 120_000);

  it("a finished job's results come from the store on a machine that never ran it", () => {
    const j = job();
    expect(j.run().status).toBe(0);
    const results = readFileSync(join(j.home, "results.jsonl"), "utf8");
    rmSync(join(j.home, "machine"), { recursive: true });

    const again = j.run();
    expect(again.status, again.output).toBe(0);
    expect(again.output).toMatch(/already finished .* nothing run/);
    expect(j.executions()).toHaveLength(3);
    expect(readFileSync(join(j.home, "machine", "results.jsonl"), "utf8")).toBe(results);
  }, 120_000);

  it("the runtime refuses a state directory that caches another store, naming both", () => {
    const j = job();
    expect(j.run().status).toBe(0);
    const other = mkdtempSync(join(tmpdir(), "spotjob-other-store-"));
    const runtime = spawnSync(process.execPath, [bundles().runtime, "run", "--spec", "job.yaml", "--store", other, "--state", join(j.home, "machine")], { cwd: j.dir, encoding: "utf8", timeout: 60_000 });
    expect(runtime.status).toBe(1);
    expect(runtime.stdout + runtime.stderr).toMatch(new RegExp(`is this machine's state for the store ${j.home}, not ${other}: give each store its own state directory`));
    expect(j.executions()).toHaveLength(3);
    expect(existsSync(join(other, "status.json"))).toBe(false);
  }, 120_000);
});
