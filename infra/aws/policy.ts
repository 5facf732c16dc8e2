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

/** What both roles are scoped to: one job's objects and groups in one account and region. */
export interface JobScope {
  partition?: string;
  region: string;
  accountId: string;
  bucket: string;
  /** The job's key prefix, without slashes at either end. */
  prefix: string;
  /** The job's Auto Scaling groups (spot, and the on-demand fallback). */
  groupNames: string[];
}

export interface InstancePolicyArgs extends JobScope {
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
  // A reference may name a secret without the 6-character suffix AWS appends to its ARN: grant that form too.
  if (managed.length) statements.push({ Sid: "JobSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: managed.flatMap((arn) => [arn, `${arn}-??????`]) });
  return { Version: "2012-10-17", Statement: statements };
}

/** Read-only actions by name: the only kind a statement on `*` may allow. */
const READ_ONLY = /^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$/;

/** `*`, or an ARN naming every resource of a kind (`arn:aws:s3:::*`, `…:autoScalingGroup:*`), not one resource's children. */
const EVERY_RESOURCE = /^(\*|arn:[^:]+:[^:]+:[^:]*:[^:]*:(\*|[A-Za-z-]+[:/]\*))$/;

/** Statements that allow a mutating action on every resource: a least-privilege violation. */
export function mutatingOnWildcard(document: PolicyDocument): { sid: string; actions: string[] }[] {
  return document.Statement.filter((s) => s.Resource.some((r) => EVERY_RESOURCE.test(r)))
    .map((s) => ({ sid: s.Sid, actions: s.Action.filter((action) => action.includes("*") || !READ_ONLY.test(action)) }))
    .filter((s) => s.actions.length > 0);
}

/** Whether `document` allows `action` on `resource` (no conditions evaluated): for checking calls against the policy. */
export function allows(document: PolicyDocument, action: string, resource: string): boolean {
  // IAM wildcards: `*` any run of characters, `?` any one.
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return document.Statement.some((s) => s.Action.some((a) => glob(a).test(action)) && s.Resource.some((r) => glob(r).test(resource)));
}

export interface SupervisorPolicyArgs extends JobScope {
  /** The function's own log group. */
  logGroupName: string;
}

/**
 * The supervisor function's policy: read the job's status and keep its own
 * state and events under the job's prefix, read and set the capacity of the
 * job's own groups, write its own logs. Nothing else.
 */
export function supervisorPolicy(a: SupervisorPolicyArgs): PolicyDocument {
  const p = a.partition ?? "aws";
  const objects = `arn:${p}:s3:::${a.bucket}/${a.prefix}`;
  const logGroup = `arn:${p}:logs:${a.region}:${a.accountId}:log-group:${a.logGroupName}`;
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadJob", Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${objects}/*`] },
      { Sid: "OwnRecords", Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${objects}/supervisor/*`] },
      {
        Sid: "OwnGroupsCapacity",
        Effect: "Allow",
        Action: ["autoscaling:SetDesiredCapacity"],
        Resource: a.groupNames.map((name) => `arn:${p}:autoscaling:${a.region}:${a.accountId}:autoScalingGroup:*:autoScalingGroupName/${name}`),
      },
      { Sid: "DescribeGroups", Effect: "Allow", Action: ["autoscaling:DescribeAutoScalingGroups"], Resource: ["*"] },
      { Sid: "OwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${logGroup}:*`] },
    ],
  };
}

/** A bucket policy that refuses every request not made over TLS. */
export function tlsOnlyBucketPolicy(bucketArn: string): { Version: "2012-10-17"; Statement: unknown[] } {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  };
}

/** Who may assume a role: one AWS service. */
export function assumeRolePolicy(service: "ec2.amazonaws.com" | "lambda.amazonaws.com"): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }] });
}
