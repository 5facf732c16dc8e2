/**
 * `spotjob status` when the supervisor stopped the job because its instance
 * could not launch (here: a zero spot vCPU quota): the job never ran, so there
 * is no status of its own, and the command says what failed, AWS's message and
 * the fix, in text and in `--json`. The record is the supervisor's own, written
 * by superviseOnce against a stubbed Auto Scaling (see stub-autoscaling.ts).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { statusCommand } from "../../cli/commands/status";
import { EXIT } from "../../cli/exit-codes";
import type { JobStatus } from "../../runtime/status";
import { LocalDirStore } from "../../runtime/store/local-dir";
import { superviseOnce } from "../../runtime/supervisor/supervise";
import { failedLaunch, stubAutoScaling } from "../helpers/stub-autoscaling";

const QUOTA = "Could not launch Spot Instances. MaxSpotInstanceCountExceeded - Max spot instance count exceeded. Launching EC2 instance failed.";
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

async function stoppedJob(status?: Partial<JobStatus>): Promise<{ spec: string; storeDir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-status-lf-"));
  writeFileSync(join(dir, "job.yaml"), "provider: local\nname: quota-job\nrun: echo hi\n");
  const storeDir = join(dir, "store");
  const store = new LocalDirStore(storeDir);
  if (status) {
    const now = new Date().toISOString();
    await store.put("status.json", JSON.stringify({ job: "quota-job", state: "INTERRUPTED", holder: "i-0123", items: { done: 0, failed: 0, total: 0 }, attempts: 1, started_at: now, heartbeat_at: now, ...status }));
  }
  const groups = [
    { name: "quota-job-dev-spot", desired: 1, instanceTypes: ["g5.xlarge"], market: "spot" as const, activities: [failedLaunch("quota-job-dev-spot", new Date(Date.now() - 6 * 60_000), QUOTA), failedLaunch("quota-job-dev-spot", new Date(Date.now() - 60_000), QUOTA)] },
    { name: "quota-job-dev-ondemand", desired: 0, instanceTypes: ["g5.xlarge"], market: "on-demand" as const, activities: [] },
  ];
  await superviseOnce(
    { store, spot: { name: groups[0].name, pricePerHour: 0.5 }, onDemand: { name: groups[1].name, pricePerHour: 1 }, policy: { maxRuntimeMinutes: null, budgetUsd: 5, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 15 } },
    stubAutoScaling(groups, "us-east-1").client,
  );
  return { spec: join(dir, "job.yaml"), storeDir };
}

function capture(): { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((err += String(chunk)), true));
  return { out: () => plain(out), err: () => plain(err) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("spotjob status after a launch failure", () => {
  it("a job whose instance never launched: LAUNCH FAILED, the kind, AWS's message and the fix (which quota to raise)", async () => {
    const { spec, storeDir } = await stoppedJob();
    const io = capture();
    const code = await statusCommand(spec, { store: storeDir });
    expect(code).toBe(EXIT.error);
    const text = io.out();
    expect(text).toMatch(/^job {8}quota-job: LAUNCH FAILED \(no instance ever started\)$/m);
    expect(text).toMatch(/^launch {5}failed: vCPU quota in quota-job-dev-spot at \S+; every group is at zero, no fallback$/m);
    expect(text).toContain(`  aws      ${QUOTA}`);
    expect(text).toMatch(/^ {2}fix {6}raise the EC2 service quota "All G and VT Spot Instance Requests" \(L-3819A6DF\) in us-east-1 .*--quota-code L-3819A6DF/m);
    expect(text).toMatch(/then scale the group to 1 \(`aws autoscaling set-desired-capacity --auto-scaling-group-name quota-job-dev-spot --desired-capacity 1`\)/);
    expect(text).not.toMatch(/has not run yet/);
  });

  it("--json carries the record: kind, message, fix, when and which group", async () => {
    const { spec, storeDir } = await stoppedJob();
    const io = capture();
    await statusCommand(spec, { store: storeDir, json: true });
    const out = JSON.parse(io.out());
    expect(out).toMatchObject({ ok: false, error: "launch failed", launch_failure: { kind: "quota", message: QUOTA, group: "quota-job-dev-spot" } });
    expect(out.launch_failure.fix).toMatch(/L-3819A6DF/);
  });

  it("a job that ran before (a replacement could not launch): its status, then the launch failure", async () => {
    const { spec, storeDir } = await stoppedJob({ state: "INTERRUPTED" });
    const io = capture();
    expect(await statusCommand(spec, { store: storeDir })).toBe(EXIT.ok);
    expect(io.out()).toMatch(/quota-job: INTERRUPTED[\s\S]*launch {5}failed: vCPU quota[\s\S]*fix {6}raise the EC2 service quota/);
    const json = capture();
    await statusCommand(spec, { store: storeDir, json: true });
    expect(JSON.parse(json.out())).toMatchObject({ ok: true, state: "INTERRUPTED", launch_failure: { kind: "quota" } });
  });
});
