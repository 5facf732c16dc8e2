/**
 * The supervisor against moto_server's Auto Scaling: called directly, it
 * scales everything to zero at completion, on max runtime and on budget
 * exhaustion and leaves no instance running; it never keeps two instances
 * billing; it charges instance time across runs and records what it did in
 * the store. (moto fulfils every capacity request at once, so "no spot
 * capacity" cannot be staged here: the fallback window is covered by the
 * decision table in supervisor-decide.test.ts.)
 */
import { AutoScalingClient, CreateAutoScalingGroupCommand, CreateLaunchConfigurationCommand, DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instancePolicy, allows } from "../../infra/aws/policy";
import type { JobStatus } from "../../runtime/status";
import { LocalDirStore } from "../../runtime/store/local-dir";
import type { SupervisorPolicy } from "../../runtime/supervisor/decide";
import { SUPERVISOR_STATE_KEY, superviseOnce, type SupervisedJob } from "../../runtime/supervisor/supervise";
import { emulatorEnv, requireBinary, startMoto, type Emulator } from "../helpers/emulators";
import { buildRuntime } from "../helpers/runtime-bundle";

const hasMoto = requireBinary("moto_server");
let moto: Emulator | undefined;
let client: AutoScalingClient;
let counter = 0;

beforeAll(async () => {
  if (!hasMoto) return;
  moto = await startMoto();
  client = new AutoScalingClient({ endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  await client.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: "gpu", ImageId: "ami-12c6146b", InstanceType: "g4dn.xlarge" }));
}, 60_000);
afterAll(async () => {
  await moto?.stop();
});

const T0 = Date.parse("2026-11-24T12:00:00Z");
const min = (m: number) => T0 + m * 60_000;
const policy: SupervisorPolicy = { maxRuntimeMinutes: 120, budgetUsd: 10, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 5 };

async function job(spotDesired: number, onDemandDesired: number, status?: Partial<JobStatus>): Promise<SupervisedJob> {
  const n = counter++;
  for (const [name, desired] of [[`spot-${n}`, spotDesired], [`od-${n}`, onDemandDesired]] as const) {
    await client.send(new CreateAutoScalingGroupCommand({ AutoScalingGroupName: name, LaunchConfigurationName: "gpu", MinSize: 0, MaxSize: 1, DesiredCapacity: desired, AvailabilityZones: ["us-east-1a"] }));
  }
  const store = new LocalDirStore(mkdtempSync(join(tmpdir(), "spotjob-supervisor-")));
  if (status) {
    const full: JobStatus = { job: "j", state: "RUNNING", holder: "h", items: { done: 0, failed: 0, total: 0 }, attempts: 1, started_at: new Date(T0).toISOString(), heartbeat_at: new Date(T0).toISOString(), ...status };
    await store.put("status.json", JSON.stringify(full));
  }
  return { store, spot: { name: `spot-${n}`, pricePerHour: 2 }, onDemand: { name: `od-${n}`, pricePerHour: 6 }, policy };
}

async function running(j: SupervisedJob): Promise<Record<string, { desired: number; instances: number }>> {
  const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [j.spot.name, j.onDemand!.name] }));
  return Object.fromEntries(out.AutoScalingGroups!.map((g) => [g.AutoScalingGroupName, { desired: g.DesiredCapacity ?? 0, instances: (g.Instances ?? []).length }]));
}

describe.runIf(hasMoto)("supervisor on moto_server", () => {
  it("leaves a healthy job alone", async () => {
    const j = await job(1, 0, { state: "RUNNING" });
    const d = await superviseOnce(j, client, min(10));
    expect(d.scale).toEqual({});
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 1, instances: 1 }, [j.onDemand!.name]: { desired: 0, instances: 0 } });
  });

  it.each([
    ["the job succeeded and the idle minutes passed", { state: "SUCCEEDED" as const, finished_at: new Date(min(30)).toISOString() }, min(40)],
    ["max runtime is reached while the job still runs", { state: "RUNNING" as const }, min(125)],
  ])("scales everything to zero and leaves nothing running when %s", async (_, status, now) => {
    const j = await job(1, 1, status);
    const d = await superviseOnce(j, client, now);
    expect(d.scale).toEqual({ [j.spot.name]: 0, [j.onDemand!.name]: 0 });
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 0, instances: 0 }, [j.onDemand!.name]: { desired: 0, instances: 0 } });
    const events = await j.store.list("supervisor/events/");
    expect(events).toHaveLength(1);
    expect(JSON.parse((await j.store.get(events[0]))!.body.toString()).events[0]).toMatch(/stopping the job/);
    // And it stays that way on the next run.
    expect((await superviseOnce(j, client, now + 60_000)).scale).toEqual({});
  });

  it("charges instance time across runs and stops the job when the budget is spent", async () => {
    const j = await job(1, 0, { state: "RUNNING" });
    await superviseOnce(j, client, min(0));
    // One spot instance at $2/h: $10 lasts five hours; the runtime cap is two, so raise it for this test.
    j.policy = { ...policy, maxRuntimeMinutes: null };
    const after4h = await superviseOnce(j, client, min(240));
    expect(after4h.state.spentUsd).toBeCloseTo(8, 6);
    expect(after4h.scale).toEqual({});
    const after5h = await superviseOnce(j, client, min(300));
    expect(after5h.state.spentUsd).toBeCloseTo(10, 6);
    expect(after5h.scale).toEqual({ [j.spot.name]: 0 });
    expect(await running(j)).toMatchObject({ [j.spot.name]: { desired: 0, instances: 0 } });
    const saved = JSON.parse((await j.store.get(SUPERVISOR_STATE_KEY))!.body.toString());
    expect(saved.stoppedFor).toMatch(/max_total_budget \(\$10\.00\) spent/);
  });

  it("never keeps spot and the fallback billing together", async () => {
    const j = await job(1, 1, { state: "RUNNING" });
    const d = await superviseOnce(j, client, min(20));
    expect(d.scale).toEqual({ [j.spot.name]: 0 });
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 0, instances: 0 }, [j.onDemand!.name]: { desired: 1, instances: 1 } });
  });

  it("an instance's own scale-to-zero call is allowed by its role, and a call on another job's group is not", async () => {
    const j = await job(1, 0, { state: "RUNNING" });
    const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [j.spot.name] }));
    const arn = out.AutoScalingGroups![0].AutoScalingGroupARN!;
    const role = instancePolicy({ region: "us-east-1", accountId: "123456789012", bucket: "b", prefix: "p", groupNames: [j.spot.name, j.onDemand!.name], secrets: [] });
    expect(allows(role, "autoscaling:SetDesiredCapacity", arn)).toBe(true);
    expect(allows(role, "autoscaling:SetDesiredCapacity", arn.replace(`autoScalingGroupName/${j.spot.name}`, "autoScalingGroupName/other-job-spot"))).toBe(false);
    expect(allows(role, "autoscaling:DescribeAutoScalingGroups", "*")).toBe(true);
  });

  it("the instance scales its own groups to zero when its job ends", async () => {
    const j = await job(1, 1, { state: "RUNNING" });
    const dir = mkdtempSync(join(tmpdir(), "spotjob-own-groups-"));
    writeFileSync(join(dir, "job.yaml"), "provider: aws\ngpu_type: T4\nname: own-groups\nrun: echo done\n");
    const runtime = await buildRuntime();
    const run = spawnSync(process.execPath, [runtime, "run", "--spec", join(dir, "job.yaml"), "--store", join(dir, "store"), "--state", join(dir, "machine")], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        ...emulatorEnv(moto),
        AWS_ENDPOINT_URL_AUTO_SCALING: moto!.endpoint,
        SPOTJOB_CLOUD: "aws",
        SPOTJOB_IMDS_ENDPOINT: "http://127.0.0.1:9", // no metadata service: the watcher reports it and goes on
        SPOTJOB_AWS_GROUPS: `${j.spot.name},${j.onDemand!.name}`,
      },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr + run.stdout).toMatch(new RegExp(`scaled Auto Scaling group ${j.spot.name} to zero`));
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 0, instances: 0 }, [j.onDemand!.name]: { desired: 0, instances: 0 } });
  }, 60_000);
});
