/**
 * The GCP stack's pure planners, table by table: names within GCP's rules,
 * the grants (exact conditions, nothing beyond the job), the GPU quota a job
 * needs and what a quota info says, what each group launches and how its VMs
 * are scheduled, the image and boot disk, and the settings' checks.
 */
import { describe, expect, it } from "vitest";
import type { Offer } from "../../core/offers/offer";
import { existingBucketProblem, lifecycleRules } from "../../infra/gcp/bucket";
import { bootDiskGb, imageLookup } from "../../infra/gcp/capacity";
import { groupPlan, groupZones, instanceFlexibility, scheduling } from "../../infra/gcp/capacity-plan";
import { preemptionNotice } from "../../infra/gcp/deploy";
import { gcpNames, groupPath } from "../../infra/gcp/names";
import { beyondTheJob, groupPaths, groupsCondition, instanceGrants, listingsUnder, objectsUnder, secretOf, supervisorGrants, type GcpGrant, type GcpScope } from "../../infra/gcp/policy";
import { cloudQuotaId, gpuQuotaMetric, quotaIn, quotaWarning, type QuotaInfoView } from "../../infra/gcp/quota";

describe("gcpNames", () => {
  const RFC1035 = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
  it.each([
    ["a2", "dev"],
    ["confinement-h100-gcp", "dev"],
    ["a-forty-character-job-name-for-the-test1", "production-eu"],
  ])("%s in stack %s: every name within GCP's rules, and distinct per stack", (job, stack) => {
    const n = gcpNames(job, stack);
    for (const name of [n.spotGroup, n.onDemandGroup, n.networkTag, n.supervisorJob]) expect(name, name).toMatch(RFC1035);
    for (const name of [n.spotGroup, n.onDemandGroup, n.networkTag]) expect(name.length, name).toBeLessThanOrEqual(63);
    expect(n.supervisorJob.length).toBeLessThanOrEqual(49);
    for (const id of [n.instanceAccount, n.supervisorAccount]) expect(id, id).toMatch(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
    expect(n.groupRole).toMatch(/^[a-zA-Z0-9_.]{3,64}$/);
    expect(n.prefix).toBe(`jobs/${job}`);
    const other = gcpNames(job, `${stack}-2`);
    for (const key of ["spotGroup", "onDemandGroup", "instanceAccount", "supervisorAccount", "groupRole", "supervisorJob", "networkTag"] as const) expect(other[key]).not.toBe(n[key]);
  });

  it("group paths are the regional form the runtime and the supervisor take", () => {
    expect(groupPath("p-123456", "us-central1", "g")).toBe("projects/p-123456/regions/us-central1/instanceGroupManagers/g");
    expect(groupPaths({ project: "p-123456", region: "us-east1", groupNames: ["a", "b"] })).toEqual(["projects/p-123456/regions/us-east1/instanceGroupManagers/a", "projects/p-123456/regions/us-east1/instanceGroupManagers/b"]);
  });
});

describe("the grants", () => {
  const scope: GcpScope = { project: "team-project", region: "us-central1", bucket: "results-b", prefix: "jobs/j", groupNames: ["g-spot", "g-ondemand"], groupRole: "projects/team-project/roles/spotjob_j_groups" };

  it.each([
    ["objects under a prefix", objectsUnder("b", "jobs/j/"), 'resource.name.startsWith("projects/_/buckets/b/objects/jobs/j/")'],
    ["listings under a prefix", listingsUnder("jobs/j/"), 'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("jobs/j/")'],
    ["one group", groupsCondition("us-east1", ["g"]), 'resource.name.endsWith("/regions/us-east1/instanceGroupManagers/g")'],
    [
      "two groups",
      groupsCondition("us-east1", ["g", "h"]),
      'resource.name.endsWith("/regions/us-east1/instanceGroupManagers/g") || resource.name.endsWith("/regions/us-east1/instanceGroupManagers/h")',
    ],
    ["a value with a quote stays one CEL string", objectsUnder("b", 'jobs/x") || true || ("'), 'resource.name.startsWith("projects/_/buckets/b/objects/jobs/x\\") || true || (\\"")'],
  ])("condition: %s", (_, expression, expected) => expect(expression).toBe(expected));

  it.each([
    ["a bare secret id is its latest version in the job's project", "hf-token", "projects/team-project/secrets/hf-token"],
    ["a version's name is its secret", "projects/other/secrets/db/versions/3", "projects/other/secrets/db"],
    ["latest, by name", "projects/other/secrets/db/versions/latest", "projects/other/secrets/db"],
  ])("secretOf: %s", (_, ref, secret) => expect(secretOf(ref, "team-project")).toBe(secret));

  it("the VM's: its objects, listing, its groups and each named secret once; the supervisor's: read, list, its records, the groups", () => {
    const vm = instanceGrants({ ...scope, secrets: ["hf-token", "projects/team-project/secrets/hf-token/versions/latest", "projects/other/secrets/db/versions/2"] });
    expect(vm.map((g) => [g.id, g.target, g.role, g.condition?.expression])).toEqual([
      ["objects", { kind: "bucket", bucket: "results-b" }, "roles/storage.objectUser", 'resource.name.startsWith("projects/_/buckets/results-b/objects/jobs/j/")'],
      ["listing", { kind: "bucket", bucket: "results-b" }, "roles/storage.objectViewer", 'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("jobs/j/")'],
      ["groups", { kind: "project", project: "team-project" }, "projects/team-project/roles/spotjob_j_groups", groupsCondition("us-central1", ["g-spot", "g-ondemand"])],
      ["secret-0", { kind: "secret", secret: "projects/other/secrets/db" }, "roles/secretmanager.secretAccessor", undefined],
      ["secret-1", { kind: "secret", secret: "projects/team-project/secrets/hf-token" }, "roles/secretmanager.secretAccessor", undefined],
    ]);
    const sv = supervisorGrants(scope);
    expect(sv.map((g) => [g.id, g.role, g.condition?.expression])).toEqual([
      ["read", "roles/storage.objectViewer", 'resource.name.startsWith("projects/_/buckets/results-b/objects/jobs/j/")'],
      ["listing", "roles/storage.objectViewer", 'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("jobs/j/")'],
      ["records", "roles/storage.objectUser", 'resource.name.startsWith("projects/_/buckets/results-b/objects/jobs/j/supervisor/")'],
      ["groups", "projects/team-project/roles/spotjob_j_groups", groupsCondition("us-central1", ["g-spot", "g-ondemand"])],
    ]);
    for (const grants of [vm, sv]) expect(beyondTheJob(grants)).toEqual([]);
    expect(sv.some((g) => g.target.kind === "secret")).toBe(false);
  });

  it.each<[string, GcpGrant, boolean]>([
    ["an unconditioned project binding", { id: "x", target: { kind: "project", project: "p" }, role: "projects/p/roles/r" }, true],
    ["a predefined storage role on the project, even conditioned", { id: "x", target: { kind: "project", project: "p" }, role: "roles/storage.objectAdmin", condition: { title: "t", description: "", expression: "true" } }, true],
    ["compute admin on the project", { id: "x", target: { kind: "project", project: "p" }, role: "roles/compute.instanceAdmin.v1", condition: { title: "t", description: "", expression: "true" } }, true],
    ["an object role on the whole bucket", { id: "x", target: { kind: "bucket", bucket: "b" }, role: "roles/storage.objectUser" }, true],
    ["a conditioned custom role on the project", { id: "x", target: { kind: "project", project: "p" }, role: "projects/p/roles/r", condition: { title: "t", description: "", expression: "e" } }, false],
    ["a conditioned bucket binding", { id: "x", target: { kind: "bucket", bucket: "b" }, role: "roles/storage.objectUser", condition: { title: "t", description: "", expression: "e" } }, false],
    ["a secret binding", { id: "x", target: { kind: "secret", secret: "projects/p/secrets/s" }, role: "roles/secretmanager.secretAccessor" }, false],
  ])("beyondTheJob: %s → %s", (_, grant, beyond) => expect(beyondTheJob([grant])).toEqual(beyond ? [grant] : []));
});

describe("GPU quotas", () => {
  it.each([
    ["nvidia-l4", "spot", "PREEMPTIBLE_NVIDIA_L4_GPUS", "PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region"],
    ["nvidia-l4", "on-demand", "NVIDIA_L4_GPUS", "NVIDIA-L4-GPUS-per-project-region"],
    ["nvidia-tesla-t4", "spot", "PREEMPTIBLE_NVIDIA_T4_GPUS", "PREEMPTIBLE-NVIDIA-T4-GPUS-per-project-region"],
    ["nvidia-tesla-a100", "on-demand", "NVIDIA_A100_GPUS", "NVIDIA-A100-GPUS-per-project-region"],
    ["nvidia-a100-80gb", "spot", "PREEMPTIBLE_NVIDIA_A100_80GB_GPUS", "PREEMPTIBLE-NVIDIA-A100-80GB-GPUS-per-project-region"],
    ["nvidia-h100-80gb", "spot", "PREEMPTIBLE_NVIDIA_H100_GPUS", "PREEMPTIBLE-NVIDIA-H100-GPUS-per-project-region"],
    ["nvidia-h100-80gb", "on-demand", "NVIDIA_H100_GPUS", "NVIDIA-H100-GPUS-per-project-region"],
  ] as const)("%s, %s: %s (%s)", (type, market, metric, id) => {
    expect(gpuQuotaMetric(type, market)).toBe(metric);
    expect(cloudQuotaId(metric)).toBe(id);
  });

  it("an accelerator type not known here has no metric (no warning rather than a wrong one)", () => {
    expect(gpuQuotaMetric("nvidia-future-9000", "spot")).toBeUndefined();
    expect(gpuQuotaMetric(undefined, "spot")).toBeUndefined();
  });

  it.each<[string, QuotaInfoView["dimensionsInfos"], number | undefined]>([
    ["a value for the region", [{ dimensions: { region: "us-central1" }, details: [{ value: "4" }], applicableLocations: ["us-central1"] }], 4],
    ["the region's value before the default", [{ dimensions: {}, details: [{ value: "1" }], applicableLocations: ["us-central1", "us-east1"] }, { dimensions: { region: "us-central1" }, details: [{ value: "0" }] }], 0],
    ["an undimensioned value that applies to the region", [{ details: [{ value: "2" }], applicableLocations: ["us-east1", "us-central1"] }], 2],
    ["an unlimited quota", [{ dimensions: { region: "us-central1" }, details: [{ value: "-1" }] }], Infinity],
    ["nothing about the region", [{ dimensions: { region: "us-east1" }, details: [{ value: "8" }] }], undefined],
    ["no value", [{ dimensions: { region: "us-central1" }, details: [] }], undefined],
  ])("quotaIn: %s", (_, dimensionsInfos, value) => expect(quotaIn({ dimensionsInfos }, "us-central1")).toBe(value));

  it("warns only when every quota the group could use is known and below one VM's GPUs", () => {
    const need = { region: "us-central1", gpus: 8, what: "a spot VM" };
    expect(quotaWarning(need, [{ metric: "PREEMPTIBLE_NVIDIA_H100_GPUS", value: 0 }], "team-p")).toBe(
      "spotjob: GPU quota in us-central1 for project team-p: PREEMPTIBLE_NVIDIA_H100_GPUS is 0, and a spot VM needs 8 GPUs: no VM can start until it is raised. " +
        "Request at least 8 at https://console.cloud.google.com/iam-admin/quotas?project=team-p (filter by the metric compute.googleapis.com/preemptible_nvidia_h100_gpus and the region us-central1)",
    );
    expect(quotaWarning(need, [{ metric: "A", value: 4 }], "p")).toMatch(/A is 4, and a spot VM needs 8 GPUs/);
    expect(quotaWarning(need, [{ metric: "A", value: 8 }], "p")).toBeUndefined();
    expect(quotaWarning(need, [{ metric: "A", value: 0 }, { metric: "B", value: 16 }], "p")).toBeUndefined();
    expect(quotaWarning(need, [{ metric: "A", value: 0 }, { metric: "B", value: undefined }], "p")).toBeUndefined();
    expect(quotaWarning(need, [], "p")).toBeUndefined();
  });
});

describe("what a group launches, and how", () => {
  const offer = (o: Partial<Offer> & Pick<Offer, "instanceType">): Offer => ({
    cloud: "gcp",
    region: "us-central1",
    zones: ["us-central1-a"],
    gpu: "A100",
    gpuCount: 1,
    gpuMemoryGb: 40,
    vcpus: 12,
    memoryGb: 85,
    spotPerHour: 1,
    spotEstimated: false,
    onDemandPerHour: 3,
    ...o,
  });
  const highgpu = offer({ instanceType: "a2-highgpu-1g", acceleratorType: "nvidia-tesla-a100", zones: ["us-central1-a", "us-central1-f"], spotPerHour: 1.4, onDemandPerHour: 3.67 });
  const ultragpu = offer({ instanceType: "a2-ultragpu-1g", acceleratorType: "nvidia-a100-80gb", zones: ["us-central1-c", "us-central1-a"], spotPerHour: 2, onDemandPerHour: 5.07 });
  const elsewhere = offer({ instanceType: "a2-highgpu-1g", region: "us-east1", zones: ["us-east1-b"], spotPerHour: 0.5 });
  const t4 = offer({ instanceType: "n1-standard-4", gpu: "T4", acceleratorType: "nvidia-tesla-t4", attachAccelerator: true, zones: ["us-central1-b"], spotPerHour: 0.18, onDemandPerHour: 0.54 });

  it("bundled GPUs: every feasible type of the chosen region, cheapest first in the market, all their zones, the dearest price", () => {
    const plan = groupPlan({ chosen: highgpu, feasible: [ultragpu, elsewhere, highgpu] }, "spot");
    expect(plan).toEqual({
      market: "spot",
      machineTypes: ["a2-highgpu-1g", "a2-ultragpu-1g"],
      maxPricePerHour: 2,
      acceleratorTypes: ["nvidia-tesla-a100", "nvidia-a100-80gb"],
      gpus: 1,
    });
    expect(instanceFlexibility(plan)).toEqual({
      instanceSelections: [
        { name: "rank-0-a2-highgpu-1g", machineTypes: ["a2-highgpu-1g"], rank: 0 },
        { name: "rank-1-a2-ultragpu-1g", machineTypes: ["a2-ultragpu-1g"], rank: 1 },
      ],
    });
    expect(groupPlan({ chosen: highgpu, feasible: [ultragpu, highgpu] }, "on-demand").maxPricePerHour).toBe(5.07);
  });

  it("attached GPUs: the one machine type, with its accelerator; no flexibility", () => {
    const plan = groupPlan({ chosen: t4, feasible: [t4] }, "spot");
    expect(plan).toMatchObject({ machineTypes: ["n1-standard-4"], attach: { type: "nvidia-tesla-t4", count: 1 } });
    expect(instanceFlexibility(plan)).toBeUndefined();
    expect(instanceFlexibility(groupPlan({ chosen: highgpu, feasible: [highgpu] }, "spot"))).toBeUndefined();
  });

  it.each([
    ["every zone of the region that is up", undefined, ["us-central1-f", "us-central1-a", "us-central1-b"], ["us-central1-a", "us-central1-b", "us-central1-f"]],
    ["the spec's zones when it names them", ["us-central1-c", "us-central1-a"], ["us-central1-a", "us-central1-b", "us-central1-c"], ["us-central1-a", "us-central1-c"]],
    ["an empty list is no choice", [], ["us-east1-b"], ["us-east1-b"]],
  ])("zones: %s", (_, spec, region, expected) => expect(groupZones(spec, region)).toEqual(expected));

  it.each([
    ["spot", undefined, { provisioningModel: "SPOT", preemptible: true, automaticRestart: false, onHostMaintenance: "TERMINATE", instanceTerminationAction: "DELETE" }],
    ["spot", 120, { provisioningModel: "SPOT", preemptible: true, automaticRestart: false, onHostMaintenance: "TERMINATE", instanceTerminationAction: "DELETE", preemptionNoticeDuration: { seconds: 120 } }],
    ["on-demand", undefined, { provisioningModel: "STANDARD", preemptible: false, automaticRestart: false, onHostMaintenance: "TERMINATE" }],
  ] as const)("scheduling: %s, notice %s", (market, notice, expected) => expect(scheduling(market, notice)).toEqual(expected));

  it.each([0, 121, 1.5])("a notice of %s seconds is refused", (seconds) => expect(() => scheduling("spot", seconds)).toThrow(/1 to 120/));
});

describe("image, disk, bucket and settings", () => {
  it.each([
    ["projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580", { project: "deeplearning-platform-release", family: "common-cu129-ubuntu-2404-nvidia-580" }],
    ["projects/team/global/images/my-image-v3", { project: "team", name: "my-image-v3" }],
    ["https://www.googleapis.com/compute/v1/projects/team/global/images/my-image-v3", { project: "team", name: "my-image-v3" }],
    ["family/my-family", { family: "my-family" }],
    ["my-image", { name: "my-image" }],
  ])("imageLookup(%s)", (image, lookup) => expect(imageLookup(image)).toEqual(lookup));

  it("an image that is no image path is refused with the forms that are", () => expect(() => imageLookup("projects/x/zones/y/disks/z")).toThrow(/projects\/PROJECT\/global\/images\/NAME/));

  it.each([
    [30, 50, { sizeGb: 50, raisedFrom: 30 }],
    [100, 50, { sizeGb: 100 }],
    [50, undefined, { sizeGb: 50 }],
  ])("boot disk: disk_size %s, image %s GB", (disk, image, expected) => expect(bootDiskGb(disk, image)).toEqual(expected));

  it("lifecycle: old versions after a week, stalled uploads and staged parts after a day, all under the prefix", () => {
    expect(lifecycleRules("jobs/j")).toEqual([
      { action: { type: "Delete" }, condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: 7, matchesPrefixes: ["jobs/j/"] } },
      { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: 1, matchesPrefixes: ["jobs/j/"] } },
      { action: { type: "Delete" }, condition: { age: 1, matchesPrefixes: ["jobs/j/uploads/"] } },
    ]);
  });

  it("a reused bucket must have uniform bucket-level access", () => {
    expect(existingBucketProblem("b", { uniformBucketLevelAccess: true })).toBeUndefined();
    expect(existingBucketProblem("b", { uniformBucketLevelAccess: false })).toMatch(/gcloud storage buckets update gs:\/\/b --uniform-bucket-level-access/);
  });

  it.each([
    [undefined, undefined],
    [120, 120],
    [30, 30],
  ])("spotjob:gcpPreemptionNoticeSeconds %s", (value, expected) => expect(preemptionNotice({ jobArg: "j", deleteResultsOnDestroy: false, gcpPreemptionNoticeSeconds: value } as never)).toBe(expected));

  it.each([0, 121, 2.5])("spotjob:gcpPreemptionNoticeSeconds %s is refused, naming the range and the fix", (value) =>
    expect(() => preemptionNotice({ jobArg: "j", deleteResultsOnDestroy: false, gcpPreemptionNoticeSeconds: value } as never)).toThrow(/1 to 120 whole seconds.*pulumi config set spotjob:gcpPreemptionNoticeSeconds 120/),
  );
});
