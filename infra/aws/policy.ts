/**
 * The instance role's policy: a pure function of the job's bucket, prefix,
 * groups and secrets. It allows what the runtime calls and nothing else: S3
 * object actions only under the job's prefix, listing only that prefix, the
 * desired capacity of the job's own groups, and the job's own secrets. The
 * only statement on `*` is a read (autoscaling Describe* has no resource-level
 * permissions).
 */

export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export interface InstancePolicyArgs {
  partition?: string;
  region: string;
  accountId: string;
  bucket: string;
  /** The job's key prefix, without slashes at either end. */
  prefix: string;
  /** The job's Auto Scaling groups (spot, and the on-demand fallback). */
  groupNames: string[];
  /** SSM parameter names (`/team/wandb-key`) or Secrets Manager ARNs. */
  secrets: string[];
}

export function instancePolicy(a: InstancePolicyArgs): PolicyDocument {
  const p = a.partition ?? "aws";
  const ssm = a.secrets.filter((s) => !s.startsWith("arn:"));
  const managed = a.secrets.filter((s) => s.startsWith(`arn:${p}:secretsmanager:`));
  const statements: PolicyStatement[] = [
    { Sid: "JobObjects", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: [`arn:${p}:s3:::${a.bucket}/${a.prefix}/*`] },
    {
      Sid: "JobListing",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [`arn:${p}:s3:::${a.bucket}`],
      Condition: { StringLike: { "s3:prefix": [`${a.prefix}/*`, a.prefix] } },
    },
    {
      Sid: "OwnGroupsCapacity",
      Effect: "Allow",
      Action: ["autoscaling:SetDesiredCapacity"],
      Resource: a.groupNames.map((name) => `arn:${p}:autoscaling:${a.region}:${a.accountId}:autoScalingGroup:*:autoScalingGroupName/${name}`),
    },
    { Sid: "DescribeGroups", Effect: "Allow", Action: ["autoscaling:DescribeAutoScalingGroups"], Resource: ["*"] },
  ];
  if (ssm.length) {
    statements.push({
      Sid: "JobParameters",
      Effect: "Allow",
      Action: ["ssm:GetParameter"],
      Resource: ssm.map((name) => `arn:${p}:ssm:${a.region}:${a.accountId}:parameter/${name.replace(/^\//, "")}`),
    });
  }
  if (managed.length) statements.push({ Sid: "JobSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: managed });
  return { Version: "2012-10-17", Statement: statements };
}

/** Read-only actions by name: the only kind a statement on `*` may allow. */
const READ_ONLY = /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$/;

/** Statements that allow a mutating action on every resource: a least-privilege violation. */
export function mutatingOnWildcard(document: PolicyDocument): { sid: string; actions: string[] }[] {
  return document.Statement.filter((s) => s.Resource.some((r) => r === "*" || r.endsWith(":*") || r === "arn:aws:s3:::*"))
    .map((s) => ({ sid: s.Sid, actions: s.Action.filter((action) => action.includes("*") || !READ_ONLY.test(action)) }))
    .filter((s) => s.actions.length > 0);
}

/** Whether `document` allows `action` on `resource` (no conditions evaluated): for checking calls against the policy. */
export function allows(document: PolicyDocument, action: string, resource: string): boolean {
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return document.Statement.some((s) => s.Action.some((a) => glob(a).test(action)) && s.Resource.some((r) => glob(r).test(resource)));
}
