/**
 * The instance role's policy: a pure function of the job's bucket, prefix,
 * groups and secrets. It allows what the runtime calls and nothing else: S3
 * object actions (multipart uploads included) only under the job's prefix,
 * listing only that prefix, the desired capacity of the job's own groups, and
 * the job's own secrets. Nothing on `*`: the instance never describes its
 * groups (only the supervisor does), so it is not allowed to.
 *
 * Every role that reads a key which may not exist may list it: S3 answers 403
 * AccessDenied, not 404, for a missing key unless the caller has
 * `s3:ListBucket` there. test/infra/aws-policy-calls.test.ts evaluates every
 * call the runtime and the supervisor make in the emulator tests against these
 * documents with an IAM policy simulator.
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
  /**
   * What the instance reads at start: SSM parameter names (`/team/wandb-key`,
   * in the job's region), references as the spec writes them (`ssm:/x`,
   * `ssm:eu-west-1:/x`, a parameter ARN, a Secrets Manager ARN), and the ARNs
   * of the customer-managed KMS keys that encrypt them (`secrets_kms_keys`).
   */
  secrets: string[];
}

/** The ARN of a parameter the role may read: in the region the reference names (the job's by default), in the job's account unless an ARN says otherwise. */
function parameterArn(entry: string, a: InstancePolicyArgs, p: string): string {
  if (entry.startsWith("arn:")) return entry;
  const regional = /^ssm:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(.+)$/.exec(entry);
  const [region, name] = regional ? [regional[1], regional[2]] : [a.region, entry.replace(/^ssm:/, "")];
  return `arn:${p}:ssm:${region}:${a.accountId}:parameter/${name.replace(/^\//, "")}`;
}

export function instancePolicy(a: InstancePolicyArgs): PolicyDocument {
  const p = a.partition ?? "aws";
  const ssm = a.secrets.filter((s) => !s.startsWith("arn:") || /^arn:[^:]+:ssm:/.test(s));
  const managed = a.secrets.filter((s) => s.startsWith(`arn:${p}:secretsmanager:`));
  const keys = a.secrets.filter((s) => /^arn:[^:]+:kms:/.test(s));
  const statements: PolicyStatement[] = [
    {
      Sid: "JobObjects",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      Resource: [`arn:${p}:s3:::${a.bucket}/${a.prefix}/*`],
    },
    {
      Sid: "JobListing",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [`arn:${p}:s3:::${a.bucket}`],
      Condition: { StringLike: { "s3:prefix": [`${a.prefix}/*`, a.prefix] } },
    },
    // Finding the job's unfinished multipart uploads. IAM has no prefix condition for this action (s3:prefix is not one of
    // its keys), so it names the bucket: it lists upload keys and ids, no content; reading, completing or aborting one is
    // JobObjects', under the prefix only.
    { Sid: "JobUploads", Effect: "Allow", Action: ["s3:ListBucketMultipartUploads"], Resource: [`arn:${p}:s3:::${a.bucket}`] },
    {
      Sid: "OwnGroupsCapacity",
      Effect: "Allow",
      Action: ["autoscaling:SetDesiredCapacity"],
      Resource: a.groupNames.map((name) => `arn:${p}:autoscaling:${a.region}:${a.accountId}:autoScalingGroup:*:autoScalingGroupName/${name}`),
    },
  ];
  if (ssm.length) {
    statements.push({
      Sid: "JobParameters",
      Effect: "Allow",
      Action: ["ssm:GetParameter"],
      Resource: [...new Set(ssm.map((entry) => parameterArn(entry, a, p)))],
    });
  }
  // A reference may name a secret without the 6-character suffix AWS appends to its ARN: grant that form too.
  if (managed.length) statements.push({ Sid: "JobSecrets", Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: managed.flatMap((arn) => [arn, `${arn}-??????`]) });
  // A SecureString or secret under a customer-managed key: decrypting with it, only on SSM's or Secrets Manager's behalf, in the key's region.
  if (keys.length) {
    // The service's endpoint name in the key's partition (China's end in .com.cn).
    const regions = [...new Set(keys.map((arn) => `${arn.split(":")[3]}.amazonaws.com${arn.split(":")[1] === "aws-cn" ? ".cn" : ""}`))];
    statements.push({
      Sid: "SecretKeys",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [...new Set(keys)],
      Condition: { StringEquals: { "kms:ViaService": regions.flatMap((r) => [`ssm.${r}`, `secretsmanager.${r}`]) } },
    });
  }
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

export interface SupervisorPolicyArgs extends JobScope {
  /** The function's own log group. */
  logGroupName: string;
}

/**
 * The supervisor function's policy: read the job's status and keep its own
 * state and events under the job's prefix (listing that prefix, so that its
 * state before the first run, or a status not yet written, reads as missing
 * rather than 403), read and set the capacity of the job's own groups, write
 * its own logs. Nothing else.
 */
export function supervisorPolicy(a: SupervisorPolicyArgs): PolicyDocument {
  const p = a.partition ?? "aws";
  const objects = `arn:${p}:s3:::${a.bucket}/${a.prefix}`;
  const logGroup = `arn:${p}:logs:${a.region}:${a.accountId}:log-group:${a.logGroupName}`;
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadJob", Effect: "Allow", Action: ["s3:GetObject"], Resource: [`${objects}/*`] },
      { Sid: "JobListing", Effect: "Allow", Action: ["s3:ListBucket"], Resource: [`arn:${p}:s3:::${a.bucket}`], Condition: { StringLike: { "s3:prefix": [`${a.prefix}/*`, a.prefix] } } },
      { Sid: "OwnRecords", Effect: "Allow", Action: ["s3:PutObject"], Resource: [`${objects}/supervisor/*`] },
      {
        Sid: "OwnGroupsCapacity",
        Effect: "Allow",
        Action: ["autoscaling:SetDesiredCapacity"],
        Resource: a.groupNames.map((name) => `arn:${p}:autoscaling:${a.region}:${a.accountId}:autoScalingGroup:*:autoScalingGroupName/${name}`),
      },
      // DescribeScalingActivities: why a group has no instance (quota, AMI, disk, permission); read-only, no resource-level permissions.
      { Sid: "DescribeGroups", Effect: "Allow", Action: ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities"], Resource: ["*"] },
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
