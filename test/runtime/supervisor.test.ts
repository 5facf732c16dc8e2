/**
 * The supervisor against moto_server's Auto Scaling: called directly, it
 * scales everything to zero at completion, on max runtime and on budget
 * exhaustion and leaves no instance running; it never keeps two instances
 * billing; it charges instance time across runs and records what it did in
 * the store. (moto fulfils every capacity request at once, so "no spot
 * capacity" cannot be staged here: the fallback window is covered by the
 * decision table in supervisor-decide.test.ts.)
 */
import { AutoScalingClient, CreateAutoScalingGroupCommand, CreateLaunchConfigurationCommand, DescribeAutoScalingGroupsCommand, SetInstanceHealthCommand } from "@aws-sdk/client-auto-scaling";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instancePolicy } from "../../infra/aws/policy";
import { allows } from "../helpers/iam-simulator";
import type { JobStatus } from "../../runtime/status";
import { LocalDirStore } from "../../runtime/store/local-dir";
import type { SupervisorPolicy } from "../../runtime/supervisor/decide";
import { SUPERVISOR_STATE_KEY, superviseOnce, type SupervisedJob } from "../../runtime/supervisor/supervise";
import type { SupervisorConfig } from "../../core/wire/supervisor-config";
import { openStore } from "../../runtime/store/open";
import { awsInstanceEnv, emulatorEnv } from "../helpers/emulators";
import { bundles, sharedMoto, unique } from "../helpers/shared";
import { failedLaunch, stubAutoScaling } from "../helpers/stub-autoscaling";

// The run's moto_server: every name here is this file's own (unique()).
const moto = sharedMoto();
const hasMoto = moto !== undefined;
const LAUNCH_CONFIG = unique("gpu");
let client: AutoScalingClient;
let counter = 0;

beforeAll(async () => {
  if (!moto) return;
  client = new AutoScalingClient({ endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  await client.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: LAUNCH_CONFIG, ImageId: "ami-12c6146b", InstanceType: "g4dn.xlarge" }));
}, 60_000);

const T0 = Date.parse("2026-11-24T12:00:00Z");
const min = (m: number) => T0 + m * 60_000;
const policy: SupervisorPolicy = { maxRuntimeMinutes: 120, budgetUsd: 10, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 5 };

async function job(spotDesired: number, onDemandDesired: number, status?: Partial<JobStatus>): Promise<SupervisedJob> {
  const n = counter++;
  const [spot, onDemand] = [unique(`spot-${n}`), unique(`od-${n}`)];
  for (const [name, desired] of [[spot, spotDesired], [onDemand, onDemandDesired]] as const) {
    await client.send(new CreateAutoScalingGroupCommand({ AutoScalingGroupName: name, LaunchConfigurationName: LAUNCH_CONFIG, MinSize: 0, MaxSize: 1, DesiredCapacity: desired, AvailabilityZones: ["us-east-1a"] }));
  }
  const store = new LocalDirStore(mkdtempSync(join(tmpdir(), "spotjob-supervisor-")));
  if (status) {
    const full: JobStatus = { job: "j", state: "RUNNING", holder: "h", items: { done: 0, failed: 0, total: 0 }, attempts: 1, started_at: new Date(T0).toISOString(), heartbeat_at: new Date(T0).toISOString(), ...status };
    await store.put("status.json", JSON.stringify(full));
  }
  return { store, spot: { name: spot, pricePerHour: 2 }, onDemand: { name: onDemand, pricePerHour: 6 }, policy };
}

async function running(j: SupervisedJob): Promise<Record<string, { desired: number; instances: number }>> {
  const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [j.spot.name, j.onDemand!.name] }));
  return Object.fromEntries(out.AutoScalingGroups!.map((g) => [g.AutoScalingGroupName, { desired: g.DesiredCapacity ?? 0, instances: (g.Instances ?? []).length }]));
}

describe.runIf(hasMoto)("supervisor on moto_server", () => {
  it("reads the groups' scaling activities (moto answers none) and, with no failed launch, records none", async () => {
    const j = await job(1, 0, { state: "RUNNING" });
    const d = await superviseOnce(j, client, min(10));
    expect(d.state.launchFailure).toBeUndefined();
    expect(JSON.parse((await j.store.get(SUPERVISOR_STATE_KEY))!.body.toString()).launchFailure).toBeUndefined();
  });

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
    expect(await allows(role, "autoscaling:SetDesiredCapacity", arn)).toBe(true);
    expect(await allows(role, "autoscaling:SetDesiredCapacity", arn.replace(`autoScalingGroupName/${j.spot.name}`, "autoScalingGroupName/other-job-spot"))).toBe(false);
    // Describing groups is the supervisor's, not the instance's (test/infra/aws-policy-calls.test.ts: no instance call needs it).
    expect(await allows(role, "autoscaling:DescribeAutoScalingGroups", "*")).toBe(false);
  });

  it("the instance scales its own groups to zero when its job ends", async () => {
    const j = await job(1, 1, { state: "RUNNING" });
    const dir = mkdtempSync(join(tmpdir(), "spotjob-own-groups-"));
    writeFileSync(join(dir, "job.yaml"), "provider: aws\ngpu_type: T4\nname: own-groups\nrun: echo done\n");
    const { runtime } = bundles();
    const run = spawnSync(process.execPath, [runtime, "run", "--spec", join(dir, "job.yaml"), "--store", join(dir, "store"), "--state", join(dir, "machine")], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        ...awsInstanceEnv(moto!),
        SPOTJOB_AWS_GROUPS: `${j.spot.name},${j.onDemand!.name}`,
      },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr + run.stdout).toMatch(new RegExp(`scaled Auto Scaling group ${j.spot.name} to zero`));
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 0, instances: 0 }, [j.onDemand!.name]: { desired: 0, instances: 0 } });
  }, 60_000);
});

/**
 * The Lambda handler as deployed: the runtime bundle's `handler` export, configured only by SPOTJOB_SUPERVISOR,
 * its store on moto's S3, called directly the way the schedule calls it.
 */
describe.runIf(hasMoto)("the supervisor's Lambda handler on moto_server", () => {
  let handler: () => Promise<{ scale: Record<string, number>; events: string[]; spentUsd: number }>;
  const saved = { ...process.env };
  const bucket = unique("handler");
  beforeAll(async () => {
    Object.assign(process.env, emulatorEnv(moto), { AWS_ENDPOINT_URL: moto!.endpoint });
    await new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: bucket }));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require(bundles().runtime).handler;
  }, 60_000);
  afterAll(() => {
    process.env = saved;
  });

  /** Two groups on moto, a status and a supervisor state in an S3 store, and the handler's configuration. */
  async function deployed(spot: number, onDemand: number, status: Partial<JobStatus>, state?: object, overrides: Partial<SupervisorConfig["policy"]> = {}) {
    const j = await job(spot, onDemand);
    const store = `s3://${bucket}/jobs/job-${counter++}`;
    const s3 = openStore(store);
    const now = Date.now();
    const full: JobStatus = { job: "j", state: "RUNNING", holder: "h", items: { done: 0, failed: 0, total: 0 }, attempts: 1, started_at: new Date(now - 30 * 60_000).toISOString(), heartbeat_at: new Date(now).toISOString(), ...status };
    await s3.put("status.json", JSON.stringify(full));
    if (state) await s3.put(SUPERVISOR_STATE_KEY, JSON.stringify(state));
    const config: SupervisorConfig = { store, spot: j.spot, onDemand: j.onDemand, policy: { ...policy, ...overrides } };
    process.env.SPOTJOB_SUPERVISOR = JSON.stringify(config);
    return { j, s3, now };
  }

  it("starts the on-demand fallback once no healthy spot instance has run for the whole window", async () => {
    const { j, s3, now } = await deployed(1, 0, { state: "RUNNING" }, { spentUsd: 0, lastRunAt: Date.now() - 60_000, spotMissingSince: Date.now() - 11 * 60_000 });
    // moto fulfils every request, so "no spot capacity" is staged as a spot instance failing its health checks.
    const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [j.spot.name] }));
    await client.send(new SetInstanceHealthCommand({ InstanceId: out.AutoScalingGroups![0].Instances![0].InstanceId!, HealthStatus: "Unhealthy", ShouldRespectGracePeriod: false }));
    const result = await handler();
    expect(result.scale).toEqual({ [j.onDemand!.name]: 1, [j.spot.name]: 0 });
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 0, instances: 0 }, [j.onDemand!.name]: { desired: 1, instances: 1 } });
    const events = await s3.list("supervisor/events/");
    expect(events).toHaveLength(1);
    expect(JSON.parse((await s3.get(events[0]))!.body.toString()).events).toEqual([expect.stringMatching(/starting the on-demand fallback/)]);
    expect(JSON.parse((await s3.get(SUPERVISOR_STATE_KEY))!.body.toString()).lastRunAt).toBeGreaterThanOrEqual(now);
  });

  it("before the window has passed it waits, and remembers since when spot is missing", async () => {
    const { j, s3 } = await deployed(1, 0, { state: "RUNNING" }, { spentUsd: 0, lastRunAt: Date.now() - 60_000, spotMissingSince: Date.now() - 3 * 60_000 });
    const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [j.spot.name] }));
    await client.send(new SetInstanceHealthCommand({ InstanceId: out.AutoScalingGroups![0].Instances![0].InstanceId!, HealthStatus: "Unhealthy", ShouldRespectGracePeriod: false }));
    expect((await handler()).scale).toEqual({});
    expect(await running(j)).toMatchObject({ [j.onDemand!.name]: { desired: 0, instances: 0 } });
    expect(JSON.parse((await s3.get(SUPERVISOR_STATE_KEY))!.body.toString()).spotMissingSince).toBeLessThan(Date.now() - 2 * 60_000);
  });

  it.each([
    ["the job succeeded and the idle minutes passed", { state: "SUCCEEDED" as const, finished_at: new Date(Date.now() - 10 * 60_000).toISOString() }, undefined],
    ["max runtime is reached while the job still runs", { state: "RUNNING" as const, started_at: new Date(Date.now() - 121 * 60_000).toISOString() }, undefined],
    ["the budget is spent", { state: "RUNNING" as const }, { spentUsd: 9.99, lastRunAt: Date.now() - 10 * 60_000 }],
  ])("scales everything to zero and leaves nothing running when %s", async (_, status, state) => {
    const { j } = await deployed(1, 1, status, state);
    const result = await handler();
    expect(result.scale).toEqual({ [j.spot.name]: 0, [j.onDemand!.name]: 0 });
    expect(result.events).toEqual([expect.stringMatching(/stopping the job/)]);
    expect(await running(j)).toEqual({ [j.spot.name]: { desired: 0, instances: 0 }, [j.onDemand!.name]: { desired: 0, instances: 0 } });
    // And it stays that way.
    expect((await handler()).scale).toEqual({});
  });

  it("a missing configuration is a clear error", async () => {
    delete process.env.SPOTJOB_SUPERVISOR;
    await expect(handler()).rejects.toThrow(/SPOTJOB_SUPERVISOR is not set/);
    process.env.SPOTJOB_SUPERVISOR = JSON.stringify({ store: "/tmp/x" });
    await expect(handler()).rejects.toThrow(/SPOTJOB_SUPERVISOR is not a valid supervisor configuration: store/);
  });
});


/**
 * A launch that fails for a reason other than capacity, through superviseOnce. moto 5.2.1's
 * DescribeScalingActivities always answers an empty list, so the failed activities are staged by a stub
 * client answering in the shapes AWS documents (test/helpers/stub-autoscaling.ts).
 */
describe("the supervisor against failed launches (stubbed Auto Scaling: moto records no scaling activities)", () => {
  const QUOTA = "Could not launch Spot Instances. MaxSpotInstanceCountExceeded - Max spot instance count exceeded. Launching EC2 instance failed.";
  const NO_CAPACITY = "Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.";
  const store = () => new LocalDirStore(mkdtempSync(join(tmpdir(), "spotjob-launch-failure-")));
  const jobOn = (s: LocalDirStore): SupervisedJob => ({ store: s, spot: { name: "job-spot", pricePerHour: 0.4 }, onDemand: { name: "job-ondemand", pricePerHour: 1 }, policy });

  it("a zero spot quota: no fallback, every group to zero, the failure and its fix in the state and the events", async () => {
    const groups = [
      { name: "job-spot", desired: 1, instanceTypes: ["g5.xlarge", "g6.xlarge"], market: "spot" as const, activities: [failedLaunch("job-spot", new Date(min(-5)), QUOTA), failedLaunch("job-spot", new Date(min(0)), QUOTA)] },
      { name: "job-ondemand", desired: 0, instanceTypes: ["g5.xlarge"], market: "on-demand" as const, activities: [] },
    ];
    const { client: stub, calls } = stubAutoScaling(groups, "us-west-2");
    const j = jobOn(store());
    const d = await superviseOnce(j, stub, min(1));
    expect(calls).toEqual(expect.arrayContaining(["DescribeScalingActivities job-spot", "DescribeScalingActivities job-ondemand", "SetDesiredCapacity job-spot=0"]));
    expect(groups.map((g) => g.desired)).toEqual([0, 0]);
    const saved = JSON.parse((await j.store.get(SUPERVISOR_STATE_KEY))!.body.toString());
    expect(saved.launchFailure).toMatchObject({ kind: "quota", message: QUOTA, group: "job-spot", at: new Date(min(0)).toISOString() });
    expect(saved.launchFailure.fix).toMatch(/"All G and VT Spot Instance Requests" \(L-3819A6DF\) in us-west-2/);
    const events = await j.store.list("supervisor/events/");
    expect(JSON.parse((await j.store.get(events[0]))!.body.toString())).toMatchObject({ scale: { "job-spot": 0 }, launch_failure: { kind: "quota" } });
    expect(d.events[0]).toMatch(/launch failed in job-spot \(quota, not missing capacity\)/);
    // Twenty minutes on, far past the fallback window: still nothing launched.
    const later = await superviseOnce(j, stub, min(21));
    expect(later.scale).toEqual({});
    expect(groups.map((g) => g.desired)).toEqual([0, 0]);
  });

  it("no spot capacity: waits, then starts the on-demand fallback as before", async () => {
    const groups = [
      { name: "job-spot", desired: 1, instanceTypes: ["g5.xlarge"], market: "spot" as const, activities: [failedLaunch("job-spot", new Date(min(0)), NO_CAPACITY)] },
      { name: "job-ondemand", desired: 0, instanceTypes: ["g5.xlarge"], market: "on-demand" as const, activities: [] },
    ];
    const { client: stub } = stubAutoScaling(groups);
    const j = jobOn(store());
    expect((await superviseOnce(j, stub, min(1))).scale).toEqual({});
    expect((await superviseOnce(j, stub, min(12))).scale).toEqual({ "job-ondemand": 1, "job-spot": 0 });
    expect(JSON.parse((await j.store.get(SUPERVISOR_STATE_KEY))!.body.toString()).launchFailure).toBeUndefined();
  });
});
