/**
 * The Pulumi program for `provider: gcp`, under Pulumi's mocks: every
 * resource it registers for the example GCP specs is recorded and held to the
 * contract (parents and names; spot, termination and maintenance settings; a
 * private bucket without soft delete; every grant on the bucket, a secret or
 * the job's groups, never project-wide; no spec value or secret in the VM's
 * metadata; the selected machine types and zones; the standby group exactly
 * when the spec asks for fallback; the supervisor and its limits; typed outputs).
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { planFile } from "../../core/plan/plan";
import type { CloudSelection } from "../../core/offers/select";
import { GcpJob } from "../../infra/gcp/gcp-job";
import { gcpNames, groupPath } from "../../infra/gcp/names";
import { beyondTheJob, GROUP_ROLE_PERMISSIONS, type GcpGrant } from "../../infra/gcp/policy";
import { SUPERVISOR_BOOT } from "../../infra/gcp/supervisor-boot";
import { FAKE_GCP_PROJECT, mockGcpBucketsWithoutUbla, mockGcpQuotas, recordingMocks, settled, type RecordedResource } from "../../infra/preview/recording-mocks";
import { componentTree, registrationsDone } from "../helpers/pulumi-mocks";

const root = resolve(__dirname, "../..");
let recorded: RecordedResource[] = [];
beforeEach(() => {
  recorded = [];
});
afterEach(() => {
  mockGcpQuotas.clear();
  mockGcpBucketsWithoutUbla.clear();
});
pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "dev", true);

/** The stack's config as `pulumi config set` leaves it: `spotjob:*` keys by default, others (`gcp:project`) as given. */
async function runProgram(config: Record<string, string>): Promise<Record<string, unknown>> {
  vi.resetModules();
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([key, value]) => [key.includes(":") ? key : `spotjob:${key}`, value])));
  const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
  await settled(stack.store as pulumi.Output<string>);
  await settled(stack.supervisor as pulumi.Output<string>);
  await settled(stack.watch as pulumi.Output<string>);
  // Registration is asynchronous: wait for the last resources to reach the mock monitor.
  await registrationsDone();
  return stack;
}

/** The program's failure, as the preview shows it: the exported store fails with it (nothing else is awaited). */
async function previewError(config: Record<string, string>): Promise<string> {
  vi.resetModules();
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([key, value]) => [`spotjob:${key}`, value])));
  const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
  const failed = await (stack.store as { promise(): Promise<unknown> }).promise().then(
    () => undefined,
    (e: Error) => e,
  );
  expect(failed, "the preview fails").toBeInstanceOf(pulumi.RunError);
  await registrationsDone();
  return failed!.message;
}

function specFile(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-gcp-stack-"));
  writeFileSync(join(dir, "job.yaml"), lines.join("\n") + "\n");
  return join(dir, "job.yaml");
}

const ofType = (type: string) => recorded.filter((r) => r.type === type);
const one = (type: string) => {
  const found = ofType(type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0].inputs as Record<string, any>;
};
const TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate";
const GROUP = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager";
const templates = () => Object.fromEntries(ofType(TEMPLATE).map((t) => [(t.inputs.scheduling as { provisioningModel: string }).provisioningModel, t.inputs as Record<string, any>]));
/** Groups by market (the resource's name ends with it). */
const groups = () => Object.fromEntries(ofType(GROUP).map((g) => [g.name.endsWith("-spot") ? "spot" : "on-demand", g.inputs as Record<string, any>]));
/** Every IAM binding the program registers, as (kind of target, role, member, condition). */
const bindings = () =>
  [
    ...ofType("gcp:storage/bucketIAMMember:BucketIAMMember").map((r) => ({ on: "bucket", target: r.inputs.bucket, ...r.inputs })),
    ...ofType("gcp:secretmanager/secretIamMember:SecretIamMember").map((r) => ({ on: "secret", target: r.inputs.secretId, ...r.inputs })),
    ...ofType("gcp:projects/iAMMember:IAMMember").map((r) => ({ on: "project", target: r.inputs.project, ...r.inputs })),
  ] as { on: string; target: string; role: string; member: string; condition?: { title: string; expression: string } }[];
const asGrants = (bs: ReturnType<typeof bindings>): GcpGrant[] =>
  bs.map((b, i) => ({
    id: String(i),
    target: b.on === "bucket" ? { kind: "bucket", bucket: b.target } : b.on === "secret" ? { kind: "secret", secret: b.target } : { kind: "project", project: b.target },
    role: b.role,
    ...(b.condition ? { condition: { title: b.condition.title, description: "", expression: b.condition.expression } } : {}),
  }));
const supervisorConfig = () => JSON.parse(one("gcp:cloudrunv2/job:Job").template.template.containers[0].envs.find((e: { name: string }) => e.name === "SPOTJOB_SUPERVISOR").value);

const BUCKET = "confinement-h100-gcp-20261124mock";
const names = gcpNames("confinement-h100-gcp", "dev");
const vm = `serviceAccount:${names.instanceAccount}@${FAKE_GCP_PROJECT}.iam.gserviceaccount.com`;
const sv = `serviceAccount:${names.supervisorAccount}@${FAKE_GCP_PROJECT}.iam.gserviceaccount.com`;

describe("the Pulumi program, provider: gcp (jobs/confinement_h100_gcp.yaml: H100 spot with on-demand fallback)", () => {
  it("registers the bucket, uploads, identities, firewall, capacity and supervisor, and exports exactly the GCP outputs", async () => {
    const stack = await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    expect(stack.provider).toBe("gcp");
    expect(stack.chosen).toBe("a3-highgpu-1g (us-central1, spot)");
    // The program's export (`export =`), as the engine reads it.
    const exported = (stack.default ?? stack) as Record<string, unknown>;
    expect(Object.keys(exported).sort()).toEqual(["bucket", "chosen", "groups", "job", "prefix", "pricePerHour", "provider", "runtimeCapMinutes", "store", "supervisor", "uploads", "watch"]);
    for (const [key, value] of Object.entries(exported)) expect(await settled(value as pulumi.Input<unknown>), key).not.toBeUndefined();
    expect(await settled(stack.store as pulumi.Output<string>)).toBe(`gs://${BUCKET}/jobs/confinement-h100-gcp`);
    expect(await settled(stack.bucket as pulumi.Output<string>)).toBe(BUCKET);
    expect(stack.prefix).toBe("jobs/confinement-h100-gcp");
    expect(await settled(stack.groups as pulumi.Output<string[]>)).toEqual([groupPath(FAKE_GCP_PROJECT, "us-central1", names.spotGroup), groupPath(FAKE_GCP_PROJECT, "us-central1", names.onDemandGroup)]);
    expect(await settled(stack.supervisor as pulumi.Output<string>)).toBe(names.supervisorJob);
    expect(await settled(stack.watch as pulumi.Output<string>)).toMatch(/npx spotjob status jobs\/confinement_h100_gcp.yaml --store gs:\/\/.*\/jobs\/confinement-h100-gcp/);
    expect(recorded.map((r) => r.type).sort()).toEqual(
      [
        "spotjob:gcp:Job",
        "spotjob:gcp:JobBucket",
        "gcp:storage/bucket:Bucket",
        "command:local:Command",
        "spotjob:gcp:JobObjects",
        "gcp:storage/bucketObject:BucketObject",
        "gcp:storage/bucketObject:BucketObject",
        "gcp:storage/bucketObject:BucketObject",
        "spotjob:gcp:JobGroupRole",
        "gcp:projects/iAMCustomRole:IAMCustomRole",
        "spotjob:gcp:JobServiceAccount",
        "gcp:serviceaccount/account:Account",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:projects/iAMMember:IAMMember",
        "spotjob:gcp:JobNetwork",
        "gcp:compute/firewall:Firewall",
        "spotjob:gcp:JobCapacity",
        TEMPLATE,
        TEMPLATE,
        GROUP,
        GROUP,
        "spotjob:gcp:JobServiceAccount",
        "gcp:serviceaccount/account:Account",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "gcp:projects/iAMMember:IAMMember",
        "spotjob:gcp:JobSupervisor",
        "gcp:cloudrunv2/job:Job",
        "gcp:cloudrunv2/jobIamMember:JobIamMember",
        "gcp:cloudscheduler/job:Job",
      ].sort(),
    );
  });

  it("spot VMs are deleted on preemption and terminated for host maintenance, never restarted in place; the standby is standard", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    const { SPOT: spot, STANDARD: standard } = templates();
    expect(spot.scheduling).toEqual({ provisioningModel: "SPOT", preemptible: true, automaticRestart: false, onHostMaintenance: "TERMINATE", instanceTerminationAction: "DELETE" });
    expect(standard.scheduling).toEqual({ provisioningModel: "STANDARD", preemptible: false, automaticRestart: false, onHostMaintenance: "TERMINATE" });
    for (const t of [spot, standard]) {
      // The H100 comes with its machine type: nothing to attach.
      expect(t.machineType).toBe("a3-highgpu-1g");
      expect(t.guestAccelerators).toBeUndefined();
      expect(t.region).toBe("us-central1");
      expect(t.project).toBe(FAKE_GCP_PROJECT);
      expect(t.shieldedInstanceConfig).toEqual({ enableSecureBoot: false, enableVtpm: true, enableIntegrityMonitoring: true });
      expect(t.serviceAccount).toEqual({ email: `${names.instanceAccount}@${FAKE_GCP_PROJECT}.iam.gserviceaccount.com`, scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
      // The Deep Learning VM image; the spec's 30 GB disk is raised to the image's 50 GB (a smaller one fails every launch).
      expect(t.disks).toEqual([
        { boot: true, autoDelete: true, diskSizeGb: 50, diskType: "pd-balanced", sourceImage: `https://www.googleapis.com/compute/v1/projects/deeplearning-platform-release/global/images/common-cu129-ubuntu-2404-nvidia-580-v20261124` },
      ]);
      expect(t.networkInterfaces).toEqual([{ network: "default", accessConfigs: [{}] }]);
      expect(t.tags).toEqual([names.networkTag]);
      expect(t.labels).toEqual({ "spotjob-job": "confinement-h100-gcp", "spotjob-stack": "dev" });
    }
  });

  it("launches one spot VM in whichever zone has capacity, with an on-demand standby group at zero", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    const { spot, "on-demand": onDemand } = groups();
    const common = {
      project: FAKE_GCP_PROJECT,
      region: "us-central1",
      // Every zone of the region that is up: GCP picks the one with the hardware and the capacity.
      distributionPolicyZones: ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"],
      distributionPolicyTargetShape: "ANY_SINGLE_ZONE",
      updatePolicy: { type: "OPPORTUNISTIC", minimalAction: "REPLACE", instanceRedistributionType: "NONE", maxSurgeFixed: 0, maxUnavailableFixed: 4 },
      instanceLifecyclePolicy: { defaultActionOnFailure: "REPAIR", forceUpdateOnRepair: "YES" },
      waitForInstances: false,
    };
    expect(spot).toMatchObject({ ...common, name: names.spotGroup, targetSize: 1 });
    expect(onDemand).toMatchObject({ ...common, name: names.onDemandGroup, targetSize: 0 });
    // One machine type feasible: no instance flexibility policy.
    expect(spot.instanceFlexibilityPolicy).toBeUndefined();
    const { SPOT, STANDARD } = templates();
    expect(spot.versions[0].instanceTemplate).toMatch(/instanceTemplates\/confinement-h100-gcp-spot-mock$/);
    expect(onDemand.versions[0].instanceTemplate).toMatch(/instanceTemplates\/confinement-h100-gcp-on-demand-mock$/);
    expect([SPOT.description, STANDARD.description]).toEqual([`spotjob: spot VMs of ${names.spotGroup}`, `spotjob: on-demand VMs of ${names.onDemandGroup}`]);
  });

  it("keeps the bucket private, without soft delete, versioned with old versions and stalled uploads expiring, and keeps results on destroy", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    const bucket = one("gcp:storage/bucket:Bucket");
    expect(bucket).toMatchObject({ location: "US-CENTRAL1", uniformBucketLevelAccess: true, publicAccessPrevention: "enforced", softDeletePolicy: { retentionDurationSeconds: 0 }, versioning: { enabled: true }, forceDestroy: false });
    expect(bucket.lifecycleRules).toEqual([
      { action: { type: "Delete" }, condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: 7, matchesPrefixes: ["jobs/confinement-h100-gcp/"] } },
      { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: 1, matchesPrefixes: ["jobs/confinement-h100-gcp/"] } },
      { action: { type: "Delete" }, condition: { age: 1, matchesPrefixes: ["jobs/confinement-h100-gcp/uploads/"] } },
    ]);
    expect(one("command:local:Command").delete).toMatch(/results kept in gs:\/\/\$BUCKET\/\$PREFIX.*pulumi config set spotjob:bucket \$BUCKET && pulumi up/);
  });

  it("binds every grant to the bucket, a secret or the job's own groups: objects only under the prefix, nothing project-wide", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    const all = bindings();
    expect(beyondTheJob(asGrants(all))).toEqual([]);
    for (const b of all) expect(b.condition, `${b.role} on ${b.target}`).toBeDefined();
    const objects = `resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/jobs/confinement-h100-gcp/")`;
    const listing = 'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("jobs/confinement-h100-gcp/")';
    const ownGroups = `resource.name.endsWith("/regions/us-central1/instanceGroupManagers/${names.spotGroup}") || resource.name.endsWith("/regions/us-central1/instanceGroupManagers/${names.onDemandGroup}")`;
    const role = `projects/${FAKE_GCP_PROJECT}/roles/${names.groupRole}`;
    const view = (member: string) => all.filter((b) => b.member === member).map((b) => [b.on, b.target, b.role, b.condition!.expression]);
    expect(view(vm)).toEqual([
      ["bucket", BUCKET, "roles/storage.objectUser", objects],
      ["bucket", BUCKET, "roles/storage.objectViewer", listing],
      ["project", FAKE_GCP_PROJECT, role, ownGroups],
    ]);
    expect(view(sv)).toEqual([
      ["bucket", BUCKET, "roles/storage.objectViewer", objects],
      ["bucket", BUCKET, "roles/storage.objectViewer", listing],
      ["bucket", BUCKET, "roles/storage.objectUser", `resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/jobs/confinement-h100-gcp/supervisor/")`],
      ["project", FAKE_GCP_PROJECT, role, ownGroups],
    ]);
    expect(one("gcp:projects/iAMCustomRole:IAMCustomRole")).toMatchObject({ project: FAKE_GCP_PROJECT, roleId: names.groupRole, permissions: [...GROUP_ROLE_PERMISSIONS] });
    expect(ofType("gcp:secretmanager/secretIamMember:SecretIamMember")).toEqual([]);
  });

  it("puts no spec value and no secret in the VM's metadata: only the startup script, which fetches the spec from the bucket", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    for (const t of Object.values(templates())) {
      expect(Object.keys(t.metadata).sort()).toEqual(["block-project-ssh-keys", "install-nvidia-driver", "startup-script"]);
      expect(t.metadata["install-nvidia-driver"]).toBe("True");
      const script = t.metadata["startup-script"] as string;
      expect(script).toMatch(/^#!\/bin\/bash/);
      expect(script).not.toMatch(/USE_NODE|pip3 install|SWEEP COMPLETE|ghcr\.io|jax\[cuda12\]/);
      expect(script).toContain(`gs://${BUCKET}/jobs/confinement-h100-gcp`);
      expect(script).toContain(groupPath(FAKE_GCP_PROJECT, "us-central1", names.spotGroup));
      expect(t.metadataStartupScript).toBeUndefined();
    }
    expect(ofType("gcp:storage/bucketObject:BucketObject").map((o) => [o.inputs.bucket, o.inputs.name])).toEqual([
      [BUCKET, "jobs/confinement-h100-gcp/deploy/runtime.cjs"],
      [BUCKET, "jobs/confinement-h100-gcp/deploy/spec.json"],
      [BUCKET, "jobs/confinement-h100-gcp/deploy/workdir.tar.gz"],
    ]);
  });

  it("opens no inbound port: a rule refuses every connection to the job's tag, above the default network's allow-ssh", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    expect(one("gcp:compute/firewall:Firewall")).toMatchObject({
      network: "default",
      direction: "INGRESS",
      priority: 1000,
      denies: [{ protocol: "all" }],
      sourceRanges: ["0.0.0.0/0"],
      targetTags: [names.networkTag],
    });
  });

  it("the supervisor: a Cloud Run job of the same runtime, run every minute as its own account, with the spec's limits and both groups", async () => {
    await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
    const job = one("gcp:cloudrunv2/job:Job");
    expect(job).toMatchObject({ project: FAKE_GCP_PROJECT, location: "us-central1", name: names.supervisorJob, deletionProtection: false });
    const container = job.template.template.containers[0];
    expect(job.template.template).toMatchObject({ serviceAccount: `${names.supervisorAccount}@${FAKE_GCP_PROJECT}.iam.gserviceaccount.com`, maxRetries: 0, timeout: "50s" });
    expect(container).toMatchObject({ image: "docker.io/library/node:24-slim", commands: ["node"], args: ["-e", SUPERVISOR_BOOT] });
    const env = Object.fromEntries(container.envs.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ SPOTJOB_RUNTIME_BUCKET: BUCKET, SPOTJOB_RUNTIME_OBJECT: "jobs/confinement-h100-gcp/deploy/runtime.cjs" });
    const config = supervisorConfig();
    expect(config.store).toBe(`gs://${BUCKET}/jobs/confinement-h100-gcp`);
    expect(config.spot).toEqual({ name: groupPath(FAKE_GCP_PROJECT, "us-central1", names.spotGroup), pricePerHour: 5 });
    expect(config.onDemand).toEqual({ name: groupPath(FAKE_GCP_PROJECT, "us-central1", names.onDemandGroup), pricePerHour: 11 });
    expect(config.policy).toEqual({ maxRuntimeMinutes: null, budgetUsd: 120, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 420 });
    expect(one("gcp:cloudrunv2/jobIamMember:JobIamMember")).toEqual({ project: FAKE_GCP_PROJECT, location: "us-central1", name: names.supervisorJob, role: "roles/run.invoker", member: sv });
    expect(one("gcp:cloudscheduler/job:Job")).toMatchObject({
      project: FAKE_GCP_PROJECT,
      region: "us-central1",
      schedule: "* * * * *",
      timeZone: "Etc/UTC",
      retryConfig: { retryCount: 0 },
      httpTarget: {
        httpMethod: "POST",
        uri: `https://run.googleapis.com/v2/projects/${FAKE_GCP_PROJECT}/locations/us-central1/jobs/${names.supervisorJob}:run`,
        oauthToken: { serviceAccountEmail: `${names.supervisorAccount}@${FAKE_GCP_PROJECT}.iam.gserviceaccount.com`, scope: "https://www.googleapis.com/auth/cloud-platform" },
      },
    });
  });
});

describe("the Pulumi program, provider: gcp, other specs", () => {
  it("jobs/minimal_l4_gcp.yaml: one spot group on g2-standard-4, no standby; the supervisor still enforces the budget, with no on-demand group", async () => {
    const stack = await runProgram({ job: "jobs/minimal_l4_gcp.yaml" });
    expect(stack.chosen).toBe("g2-standard-4 (us-central1, spot)");
    expect(Object.keys(groups())).toEqual(["spot"]);
    expect(Object.keys(templates())).toEqual(["SPOT"]);
    expect(templates().SPOT.machineType).toBe("g2-standard-4");
    const config = supervisorConfig();
    expect(config.onDemand).toBeUndefined();
    expect(config.policy).toMatchObject({ spotFallback: false, budgetUsd: 5 });
    // No workdir in the spec: nothing but the runtime and the spec is uploaded.
    expect(ofType("gcp:storage/bucketObject:BucketObject").map((o) => o.inputs.name)).toEqual(["jobs/minimal-l4-gcp/deploy/runtime.cjs", "jobs/minimal-l4-gcp/deploy/spec.json"]);
    const l4 = gcpNames("minimal-l4-gcp", "dev");
    expect(bindings().find((b) => b.on === "project")!.condition!.expression).toBe(`resource.name.endsWith("/regions/us-central1/instanceGroupManagers/${l4.spotGroup}")`);
  });

  it("SSH only when asked, from the listed CIDRs; secrets granted per secret to the VM alone, and named nowhere in its metadata", async () => {
    const file = specFile([
      "provider: gcp",
      "name: ssh-job",
      "gpu_type: L4",
      "region: us-central1",
      "run: python3 train.py",
      "cost: {max_cost_per_hour: 2, max_total_budget: 10}",
      "ssh: {public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample you@laptop', cidrs: ['203.0.113.7/32']}",
      "envs: {PLAIN: not-a-secret-value-zz}",
      "secrets: {HF_TOKEN: 'gcpsm:hf-token', DB_PASSWORD: 'gcpsm:projects/other-project/secrets/db/versions/3'}",
    ]);
    await runProgram({ job: file });
    const rules = Object.fromEntries(ofType("gcp:compute/firewall:Firewall").map((r) => [r.name, r.inputs as Record<string, any>]));
    const tag = gcpNames("ssh-job", "dev").networkTag;
    expect(rules["ssh-job-ssh"]).toMatchObject({ direction: "INGRESS", priority: 900, allows: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: ["203.0.113.7/32"], targetTags: [tag] });
    expect(rules["ssh-job-deny-ingress"]).toMatchObject({ priority: 1000, denies: [{ protocol: "all" }], targetTags: [tag] });
    const template = templates().SPOT;
    expect(template.metadata["ssh-keys"]).toBe("spotjob:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample you@laptop");
    const secrets = ofType("gcp:secretmanager/secretIamMember:SecretIamMember").map((r) => [r.inputs.secretId, r.inputs.role, r.inputs.member]);
    const member = `serviceAccount:${gcpNames("ssh-job", "dev").instanceAccount}@${FAKE_GCP_PROJECT}.iam.gserviceaccount.com`;
    expect(secrets).toEqual([
      ["projects/other-project/secrets/db", "roles/secretmanager.secretAccessor", member],
      [`projects/${FAKE_GCP_PROJECT}/secrets/hf-token`, "roles/secretmanager.secretAccessor", member],
    ]);
    const metadata = JSON.stringify(template.metadata);
    expect(metadata).not.toMatch(/hf-token|other-project|not-a-secret-value-zz|HF_TOKEN|DB_PASSWORD/);
    expect(JSON.stringify(one("gcp:cloudrunv2/job:Job"))).not.toMatch(/hf-token|other-project|not-a-secret-value-zz/);
  });

  it("a T4 is attached to its N1 machine type as a guest accelerator; the group keeps to the spec's zones", async () => {
    const file = specFile(["provider: gcp", "name: t4-job", "gpu_type: T4", "region: us-central1", "zones: [us-central1-f, us-central1-b]", "run: python3 train.py"]);
    await runProgram({ job: file });
    // The spec's zones, when it names them.
    expect(groups().spot.distributionPolicyZones).toEqual(["us-central1-b", "us-central1-f"]);
    expect(groups().spot.updatePolicy.maxUnavailableFixed).toBe(2);
    const t = templates().SPOT;
    expect(t.machineType).toBe("n1-standard-4");
    expect(t.guestAccelerators).toEqual([{ type: "nvidia-tesla-t4", count: 1 }]);
    expect(groups().spot.instanceFlexibilityPolicy).toBeUndefined();
  });

  it("several feasible machine types with their own GPUs: the group may create any of them, cheapest first", async () => {
    const file = specFile(["provider: gcp", "name: a100-job", "gpu_type: A100", "region: us-central1", "run: python3 train.py", "cost: {max_cost_per_hour: 6, max_total_budget: 20}"]);
    await runProgram({ job: file });
    expect(templates().SPOT.machineType).toBe("a2-highgpu-1g");
    expect(groups().spot.instanceFlexibilityPolicy).toEqual({
      instanceSelections: [
        { name: "rank-0-a2-highgpu-1g", machineTypes: ["a2-highgpu-1g"], rank: 0 },
        { name: "rank-1-a2-ultragpu-1g", machineTypes: ["a2-ultragpu-1g"], rank: 1 },
      ],
    });
    // The supervisor charges the budget at the dearest type the group may launch.
    expect(supervisorConfig().spot.pricePerHour).toBe(2);
  });

  it("without use_spot the one group is standard, at one VM", async () => {
    const file = specFile(["provider: gcp", "name: od-job", "gpu_type: L4", "region: us-central1", "use_spot: false", "run: python3 train.py"]);
    await runProgram({ job: file });
    expect(Object.keys(templates())).toEqual(["STANDARD"]);
    expect(Object.keys(groups())).toEqual(["on-demand"]);
    expect(groups()["on-demand"]).toMatchObject({ name: gcpNames("od-job", "dev").onDemandGroup, targetSize: 1 });
    expect(supervisorConfig()).toMatchObject({ spot: { name: groupPath(FAKE_GCP_PROJECT, "us-central1", gcpNames("od-job", "dev").onDemandGroup) }, policy: { spotFallback: false } });
    expect(templates().STANDARD.scheduling.instanceTerminationAction).toBeUndefined();
  });

  it("the stack's gcp:project is the project every resource names; a gcp:region elsewhere is warned about", async () => {
    const warn = vi.spyOn(pulumi.log, "warn");
    try {
      await runProgram({ job: "jobs/minimal_l4_gcp.yaml", "gcp:project": "my-team-project", "gcp:region": "europe-west4" });
      for (const r of recorded.filter((r) => r.type.startsWith("gcp:") && r.type !== "gcp:storage/bucketObject:BucketObject" && !r.type.includes("IAMMember") && !r.type.includes("iAMMember")))
        expect(r.inputs.project, r.type).toBe("my-team-project");
      expect(templates().SPOT.metadata["startup-script"]).toContain("projects/my-team-project/regions/us-central1/instanceGroupManagers/");
      expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringMatching(/runs in us-central1, where its offer is, not in the stack's gcp:region europe-west4/));
    } finally {
      warn.mockRestore();
    }
  });

  it("with spotjob:bucket it creates no bucket and binds on the given one; one without uniform access fails the preview; deleteResultsOnDestroy lets the bucket go", async () => {
    await runProgram({ job: "jobs/minimal_l4_gcp.yaml", bucket: "earlier-results" });
    expect(ofType("gcp:storage/bucket:Bucket")).toEqual([]);
    expect(supervisorConfig().store).toBe("gs://earlier-results/jobs/minimal-l4-gcp");
    for (const b of bindings().filter((b) => b.on === "bucket")) expect(b.target).toBe("earlier-results");
    recorded = [];
    mockGcpBucketsWithoutUbla.add("fine-grained-results");
    expect(await previewError({ job: "jobs/minimal_l4_gcp.yaml", bucket: "fine-grained-results" })).toMatch(/^spotjob:bucket fine-grained-results does not have uniform bucket-level access.*--uniform-bucket-level-access/);
    expect(recorded).toEqual([]);
    await runProgram({ job: "jobs/minimal_l4_gcp.yaml", deleteResultsOnDestroy: "true" });
    expect(one("gcp:storage/bucket:Bucket").forceDestroy).toBe(true);
  });

  it("a violated cost guard fails the preview before any resource is registered", async () => {
    const file = specFile(["provider: gcp", "name: too-dear", "gpu_type: H100", "gpu_count: 8", "run: python3 train.py", "cost: {max_cost_per_hour: 1}"]);
    await expect(runProgram({ job: file })).rejects.toThrow(/too-dear|max_cost_per_hour/);
    expect(recorded).toEqual([]);
  });
});

describe("the Pulumi program, provider: gcp: GPU quota at preview", () => {
  const quota = (value: string) => ({ dimensionsInfos: [{ applicableLocations: ["us-central1"], details: [{ value }], dimensions: { region: "us-central1" } }] });

  it("warns, naming the metric, the region and where to ask, when the job's quota is zero; says nothing when it is enough", async () => {
    const warn = vi.spyOn(pulumi.log, "warn");
    try {
      mockGcpQuotas.set("PREEMPTIBLE-NVIDIA-H100-GPUS-per-project-region", quota("0"));
      mockGcpQuotas.set("NVIDIA-H100-GPUS-per-project-region", quota("8"));
      await runProgram({ job: "jobs/confinement_h100_gcp.yaml" });
      await vi.waitFor(() => expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringMatching(/GPU quota in us-central1 .*PREEMPTIBLE_NVIDIA_H100_GPUS is 0, and a spot VM needs 1 GPU/)));
      const quotaWarnings = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes("GPU quota"));
      expect(quotaWarnings).toHaveLength(1);
      expect(quotaWarnings[0]).toContain(`https://console.cloud.google.com/iam-admin/quotas?project=${FAKE_GCP_PROJECT}`);
      expect(quotaWarnings[0]).toContain("compute.googleapis.com/preemptible_nvidia_h100_gpus");
    } finally {
      warn.mockRestore();
    }
  });

  it("says at info level, not as a warning, when the quota cannot be read (no credentials)", async () => {
    const warn = vi.spyOn(pulumi.log, "warn");
    const info = vi.spyOn(pulumi.log, "info");
    try {
      await runProgram({ job: "jobs/minimal_l4_gcp.yaml" });
      await vi.waitFor(() => expect(info.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringMatching(/could not read the GCP quota PREEMPTIBLE_NVIDIA_L4_GPUS in us-central1 .*preview goes on/)));
      expect(warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes("quota"))).toEqual([]);
    } finally {
      warn.mockRestore();
      info.mockRestore();
    }
  });
});

describe("GcpJob", () => {
  const plan = (file: string) => {
    const p = planFile(file);
    if (p.outcome !== "ok" || p.selection.local) throw new Error("plan");
    return p;
  };

  it("parents every resource under the component, named after it; a preemption notice, when asked for, is on the spot template only", async () => {
    const file = join(root, "jobs/confinement_h100_gcp.yaml");
    const p = plan(file);
    const job = new GcpJob("tree-test", {
      spec: p.loaded.spec,
      specDir: dirname(file),
      selection: p.selection as CloudSelection,
      stack: "dev",
      project: "tree-project",
      runtimeBundle: join(root, "package.json"), // any file: the mocks do not read it
      secrets: [],
      preemptionNoticeSeconds: 120,
    });
    await settled(job.store);
    await settled(job.supervisor);
    await registrationsDone();
    const seen = componentTree(job, "tree-test");
    // Every resource the component registered is in its tree.
    expect(seen.length).toBe(recorded.length - 1);
    const { SPOT, STANDARD } = templates();
    expect(SPOT.scheduling.preemptionNoticeDuration).toEqual({ seconds: 120 });
    expect(STANDARD.scheduling.preemptionNoticeDuration).toBeUndefined();
    expect(beyondTheJob(await settled(job.instanceGrants))).toEqual([]);
    expect(beyondTheJob(await settled(job.supervisorGrants))).toEqual([]);
  });
});
