/**
 * Why a managed instance group did not get its instance, from the errors of
 * the last attempt to create it (listManagedInstances:
 * `managedInstances[].lastAttempt.errors.errors[] {code, message}` on an
 * instance whose currentAction is CREATING or RECREATING). As on AWS
 * (../launch-failure.ts), only missing capacity is worth waiting for and
 * falling back from; a quota at zero, a missing image, a disk smaller than
 * its image or a missing permission fails every retry and the on-demand
 * group the same way, so decide() stops on those with GCP's message and the fix.
 *
 * Pure. The codes and message formats:
 * - ZONE_RESOURCE_POOL_EXHAUSTED[_WITH_DETAILS], "The zone 'projects/P/zones/Z' does not have enough resources
 *   available to fulfill the request", "A ... VM instance ... is currently unavailable in the Z zone":
 *   https://cloud.google.com/compute/docs/troubleshooting/troubleshooting-resource-availability
 * - QUOTA_EXCEEDED, "Quota 'PREEMPTIBLE_NVIDIA_L4_GPUS' exceeded.  Limit: 0.0 in region us-central1."
 *   (or "... globally." for GPUS_ALL_REGIONS): https://cloud.google.com/compute/resource-usage#gpu_quota,
 *   https://cloud.google.com/docs/quotas/troubleshoot
 * - SERVICE_ACCOUNT_ACCESS_DENIED (the VM's service account may not be attached by the creator) and IAM's
 *   "Required 'compute.images.useReadOnly' permission for ..." (as seen in public reports of failed creations)
 * - "Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb': '10'. Requested disk size cannot be
 *   smaller than the image size (50 GB)" (as quoted in https://github.com/test-kitchen/kitchen-google/pull/152),
 *   and "The resource 'projects/P/global/images/...' was not found" for a missing image
 * The API dates no attempt, so an attempt is dated when the supervisor sees it: decide() counts a failure's
 * streak from its first sighting and confirms it after LAUNCH_FAILURE_CONFIRM_MINUTES, as on AWS.
 */
import { STOPPING_KINDS, type LaunchAttempt, type LaunchFailureKind } from "../launch-failure";
import type { ComputeError, ManagedInstance } from "../../cloud/gcp/compute";
import { gcloudLocationFlag, type GroupPath } from "../../../core/wire/gcp-group-path";

export interface GcpClassification {
  kind: LaunchFailureKind;
  fix: string;
}

const CAPACITY_CODES = /^(ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS)?|REGION_RESOURCE_POOL_EXHAUSTED|RESOURCE_POOL_EXHAUSTED|STOCKOUT|ZONE_STOCKOUT)$/;
const QUOTA_MESSAGE = /Quota '([A-Z0-9_-]+)' exceeded\.\s*Limit:\s*([\d.]+)\s*(?:in region ([a-z0-9-]+)|globally)/;

interface Rule {
  kind: LaunchFailureKind;
  test: (e: ComputeError) => boolean;
  fix: (e: ComputeError, group: GroupPath) => string;
}

const text = (e: ComputeError) => e.message ?? "";

/**
 * Order matters: the most specific first (a quota message beats a generic 403, a disk-size message a generic invalid
 * value, a missing permission on an image is a permission).
 */
const RULES: Rule[] = [
  {
    kind: "quota",
    test: (e) => /QUOTA_EXCEEDED/.test(e.code) || QUOTA_MESSAGE.test(text(e)),
    fix: (e, group) => quotaFix(text(e), group),
  },
  {
    kind: "disk",
    test: (e) => /disk size cannot be smaller than the image size|smaller than the image size|diskSizeGb/i.test(text(e)),
    fix: (e) => {
      const needed = /image size \((\d+)\s*GB\)/i.exec(text(e))?.[1];
      return needed
        ? `set disk_size: ${needed} (or more) in the spec: the image needs a ${needed} GB boot disk; then \`pulumi up\``
        : "fix the instance template's boot disk (disk_size in the spec, or the image); then `pulumi up`";
    },
  },
  {
    kind: "permission",
    test: (e) => /PERMISSION|ACCESS_DENIED|FORBIDDEN|^403$/.test(e.code) || /Required '[\w.]+' permission|does not have access to service account|permission denied/i.test(text(e)),
    fix: (e, group) => {
      const permission = /Required '([\w.]+)' permission/.exec(text(e))?.[1];
      return (
        `give the Google APIs service agent (PROJECT_NUMBER@cloudservices.gserviceaccount.com, which creates a managed instance group's VMs in ${group.project}) what the instance template needs` +
        `${permission ? ` (here ${permission})` : ""}: the Service Account User role on the job's service account, use of the image if it comes from another project, and the KMS key of an encrypted disk; an organization policy may also deny it`
      );
    },
  },
  {
    kind: "image",
    test: (e) => /^(IMAGE_NOT_FOUND|IMAGE_OBSOLETE)$/.test(e.code) || /\/images\/\S* was not found|image .*(not found|obsolete|deprecated)/i.test(text(e)),
    fix: () => "use an image (or image family) that exists and that this project may use, e.g. a Deep Learning VM family of project deeplearning-platform-release; then `pulumi up`",
  },
  {
    kind: "capacity",
    test: (e) => CAPACITY_CODES.test(e.code) || /does not have enough resources available|currently unavailable in the [\w-]+ zone/i.test(text(e)),
    fix: () => "none needed: the group keeps trying the region's zones, and the supervisor starts the on-demand fallback after spot_fallback_after_minutes",
  },
  {
    kind: "transient",
    test: (e) => /^(RESOURCE_OPERATION_RATE_EXCEEDED|RATE_LIMIT_EXCEEDED|RESOURCE_NOT_READY|INTERNAL_ERROR|SERVICE_UNAVAILABLE)$/.test(e.code),
    fix: () => "usually clears by itself: the group retries the creation",
  },
];

function quotaFix(message: string, group: GroupPath): string {
  const m = QUOTA_MESSAGE.exec(message);
  if (!m) return `request a higher Compute Engine quota for the metric the message names, in ${group.region} (Google Cloud console → IAM & Admin → Quotas & System Limits)`;
  const [, metric, limit, region] = m;
  const where = region ? ` in ${region}` : " (a global quota)";
  const market = metric.startsWith("PREEMPTIBLE_") ? "spot VMs count against the PREEMPTIBLE_ GPU quotas, the on-demand fallback against the plain ones" : "spot GPUs count against the PREEMPTIBLE_ quotas, on-demand ones against this one";
  return (
    `request a higher quota for ${metric}${where} (now ${limit}) of at least what one instance needs: Google Cloud console → IAM & Admin → Quotas & System Limits, ` +
    `filter by ${metric}${region ? ` and region ${region}` : ""}; ${market}; GPU quotas are often 0 in a new project`
  );
}

const retry = (group: GroupPath) =>
  `then scale the group to 1 (\`gcloud compute instance-groups managed resize ${group.name} --size=1 ${gcloudLocationFlag(group)} --project=${group.project}\`) and the supervisor resumes watching it`;

/** Classifies one error of a failed creation, with its fix (stopping kinds end with how to retry). */
export function classifyGcpLaunchError(error: ComputeError, group: GroupPath): GcpClassification {
  const rule = RULES.find((r) => r.test(error));
  if (!rule) return { kind: "unknown", fix: "not recognised as a quota, image, disk or permission failure, so treated like missing capacity; read the message" };
  const fix = rule.fix(error, group);
  return { kind: rule.kind, fix: STOPPING_KINDS.has(rule.kind) ? `${fix}; ${retry(group)}` : fix };
}

/** "CODE: message", as the failure is recorded and shown. */
export function describeGcpError(e: ComputeError): string {
  return e.message ? `${e.code}: ${e.message}` : e.code;
}

/** The group is (re)creating these instances: their lastAttempt is a launch. */
const CREATING = new Set(["CREATING", "CREATING_WITHOUT_RETRIES", "RECREATING"]);

/**
 * The group's newest failed launch, from the instances it is (re)creating: the error that waiting cannot fix when
 * there is one (it decides what happens), else the first. Undefined when no creation has failed (a preempted
 * instance being recreated without error is not a failure).
 */
export function failedLaunchOf(instances: ManagedInstance[], group: GroupPath, now: number): LaunchAttempt | undefined {
  const errors = instances.filter((i) => CREATING.has(String(i.currentAction))).flatMap((i) => i.lastAttempt?.errors?.errors ?? []);
  if (errors.length === 0) return undefined;
  const classified = errors.map((error) => ({ error, ...classifyGcpLaunchError(error, group) }));
  const chosen = classified.find((c) => STOPPING_KINDS.has(c.kind)) ?? classified[0];
  return { at: now, failed: true, message: describeGcpError(chosen.error), failingSince: now, classified: { kind: chosen.kind, fix: chosen.fix, cloud: "gcp" } };
}
