/**
 * The EC2 spot interruption notice, against amazon-ec2-metadata-mock with
 * IMDSv2 required: the watcher sees it, and a running sweep stops, saves and
 * exits "interrupted, resumable" within 5 s; the next runtime on the same
 * store finishes the sweep without repeating a finished item.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { watchSpotNotice, type SpotNotice } from "../../runtime/cloud/aws/notice";
import { requireBinary, startEc2MetadataMock, type Emulator } from "../helpers/emulators";
import { bundles } from "../helpers/shared";

const hasAemm = requireBinary("ec2-metadata-mock");
const { runtime } = bundles();
let aemm: Emulator | undefined;

afterEach(async () => {
  await aemm?.stop();
  aemm = undefined;
});

describe.runIf(hasAemm)("spot interruption notice (IMDSv2, amazon-ec2-metadata-mock)", () => {
  it("the metadata mock refuses requests without a token, so the watcher must be using IMDSv2", async () => {
    aemm = await startEc2MetadataMock(0);
    const v1 = await fetch(`${aemm.endpoint}/latest/meta-data/spot/instance-action`);
    expect(v1.status).toBe(401);
  });

  it("the watcher reports the notice once it appears, and not before", async () => {
    aemm = await startEc2MetadataMock(3);
    const started = Date.now();
    const stop = new AbortController();
    const notice = await new Promise<SpotNotice>((resolve) => void watchSpotNotice({ endpoint: aemm!.endpoint, intervalMs: 200, signal: stop.signal, onNotice: resolve }));
    const waited = Date.now() - started;
    expect(notice.action).toBe("terminate");
    expect(Date.parse(notice.time)).toBeGreaterThan(Date.now());
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(6000);
  });

  it("a running sweep stops within 5 s of the notice, exits 75, and the next runtime resumes without repeating finished items", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-notice-"));
    const spec = join(dir, "job.yaml");
    writeFileSync(
      spec,
      [
        "provider: aws",
        "gpu_type: T4",
        "name: notice-test",
        "sweep:",
        `  items: [${Array.from({ length: 30 }, (_, i) => `{i: ${i}}`).join(", ")}]`,
        '  key: "item-{i}"',
        "  command: |",
        '    echo "start $SWEEP_KEY" >> "$EXECUTIONS"',
        "    sleep 0.3",
        "  parallel: 2",
        "",
      ].join("\n"),
    );
    const executions = join(dir, "executions.log");
    writeFileSync(executions, "");
    const store = join(dir, "store");
    const run = (state: string, env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, [runtime, "run", "--spec", spec, "--store", store, "--state", join(dir, state)], { env: { ...process.env, EXECUTIONS: executions, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      return new Promise<{ code: number | null; output: string; at: number }>((resolve) => child.on("close", (code) => resolve({ code, output, at: Date.now() })));
    };

    // The notice appears 3 s after the mock starts: counting from before its start errs on the strict side.
    const noticeAt = Date.now() + 3000;
    aemm = await startEc2MetadataMock(3);
    const first = await run("machine-a", { SPOTJOB_CLOUD: "aws", SPOTJOB_IMDS_ENDPOINT: aemm.endpoint });
    expect(first.code, first.output).toBe(75);
    expect(first.output).toMatch(/spot interruption notice: terminate at .*; stopping and saving progress/);
    expect(first.at - noticeAt).toBeLessThan(5000);
    const status = JSON.parse(readFileSync(join(store, "status.json"), "utf8"));
    expect(status).toMatchObject({ state: "INTERRUPTED" });
    expect(status.stop_reason).toMatch(/spot interruption notice \(terminate at /);
    const doneBefore: string[] = readFileSync(join(store, "results.jsonl"), "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l).key);
    expect(doneBefore.length).toBeGreaterThan(0);
    expect(doneBefore.length).toBeLessThan(30);

    // A replacement instance: a new machine, the same store, no notice.
    const startedBefore = readFileSync(executions, "utf8").split("\n").filter(Boolean).length;
    const second = await run("machine-b", {});
    expect(second.code, second.output).toBe(0);
    const startedAfter = readFileSync(executions, "utf8").split("\n").filter(Boolean).slice(startedBefore).map((l) => l.slice(6));
    for (const key of doneBefore) expect(startedAfter).not.toContain(key);
    const final = readFileSync(join(store, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).key);
    expect(new Set(final).size).toBe(30);
  }, 60_000);
});
