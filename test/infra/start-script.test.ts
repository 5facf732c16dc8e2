/**
 * The start and stop scripts of a `provider: local` stack: snapshots of the
 * text, then the scripts run for real with bash against the runtime bundle,
 * as `pulumi up` and `pulumi destroy` run them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { until } from "../helpers/wait";
import { LOCAL_ENV, renderLocalStart, renderLocalStop } from "../../infra/local/start-script";
import { bundles } from "../helpers/shared";

describe("local start/stop scripts", () => {
  it("start script", () => {
    expect(renderLocalStart()).toMatchSnapshot();
  });
  it("stop script", () => {
    expect(renderLocalStop()).toMatchSnapshot();
  });
  it("read only the variables the component sets", () => {
    for (const script of [renderLocalStart(), renderLocalStop()]) {
      const used = new Set([...script.matchAll(/\$\{?(SPOTJOB_[A-Z_]+)/g)].map((m) => m[1]));
      for (const name of used) expect(LOCAL_ENV).toContain(name);
    }
  });
});

describe("pulumi up / destroy of a local stack, for real", () => {
  const bundle = bundles().runtime;

  function setUp(items: number) {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-localstack-"));
    mkdirSync(join(dir, "work"));
    const spec = join(dir, "job.yaml");
    // Each item appends to a file outside the store, so the test sees every execution.
    writeFileSync(
      spec,
      [
        "version: 1",
        "provider: local",
        "name: stack-test",
        `workdir: ${join(dir, "work")}`,
        "sweep:",
        `  items: [${Array.from({ length: items }, (_, i) => `{n: ${i}}`).join(", ")}]`,
        '  key: "item-{n}"',
        `  command: echo {n} >> ${join(dir, "executions")}; sleep 0.3`,
        "  parallel: 1",
        "cost: {max_cost_per_hour: 0, max_total_budget: 0}",
      ].join("\n"),
    );
    const env = {
      ...process.env,
      SPOTJOB_NODE: process.execPath,
      SPOTJOB_RUNTIME: bundle,
      SPOTJOB_SPEC: spec,
      SPOTJOB_STORE: join(dir, "store"),
      SPOTJOB_STATE: join(dir, "state"),
    };
    const bash = (script: string) => execFileSync("/bin/bash", ["-c", script], { env, encoding: "utf8", timeout: 60_000 });
    const status = () => {
      const file = join(dir, "store", "status.json");
      return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { state: string; items: { done: number; total: number } }) : undefined;
    };
    const executions = () => (existsSync(join(dir, "executions")) ? readFileSync(join(dir, "executions"), "utf8").trim().split("\n") : []);
    return { dir, bash, status, executions };
  }


  it("up starts the runtime in the background, destroy stops it keeping progress, the next up resumes", async () => {
    const { dir, bash, status, executions } = setUp(12);
    expect(bash(renderLocalStart())).toMatch(/runtime started \(pid \d+\)/);
    // A second `up` while it runs leaves it alone.
    expect(bash(renderLocalStart())).toMatch(/runtime already running/);

    await until("three items done", () => (status()?.items.done ?? 0) >= 3);
    const pid = Number(readFileSync(join(dir, "state", "runtime.pid"), "utf8"));
    expect(bash(renderLocalStop())).toMatch(/runtime stopped/);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(status()?.state).toBe("INTERRUPTED");
    const doneAtStop = status()!.items.done;
    expect(doneAtStop).toBeLessThan(12);

    bash(renderLocalStart());
    await until("the job to succeed", () => status()?.state === "SUCCEEDED");
    expect(status()!.items).toMatchObject({ done: 12, total: 12 });
    // Finished items never ran again: at most the one in flight at the stop repeats.
    const runs = executions();
    expect(new Set(runs).size).toBe(12);
    expect(runs.length).toBeLessThanOrEqual(13);
    // A stop after the runtime has exited by itself is a no-op.
    expect(bash(renderLocalStop())).toMatch(/runtime stopped/);
  }, 60_000);
});
