/**
 * Why an Auto Scaling group did not get its instance, from the StatusMessage
 * of its failed scaling activity (DescribeScalingActivities). Only missing
 * capacity is worth waiting for (and falling back from); a zero vCPU quota,
 * a missing AMI, a root volume smaller than the image's snapshot or a missing
 * permission fails every retry and the on-demand fallback the same way, so
 * the supervisor stops on those and records AWS's message with the fix.
 *
 * Pure: the patterns are AWS's message formats as they appear in scaling
 * activities (test/runtime/launch-failure.test.ts holds real examples).
 */
import type { CloudId } from "../../core/providers/registry";

export type LaunchFailureKind =
  /** No spot (or on-demand) capacity in the pools asked for: wait, then fall back. */
  | "capacity"
  /** A vCPU or instance-count quota too low for one instance (new accounts start at 0 for G and P spot). */
  | "quota"
  /** The AMI does not exist in the region, is not shared with the account, or does not fit the instance type. */
  | "image"
  /** The root volume is smaller than the image's snapshot (or the mapping is invalid). */
  | "disk"
  /** A permission the launch needs is missing (RunInstances, iam:PassRole, the KMS key of an encrypted volume). */
  | "permission"
  /** Known to clear by itself (an instance profile not yet visible right after `pulumi up`): wait like capacity. */
  | "transient"
  /** A message not recognised: treated like capacity (today's behaviour), but recorded verbatim. */
  | "unknown";

/** Kinds that waiting or the on-demand fallback cannot fix: the supervisor stops on these. */
export const STOPPING_KINDS: ReadonlySet<LaunchFailureKind> = new Set(["quota", "image", "disk", "permission"]);

/** A launch failure as the supervisor records it (`supervisor/state.json`, shown by `spotjob status`). */
export interface LaunchFailure {
  kind: LaunchFailureKind;
  /** The cloud's message, as is (AWS's StatusMessage; on GCP the error's code and message). */
  message: string;
  /** What to do about it, in one or two sentences (with the quota's name and code for a quota). */
  fix: string;
  /** When the failed launch started (ISO 8601). */
  at: string;
  /** The group that could not launch (an Auto Scaling group name, a managed instance group path). */
  group: string;
  activityId?: string;
  /** The cloud that reported it; absent for AWS (records written before there was another). */
  cloud?: CloudId;
}

export interface LaunchContext {
  /** The instance types the group may launch. */
  instanceTypes: string[];
  /** Whether the group launches spot or on-demand instances (the quotas differ). */
  market: "spot" | "on-demand";
  region?: string;
}

/** EC2's vCPU quotas by instance family (Service Quotas, service code `ec2`). */
interface Quota {
  name: string;
  code: string;
}
const QUOTAS: { family: RegExp; spot: Quota; onDemand: Quota }[] = [
  { family: /^(g\d|vt\d)/, spot: { name: "All G and VT Spot Instance Requests", code: "L-3819A6DF" }, onDemand: { name: "Running On-Demand G and VT instances", code: "L-DB2E81BA" } },
  { family: /^p5/, spot: { name: "All P5 Spot Instance Requests", code: "L-C4BD4855" }, onDemand: { name: "Running On-Demand P instances", code: "L-417A185B" } },
  { family: /^p[234]/, spot: { name: "All P4, P3 and P2 Spot Instance Requests", code: "L-7212CCBC" }, onDemand: { name: "Running On-Demand P instances", code: "L-417A185B" } },
  { family: /^inf\d/, spot: { name: "All Inf Spot Instance Requests", code: "L-B5D1601B" }, onDemand: { name: "Running On-Demand Inf instances", code: "L-1945791B" } },
];
const STANDARD: { spot: Quota; onDemand: Quota } = {
  spot: { name: "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", code: "L-34B43A08" },
  onDemand: { name: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", code: "L-1216C47A" },
};

/** The EC2 vCPU quota(s) that govern launching these instance types in this market. */
export function quotasFor(instanceTypes: string[], market: "spot" | "on-demand"): Quota[] {
  const found = new Map<string, Quota>();
  for (const type of instanceTypes) {
    const family = QUOTAS.find((q) => q.family.test(type)) ?? STANDARD;
    const quota = market === "spot" ? family.spot : family.onDemand;
    found.set(quota.code, quota);
  }
  return [...found.values()];
}

function quotaFix(ctx: LaunchContext): string {
  const quotas = quotasFor(ctx.instanceTypes, ctx.market);
  const region = ctx.region ? ` --region ${ctx.region}` : "";
  const where = ctx.region ? ` in ${ctx.region}` : "";
  const types = ctx.instanceTypes.length ? ` (${ctx.instanceTypes.join(", ")})` : "";
  if (quotas.length === 0) return `raise the EC2 ${ctx.market} vCPU quota for these instance types${where} in Service Quotas`;
  const names = quotas.map((q) => `"${q.name}" (${q.code})`).join(" or ");
  return (
    `raise the EC2 service quota ${names}${where} to at least the vCPUs of one instance${types}, ` +
    `e.g. \`aws service-quotas request-service-quota-increase --service-code ec2 --quota-code ${quotas[0].code} --desired-value <vCPUs>${region}\`; ` +
    `new accounts start at 0 for G and P ${ctx.market === "spot" ? "spot" : "instances"}`
  );
}

const RETRY = "then scale the group to 1 (`aws autoscaling set-desired-capacity --auto-scaling-group-name <group> --desired-capacity 1`) and the supervisor resumes watching it";

/** Which kind of failure a scaling activity's StatusMessage is, and its fix. Order matters: the most specific first. */
const RULES: { kind: LaunchFailureKind; test: RegExp; fix: (ctx: LaunchContext, m: RegExpMatchArray) => string }[] = [
  {
    kind: "disk",
    test: /InvalidBlockDeviceMapping|Volume of size \d+\s*GB is smaller than\s+snapshot/i,
    fix: (_, m) => {
      const needed = /expect size\s*>=\s*(\d+)\s*GB/i.exec(m.input ?? "")?.[1];
      return needed
        ? `set disk_size: ${needed} (or more) in the spec: the image's root snapshot is ${needed} GB; then \`pulumi up\``
        : "fix the launch template's block device mapping (disk_size or the image's root device); then `pulumi up`";
    },
  },
  {
    kind: "image",
    test: /InvalidAMIID|The image id '?\[?ami-[0-9a-z]+\]?'? does not exist|Not authorized for images|image id .* is not valid|does not match the architecture .* of the specified AMI|resolve:ssm|parameter .*ami.* (?:does not exist|could not be resolved|not found)/i,
    fix: () => "use an AMI that exists in this region and that this account may launch (`pulumi config set spotjob:ami <ami-id or resolve:ssm:parameter>`, or unset it for the Deep Learning Base AMI); then `pulumi up`",
  },
  {
    kind: "quota",
    test: /VcpuLimitExceeded|more vCPU capacity than your current vCPU limit|MaxSpotInstanceCountExceeded|Max spot instance count exceeded|InstanceLimitExceeded|more instances \(\d+\) than your current instance limit/i,
    fix: (ctx) => quotaFix(ctx),
  },
  {
    kind: "transient",
    test: /Invalid IAM Instance Profile|iamInstanceProfile\.\w+ is invalid/i,
    fix: () => "usually clears within minutes of `pulumi up` (the new instance profile is not visible to EC2 yet); if it persists, check that the instance profile exists",
  },
  {
    kind: "permission",
    test: /UnauthorizedOperation|not authorized to perform|AccessDenied|iam:PassRole|Client\.InternalError|KMS|kms:/i,
    fix: () =>
      "give the Auto Scaling service-linked role (AWSServiceRoleForAutoScaling) what the launch needs: ec2:RunInstances and iam:PassRole on the job's instance role, and use of the KMS key if EBS encryption by default uses a customer-managed key (a `Client.InternalError` on launch is that key); an SCP or permissions boundary may also deny it",
  },
  {
    kind: "capacity",
    test: /InsufficientInstanceCapacity|InsufficientCapacity|We currently do not have sufficient|no Spot capacity available|UnfulfillableCapacity|capacity-not-available|capacity-oversubscribed|SpotMaxPriceTooLow|price-too-low|not supported in your requested Availability Zone|InvalidFleetConfiguration/i,
    fix: () => "none needed: the group keeps trying other zones and types, and the supervisor starts the on-demand fallback after spot_fallback_after_minutes",
  },
];

/** Classifies one failed launch's StatusMessage (or Description, which carries it after "Status Reason: "). */
export function classifyLaunchFailure(message: string, ctx: LaunchContext): { kind: LaunchFailureKind; fix: string } {
  for (const rule of RULES) {
    const m = message.match(rule.test);
    if (m) return { kind: rule.kind, fix: STOPPING_KINDS.has(rule.kind) ? `${rule.fix(ctx, m)}; ${RETRY}` : rule.fix(ctx, m) };
  }
  return { kind: "unknown", fix: "not recognised as a quota, image, disk or permission failure, so treated like missing capacity; read the message" };
}

/** One scaling activity as DescribeScalingActivities returns it (the fields used here). */
export interface ScalingActivity {
  ActivityId?: string;
  Description?: string;
  StatusCode?: string;
  StatusMessage?: string;
  StartTime?: Date;
}

/** The newest launch attempt among a group's scaling activities: when, and whether (and why) it failed. */
export interface LaunchAttempt {
  at: number;
  failed: boolean;
  activityId?: string;
  message?: string;
  /** When failing, the start of the oldest launch in the unbroken run of failed launches that ends with this one. */
  failingSince?: number;
  /**
   * Set by a cloud that reports why a launch failed as error codes rather than AWS's messages (GCP: gcp/launch-failure.ts):
   * decide() takes this instead of classifying `message` with AWS's rules.
   */
  classified?: { kind: LaunchFailureKind; fix: string; cloud: CloudId };
}

const LAUNCH = /^Launching a new EC2 instance/i;
const FAILED = new Set(["Failed", "Cancelled"]);

export function newestLaunch(activities: ScalingActivity[]): LaunchAttempt | undefined {
  const launches = activities.filter((a) => LAUNCH.test(a.Description ?? "") && a.StartTime).sort((a, b) => b.StartTime!.getTime() - a.StartTime!.getTime());
  const newest = launches[0];
  if (!newest) return undefined;
  const failed = FAILED.has(String(newest.StatusCode));
  const reason = newest.StatusMessage || /Status Reason:\s*(.*)$/s.exec(newest.Description ?? "")?.[1] || `launch ${String(newest.StatusCode).toLowerCase()}`;
  let failingSince = newest.StartTime!.getTime();
  for (const a of launches) {
    if (!FAILED.has(String(a.StatusCode))) break;
    failingSince = a.StartTime!.getTime();
  }
  return { at: newest.StartTime!.getTime(), failed, activityId: newest.ActivityId, ...(failed ? { message: reason.trim(), failingSince } : {}) };
}
