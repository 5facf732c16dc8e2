/**
 * A console that goes away does not end the job (issue #12): `spotjob run
 * job.yaml | head -1` once left the status at SETTING_UP and no process
 * alive, killed by the EPIPE of its next write. The job runs to its end, and
 * the run log in the store has every line.
 */
import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { installSpotjob, jobFolder, startProcess } from "../helpers/installed-cli";
import { bundles } from "../helpers/shared";
import { until } from "../helpers/wait";

// Output for a while after the console is gone, through the runtime's own writes and the job's.
const CHATTY = 'for i in $(seq 1 60); do echo "line $i"; sleep 0.02; done';

let project: string;
let bin: string;
beforeAll(() => {
  ({ project, bin } = installSpotjob());
});

describe("run with its console closed", () => {
  it("`spotjob run job.yaml | head -1`: the job finishes SUCCEEDED, its log whole", async () => {
    const job = jobFolder(project, CHATTY);
    const pipeline = spawn("bash", ["-c", `"${process.execPath}" "${bin}" run job.yaml --store "${job.store}" | head -1; exit \${PIPESTATUS[0]}`], { cwd: job.dir, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    pipeline.stdout.on("data", (d) => (output += d));
    pipeline.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => pipeline.on("close", resolve));
    expect(output.split("\n").filter((l) => l.startsWith("[run]"))).toEqual(["[run] line 1"]);
    expect(code, output).toBe(0);
    expect(job.status()?.state, output).toBe("SUCCEEDED");
    expect(job.logs()).toContain("[run] line 60");
  }, 120_000);

  it("the runtime with stdout and stderr both closed: the job finishes SUCCEEDED, its log whole", async () => {
    const job = jobFolder(project, CHATTY);
    const run = startProcess(process.execPath, [bundles().runtime, "run", "--spec", job.spec, "--store", job.store, "--state", job.state], job.dir);
    await until("the job's first line", () => run.output().includes("[run] line 1"), 60_000, run.output);
    // Whoever read them has gone: every later write fails with EPIPE.
    run.child.stdout!.destroy();
    run.child.stderr!.destroy();
    const exit = await run.exited;
    expect(exit, run.output()).toEqual({ code: 0, signal: null });
    expect(job.status()?.state).toBe("SUCCEEDED");
    expect(job.logs()).toContain("[run] line 60");
  }, 120_000);
});
