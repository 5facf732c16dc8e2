/**
 * The GCP supervisor's pure parts as tables: the launch-failure classifier over
 * the error codes and messages Compute Engine writes into a managed instance's
 * `lastAttempt.errors` (formats in runtime/supervisor/gcp/launch-failure.ts's
 * header, with their sources), the failed launch read from a group's instances,
 * the group view decide() gets, and group paths.
 */
import { describe, expect, it } from "vitest";
import type { ComputeError, ManagedInstance } from "../../runtime/cloud/gcp/compute";
import { parseGroupPath } from "../../core/wire/gcp-group-path";
import { groupView } from "../../runtime/supervisor/gcp/capacity";
import { classifyGcpLaunchError, failedLaunchOf } from "../../runtime/supervisor/gcp/launch-failure";
import { STOPPING_KINDS, type LaunchFailureKind } from "../../runtime/supervisor/launch-failure";

const GROUP = parseGroupPath("projects/proj-1/regions/us-central1/instanceGroupManagers/job-spot");
const NOW = Date.parse("2026-11-24T12:00:00Z");

const STOCKOUT: ComputeError = { code: "ZONE_RESOURCE_POOL_EXHAUSTED", message: "The zone 'projects/proj-1/zones/us-central1-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later." };
const QUOTA: ComputeError = { code: "QUOTA_EXCEEDED", message: "Quota 'PREEMPTIBLE_NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region us-central1." };

const TABLE: [string, ComputeError, LaunchFailureKind][] = [
  // Missing capacity: wait, then fall back.
  ["stockout", STOCKOUT, "capacity"],
  ["stockout with details", { code: "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS", message: "The zone 'projects/proj-1/zones/us-central1-b' does not have enough resources available to fulfill the request. '(resource type:compute)'." }, "capacity"],
  ["stockout named only in the message", { code: "UNSUPPORTED_OPERATION", message: "A g2-standard-8 VM instance with 1 nvidia-l4 accelerator(s) is currently unavailable in the us-central1-c zone. Capacity changes frequently, so try your request in a different zone, with a different VM hardware configuration, or at a later time." }, "capacity"],
  ["a stockout code without a message", { code: "STOCKOUT" }, "capacity"],
  // Quota: per GPU model and market, regional, or the global GPU count.
  ["the spot L4 quota at zero", QUOTA, "quota"],
  ["the on-demand H100 quota", { code: "QUOTA_EXCEEDED", message: "Quota 'NVIDIA_H100_GPUS' exceeded.  Limit: 0.0 in region us-east4." }, "quota"],
  ["the global GPU quota", { code: "QUOTA_EXCEEDED", message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally." }, "quota"],
  ["a quota message under another code", { code: "FORBIDDEN", message: "Quota 'CPUS' exceeded.  Limit: 24.0 in region europe-west4." }, "quota"],
  // Permission.
  ["the job's service account may not be attached", { code: "SERVICE_ACCOUNT_ACCESS_DENIED", message: "The user does not have access to service account 'job-sa@proj-1.iam.gserviceaccount.com'.  User: '123456789@cloudservices.gserviceaccount.com'.  Ask a project owner to grant you the iam.serviceAccountUser role on the service account" }, "permission"],
  ["a permission on a shared image", { code: "PERMISSION_DENIED", message: "Required 'compute.images.useReadOnly' permission for 'projects/other-proj/global/images/my-image'" }, "permission"],
  ["a bare 403", { code: "403", message: "Forbidden" }, "permission"],
  // Image and disk.
  ["a missing image family", { code: "RESOURCE_NOT_FOUND", message: "The resource 'projects/deeplearning-platform-release/global/images/family/no-such-family' was not found" }, "image"],
  ["a boot disk smaller than its image", { code: "INVALID_FIELD_VALUE", message: "Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb': '10'. Requested disk size cannot be smaller than the image size (50 GB)" }, "disk"],
  // Clears by itself.
  ["the operation rate", { code: "RESOURCE_OPERATION_RATE_EXCEEDED", message: "Operation rate exceeded for resource 'projects/proj-1/zones/us-central1-a/instances/job-spot-x'." }, "transient"],
  // Not recognised: treated like capacity, recorded verbatim.
  ["something new", { code: "SOMETHING_NEW", message: "a message spotjob has never seen" }, "unknown"],
];

describe("GCP launch failures", () => {
  it.each(TABLE)("%s is %s", (_, error, kind) => {
    expect(classifyGcpLaunchError(error, GROUP).kind).toBe(kind);
  });

  it("a quota failure names the metric, the region and the limit, and how to retry; it is not a reason to fall back", () => {
    const { kind, fix } = classifyGcpLaunchError(QUOTA, GROUP);
    expect(STOPPING_KINDS.has(kind)).toBe(true);
    expect(fix).toMatch(/request a higher quota for PREEMPTIBLE_NVIDIA_L4_GPUS in us-central1 \(now 0\.0\)/);
    expect(fix).toMatch(/IAM & Admin → Quotas/);
    expect(fix).toMatch(/`gcloud compute instance-groups managed resize job-spot --size=1 --region=us-central1 --project=proj-1`/);
    expect(classifyGcpLaunchError({ code: "QUOTA_EXCEEDED", message: "Quota 'GPUS_ALL_REGIONS' exceeded.  Limit: 0.0 globally." }, GROUP).fix).toMatch(/GPUS_ALL_REGIONS \(a global quota\)/);
  });

  it("each stopping kind's fix says what to change; capacity's says nothing is needed", () => {
    const fixOf = (code: string, message: string) => classifyGcpLaunchError({ code, message }, GROUP).fix;
    expect(fixOf("INVALID_FIELD_VALUE", "Requested disk size cannot be smaller than the image size (50 GB)")).toMatch(/^set disk_size: 50 \(or more\)/);
    expect(fixOf("PERMISSION_DENIED", "Required 'compute.images.useReadOnly' permission for 'projects/x/global/images/y'")).toMatch(/cloudservices\.gserviceaccount\.com.*\(here compute\.images\.useReadOnly\).*Service Account User/);
    expect(fixOf("RESOURCE_NOT_FOUND", "The resource 'projects/x/global/images/family/y' was not found")).toMatch(/image \(or image family\) that exists/);
    expect(classifyGcpLaunchError(STOCKOUT, GROUP).fix).toMatch(/^none needed.*on-demand fallback/);
    expect(classifyGcpLaunchError(STOCKOUT, GROUP).fix).not.toMatch(/resize/);
  });

  it("a zonal group's retry names its zone", () => {
    const zonal = parseGroupPath("projects/proj-1/zones/europe-west4-b/instanceGroupManagers/job-spot");
    expect(classifyGcpLaunchError(QUOTA, zonal).fix).toMatch(/--zone=europe-west4-b --project=proj-1/);
  });
});

const creating = (errors: ComputeError[], currentAction = "CREATING"): ManagedInstance => ({
  instance: "https://www.googleapis.com/compute/v1/projects/proj-1/zones/us-central1-a/instances/job-spot-abcd",
  name: "job-spot-abcd",
  currentAction,
  ...(errors.length ? { lastAttempt: { errors: { errors } } } : {}),
});

describe("the failed launch read from a group's instances", () => {
  it("none when nothing is being created, or a creation has no error (a preempted VM being recreated)", () => {
    expect(failedLaunchOf([], GROUP, NOW)).toBeUndefined();
    expect(failedLaunchOf([{ ...creating([]), currentAction: "NONE", instanceStatus: "RUNNING" }], GROUP, NOW)).toBeUndefined();
    expect(failedLaunchOf([{ ...creating([], "RECREATING"), instanceStatus: "STOPPING" }], GROUP, NOW)).toBeUndefined();
  });

  it("an old error on an instance that now runs is not a failed launch", () => {
    expect(failedLaunchOf([{ ...creating([STOCKOUT]), currentAction: "NONE", instanceStatus: "RUNNING" }], GROUP, NOW)).toBeUndefined();
  });

  it("a failed creation, dated when seen, classified, with the code and message as recorded", () => {
    expect(failedLaunchOf([creating([STOCKOUT])], GROUP, NOW)).toEqual({
      at: NOW,
      failed: true,
      failingSince: NOW,
      message: `ZONE_RESOURCE_POOL_EXHAUSTED: ${STOCKOUT.message}`,
      classified: { kind: "capacity", fix: expect.stringMatching(/^none needed/), cloud: "gcp" },
    });
  });

  it("the error waiting cannot fix wins over a stockout in another zone (it decides what happens)", () => {
    const attempt = failedLaunchOf([creating([STOCKOUT, QUOTA])], GROUP, NOW);
    expect(attempt?.classified?.kind).toBe("quota");
    expect(attempt?.message).toBe(`QUOTA_EXCEEDED: ${QUOTA.message}`);
  });
});

describe("a managed instance group as decide() sees it", () => {
  const g = { name: GROUP.path, pricePerHour: 0.28 };
  const instance = (instanceStatus: string | undefined, currentAction: string, health?: string): ManagedInstance => ({
    currentAction,
    ...(instanceStatus ? { instanceStatus } : {}),
    ...(health ? { instanceHealth: [{ detailedHealthState: health }] } : {}),
  });

  it.each([
    ["running", [instance("RUNNING", "NONE")], { inService: 1, healthy: 1 }],
    ["booting (a VM exists and bills soon)", [instance("STAGING", "CREATING")], { inService: 1, healthy: 1 }],
    ["a creation that has no VM (stockout)", [instance(undefined, "CREATING")], { inService: 0, healthy: 0 }],
    ["preempted, being recreated", [instance("STOPPING", "RECREATING")], { inService: 0, healthy: 0 }],
    ["being deleted", [instance("RUNNING", "DELETING")], { inService: 0, healthy: 0 }],
    ["failing its health check", [instance("RUNNING", "NONE", "UNHEALTHY")], { inService: 1, healthy: 0 }],
    ["passing its health check", [instance("RUNNING", "NONE", "HEALTHY")], { inService: 1, healthy: 1 }],
  ])("%s", (_, instances, counts) => {
    expect(groupView(g, { targetSize: 1 }, instances, undefined)).toEqual({ name: g.name, desired: 1, pricePerHour: 0.28, ...counts });
  });

  it("the machine types come from the group's instance flexibility policy", () => {
    const view = groupView(g, { targetSize: 0, instanceFlexibilityPolicy: { instanceSelections: { l4: { machineTypes: ["g2-standard-8", "g2-standard-4"], rank: 1 }, more: { machineTypes: ["g2-standard-4"] } } } }, [], undefined);
    expect(view.instanceTypes).toEqual(["g2-standard-8", "g2-standard-4"]);
    expect(view.desired).toBe(0);
  });
});

describe("group paths", () => {
  it("a regional group", () => {
    expect(GROUP).toEqual({ path: "projects/proj-1/regions/us-central1/instanceGroupManagers/job-spot", project: "proj-1", scope: "regions", location: "us-central1", region: "us-central1", name: "job-spot" });
  });

  it("a zonal group is in its zone's region", () => {
    expect(parseGroupPath("/projects/p/zones/asia-southeast1-c/instanceGroupManagers/g/")).toMatchObject({ path: "projects/p/zones/asia-southeast1-c/instanceGroupManagers/g", scope: "zones", region: "asia-southeast1" });
  });

  it.each(["job-spot", "projects/p/regions/us-central1/instanceGroups/g", "projects/p/regions/us-central1/instanceGroupManagers/g/extra", "https://compute.googleapis.com/compute/v1/projects/p/regions/r/instanceGroupManagers/g"])("%s is refused with how to write one", (bad) => {
    expect(() => parseGroupPath(bad)).toThrow(/is not a group path: write it as projects\/PROJECT\/regions\/REGION\/instanceGroupManagers\/NAME/);
  });
});
