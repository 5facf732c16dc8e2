/**
 * The supervisor on GCP: the shared executor with the Compute Engine capacity
 * control, against the Compute API fake (test/helpers/gce-compute.ts) answering
 * group states shaped like the documented responses (stockout, quota, healthy,
 * preempted) and the GCE metadata fake (test/helpers/gce-metadata.ts) giving
 * the token, with a directory store; then `node runtime.cjs supervise` (the
 * Cloud Run job's command) from the built bundle, its store on fake-gcs-server.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SupervisorConfig } from "../../core/wire/supervisor-config";
import { ComputeApiError, type ComputeError, type ManagedInstance } from "../../runtime/cloud/gcp/compute";
import type { JobStatus } from "../../runtime/status";
import { LocalDirStore } from "../../runtime/store/local-dir";
import { openStore } from "../../runtime/store/open";
import type { SupervisorPolicy } from "../../runtime/supervisor/decide";
import { SUPERVISOR_STATE_KEY, superviseWith, type SupervisedJob } from "../../runtime/supervisor/execute";
import { computeEngineCapacity, supervisorComputeApi } from "../../runtime/supervisor/gcp/capacity";
import { createGcsBucket, emulatorEnv } from "../helpers/emulators";
import { startGceCompute, type GceComputeFake } from "../helpers/gce-compute";
import { startGceMetadata, type GceMetadataFake } from "../helpers/gce-metadata";
import { bundles, sharedGcs, unique } from "../helpers/shared";

const TOKEN = "ya29.fake-supervisor-token";

let compute: GceComputeFake;
let metadata: GceMetadataFake;

/** The two fakes as the tests read them. */
const google = {
  get groups() {
    return compute.groups;
  },
  /** Every Compute call, as "METHOD path-after-instanceGroupManagers/[?query]". */
  get calls() {
    return compute.calls.map((c) => `${c.method} ${c.path.split("/instanceGroupManagers/")[1]}${c.search}`);
  },
  /** The resizes done, as "name=size". */
  get resizes() {
    return compute.calls.filter((c) => c.status === 200 && c.path.endsWith("/resize")).map((c) => `${c.path.split("/").at(-2)}=${new URLSearchParams(c.search).get("size")}`);
  },
  /** The environment that points the supervisor's Compute client and token at the fakes. */
  env(): Record<string, string> {
    return { SPOTJOB_COMPUTE_ENDPOINT: compute.endpoint, GCE_METADATA_HOST: metadata.host };
  },
};

const PROJECT = "spotjob-test";
const REGION = "us-central1";
const groupPath = (name: string) => `projects/${PROJECT}/regions/${REGION}/instanceGroupManagers/${name}`;
const instanceUrl = (name: string, zone = `${REGION}-a`) => `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${zone}/instances/${name}`;

/** A managed instance as listManagedInstances answers it. */
const running = (name: string): ManagedInstance => ({ instance: instanceUrl(name), name, instanceStatus: "RUNNING", currentAction: "NONE" });
const failingCreation = (name: string, errors: ComputeError[]): ManagedInstance => ({ instance: instanceUrl(name), name, currentAction: "CREATING", lastAttempt: { errors: { errors } } });
/** Preempted with instanceTerminationAction DELETE: the group recreates it; no error, the old VM on its way out. */
const recreatingAfterPreemption = (name: string): ManagedInstance => ({ instance: instanceUrl(name), name, instanceStatus: "STOPPING", currentAction: "RECREATING" });

const STOCKOUT: ComputeError = { code: "ZONE_RESOURCE_POOL_EXHAUSTED", message: `The zone 'projects/${PROJECT}/zones/${REGION}-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.` };
const QUOTA: ComputeError = { code: "QUOTA_EXCEEDED", message: `Quota 'PREEMPTIBLE_NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region ${REGION}.` };

const T0 = Date.parse("2026-11-24T12:00:00Z");
const min = (m: number) => T0 + m * 60_000;
const policy: SupervisorPolicy = { maxRuntimeMinutes: 600, budgetUsd: 100, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 5 };

let counter = 0;

beforeAll(async () => {
  [compute, metadata] = await Promise.all([startGceCompute({ token: TOKEN }), startGceMetadata({ token: TOKEN })]);
});
afterAll(() => Promise.all([compute.close(), metadata.close()]));

const statusJson = (startedAt: number): string =>
  JSON.stringify({ job: "j", state: "RUNNING", holder: "h", items: { done: 0, failed: 0, total: 4 }, attempts: 1, started_at: new Date(startedAt).toISOString(), heartbeat_at: new Date(startedAt).toISOString() } satisfies JobStatus);

/** A job with a spot and an on-demand group on the fake (the on-demand one empty), and a RUNNING status in a directory store. */
async function job(spotInstances: ManagedInstance[]): Promise<SupervisedJob & { spotName: string; odName: string }> {
  const n = counter++;
  const [spotName, odName] = [`job${n}-spot`, `job${n}-ondemand`];
  google.groups.set(groupPath(spotName), { targetSize: 1, instances: spotInstances });
  google.groups.set(groupPath(odName), { targetSize: 0, instances: [] });
  const store = new LocalDirStore(mkdtempSync(join(tmpdir(), "spotjob-supervisor-gcp-")));
  await store.put("status.json", statusJson(T0));
  return { store, spot: { name: groupPath(spotName), pricePerHour: 0.28 }, onDemand: { name: groupPath(odName), pricePerHour: 0.71 }, policy, spotName, odName };
}

const control = () => computeEngineCapacity(supervisorComputeApi(google.env()));
const resizesOf = (j: { spotName: string; odName: string }) => google.resizes.filter((r) => r.startsWith(`${j.spotName}=`) || r.startsWith(`${j.odName}=`));
const savedState = async (j: SupervisedJob) => JSON.parse((await j.store.get(SUPERVISOR_STATE_KEY))!.body.toString());

describe("the supervisor against the Compute Engine API (fake, in the documented shapes)", () => {
  it("healthy: a RUNNING spot instance: nothing changes, nothing is resized", async () => {
    const j = await job([running("job-spot-a1b2")]);
    const d = await superviseWith(j, control(), min(30));
    expect(d.scale).toEqual({});
    expect(d.events).toEqual([]);
    expect(resizesOf(j)).toEqual([]);
    expect(await savedState(j)).toEqual({ spentUsd: 0, lastRunAt: min(30) });
    // It read both groups and their instances, with the metadata server's token (the fake refuses any other).
    expect(google.calls).toEqual(expect.arrayContaining([`GET ${j.spotName}`, `POST ${j.spotName}/listManagedInstances?maxResults=500`, `GET ${j.odName}`, `POST ${j.odName}/listManagedInstances?maxResults=500`]));
    // An hour later the running instance has been charged at its price.
    expect((await superviseWith(j, control(), min(90))).state.spentUsd).toBeCloseTo(0.28, 6);
  });

  it("stockout: ZONE_RESOURCE_POOL_EXHAUSTED on the creating instance is missing capacity: after fallbackAfterMinutes the on-demand group goes to 1, spot to 0", async () => {
    const j = await job([failingCreation("job-spot-c3d4", [STOCKOUT])]);
    expect((await superviseWith(j, control(), min(0))).scale).toEqual({});
    expect((await superviseWith(j, control(), min(9))).scale).toEqual({});
    expect(resizesOf(j)).toEqual([]);
    const due = await superviseWith(j, control(), min(10));
    expect(due.scale).toEqual({ [j.onDemand!.name]: 1, [j.spot.name]: 0 });
    expect(due.events).toEqual(["no healthy spot instance for 10 minute(s): starting the on-demand fallback, scaling spot to zero"]);
    expect(resizesOf(j).sort()).toEqual([`${j.odName}=1`, `${j.spotName}=0`]);
    expect(google.groups.get(groupPath(j.odName))!.targetSize).toBe(1);
    const state = await savedState(j);
    expect(state.launchFailure).toBeUndefined();
    const events = await j.store.list("supervisor/events/");
    expect(events).toHaveLength(1);
    expect(JSON.parse((await j.store.get(events[0]))!.body.toString())).toMatchObject({ scale: { [j.onDemand!.name]: 1, [j.spot.name]: 0 } });
  });

  it("quota: QUOTA_EXCEEDED holds every group at 0, records the metric and the fix, and never falls back", async () => {
    const j = await job([failingCreation("job-spot-e5f6", [QUOTA])]);
    // Seen once: not confirmed yet (a quota can refuse one creation for a moment), and no fallback meanwhile.
    expect((await superviseWith(j, control(), min(0))).scale).toEqual({});
    const confirmed = await superviseWith(j, control(), min(3));
    expect(confirmed.scale).toEqual({ [j.spot.name]: 0 });
    expect(confirmed.events[0]).toMatch(new RegExp(`^launch failed in ${j.spot.name} \\(quota, not missing capacity\\): QUOTA_EXCEEDED: Quota 'PREEMPTIBLE_NVIDIA_L4_GPUS' exceeded`));
    const failure = (await savedState(j)).launchFailure;
    expect(failure).toMatchObject({ kind: "quota", group: j.spot.name, message: `QUOTA_EXCEEDED: ${QUOTA.message}`, at: new Date(min(3)).toISOString() });
    expect(failure.fix).toMatch(/request a higher quota for PREEMPTIBLE_NVIDIA_L4_GPUS in us-central1/);
    expect(failure.fix).toMatch(new RegExp(`gcloud compute instance-groups managed resize ${j.spotName} --size=1 --region=us-central1 --project=${PROJECT}`));
    const events = await j.store.list("supervisor/events/");
    expect(JSON.parse((await j.store.get(events[0]))!.body.toString())).toMatchObject({ launch_failure: { kind: "quota" } });
    // Far past the fallback window: still nothing launched, the on-demand group never touched.
    expect((await superviseWith(j, control(), min(30))).scale).toEqual({});
    expect(resizesOf(j)).toEqual([`${j.spotName}=0`]);
    expect(google.groups.get(groupPath(j.odName))!.targetSize).toBe(0);
  });

  it("preempted: an instance recreated after preemption is not a failure; spot counts as missing until it runs again", async () => {
    const j = await job([recreatingAfterPreemption("job-spot-g7h8")]);
    const d = await superviseWith(j, control(), min(0));
    expect(d.scale).toEqual({});
    expect(d.state.launchFailure).toBeUndefined();
    expect(d.state.spotMissingSince).toBe(min(0));
    // The group brought it back: the window resets, nothing was resized.
    google.groups.get(groupPath(j.spotName))!.instances = [running("job-spot-g7h8")];
    const back = await superviseWith(j, control(), min(2));
    expect(back.scale).toEqual({});
    expect(back.state.spotMissingSince).toBeUndefined();
    expect(resizesOf(j)).toEqual([]);
  });

  it("a group the supervisor may not read: the error names the permission and the fix", async () => {
    const j = await job([running("job-spot-i9j0")]);
    google.groups.get(groupPath(j.spotName))!.forbidden = true;
    const failed = superviseWith(j, control(), min(0));
    await expect(failed).rejects.toBeInstanceOf(ComputeApiError);
    await expect(failed).rejects.toThrow(/HTTP 403: Required 'compute.instanceGroupManagers.get' permission.*Fix: grant the supervisor's service account compute.instanceGroupManagers.get and compute.instanceGroupManagers.update/);
    // Nothing was decided, so nothing was recorded.
    expect(await j.store.get(SUPERVISOR_STATE_KEY)).toBeUndefined();
  });

  it("a token the metadata server does not give: said as such, not as a Compute error", async () => {
    const j = await job([running("job-spot-k1l2")]);
    const unreachable = computeEngineCapacity(supervisorComputeApi({ ...google.env(), GCE_METADATA_HOST: "127.0.0.1:9" }, { metadataTimeoutMs: 2_000 }));
    await expect(superviseWith(j, unreachable, min(0))).rejects.toThrow(/no access token to .*could not reach the metadata server/);
  });
});

/** Runs the bundle's `supervise` command as the Cloud Run job does; resolves with its exit status and output. */
function superviseCommand(env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundles().runtime, "supervise"], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const gcs = sharedGcs();

describe("`node runtime.cjs supervise` (the Cloud Run job's command)", () => {
  const bucket = unique("supervisor-gcp");
  const saved = { ...process.env };
  beforeAll(async () => {
    if (!gcs) return;
    // This process reads and writes the job's GCS store too (openStore reads the emulator's address on first use).
    Object.assign(process.env, emulatorEnv(undefined, gcs));
    await createGcsBucket(gcs, bucket);
  });
  afterAll(() => {
    process.env = saved;
  });
  const config = (store: string, spot: string, onDemand: string): SupervisorConfig => ({ store, spot: { name: spot, pricePerHour: 0.28 }, onDemand: { name: onDemand, pricePerHour: 0.71 }, policy });

  it.runIf(gcs !== undefined)(
    "reads SPOTJOB_SUPERVISOR, supervises the GCP groups with its store on GCS, prints one JSON line and exits 0",
    async () => {
      const store = `gs://${bucket}/jobs/cloud-run`;
      const j = await job([failingCreation("job-spot-m3n4", [STOCKOUT])]);
      // The job's status and a spot window already past, in the GCS store (the command runs on the real clock).
      const now = Date.now();
      const s = openStore(store);
      await s.put("status.json", statusJson(now - 30 * 60_000));
      await s.put(SUPERVISOR_STATE_KEY, JSON.stringify({ spentUsd: 0, lastRunAt: now - 60_000, spotMissingSince: now - 11 * 60_000 }));

      const run = await superviseCommand({ ...emulatorEnv(undefined, gcs), ...google.env(), SPOTJOB_SUPERVISOR: JSON.stringify(config(store, j.spot.name, j.onDemand!.name)) });
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toEqual({ spotjob: "supervisor", scale: { [j.onDemand!.name]: 1, [j.spot.name]: 0 }, events: [expect.stringMatching(/starting the on-demand fallback/)], spentUsd: 0 });
      expect(resizesOf(j).sort()).toEqual([`${j.odName}=1`, `${j.spotName}=0`]);
      expect(JSON.parse((await s.get(SUPERVISOR_STATE_KEY))!.body.toString()).lastRunAt).toBeGreaterThanOrEqual(now);
      expect(await s.list("supervisor/events/")).toHaveLength(1);
    },
    60_000,
  );

  it.each([
    ["SPOTJOB_SUPERVISOR unset", undefined, /spotjob supervisor: error: SPOTJOB_SUPERVISOR is not set/],
    ["not JSON", "{store:", /SPOTJOB_SUPERVISOR is not JSON/],
    ["a directory store", JSON.stringify({ ...config("gs://b/p", groupPath("a"), groupPath("b")), store: "/tmp/store" }), /not a valid supervisor configuration: store: must be an s3:\/\/ or gs:\/\/ URL/],
    ["a group that is not a group path", JSON.stringify(config("gs://b/p", "job-spot", groupPath("b"))), /managed instance group "job-spot" is not a group path: write it as projects\/PROJECT\/regions\/REGION\/instanceGroupManagers\/NAME/],
  ])("a bad configuration (%s) exits 2 with what to fix, touching no group", async (_, value, message) => {
    const before = google.calls.length;
    const run = await superviseCommand({ ...google.env(), SPOTJOB_SUPERVISOR: value });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe("");
    expect(google.calls.length).toBe(before);
  });

  it.runIf(gcs !== undefined)("a Compute API refusal exits 1 with the fix, without a stack trace", async () => {
    const j = await job([running("job-spot-o5p6")]);
    google.groups.get(groupPath(j.odName))!.forbidden = true;
    const run = await superviseCommand({ ...emulatorEnv(undefined, gcs), ...google.env(), SPOTJOB_SUPERVISOR: JSON.stringify(config(`gs://${bucket}/jobs/refused`, j.spot.name, j.onDemand!.name)) });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^spotjob supervisor: error: Compute Engine API refused to (read managed instance group|list the instances of) .*HTTP 403.*Fix: grant/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
