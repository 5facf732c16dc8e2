/**
 * What IAM asks of each AWS call the runtime makes: a call recorded by
 * runtime/cloud/aws-call-log.ts maps to the IAM action(s), resource ARN and
 * condition context it is authorized with, and each is evaluated against a
 * role's policy document by the simulator. A command this table does not know
 * is an error: a new call cannot slip past the policy tests unmapped.
 */
import { readFileSync } from "node:fs";
import type { AwsCallRecord } from "../../runtime/cloud/aws/call-log";
import type { PolicyDocument } from "../../infra/aws/policy";
import { evaluate, TEST_ACCOUNT, type ConditionContext } from "./iam-simulator";

export interface RequiredPermission {
  action: string;
  resource: string;
  context: ConditionContext;
  /** Why the call needs it, beyond the obvious. */
  note?: string;
}

export interface MappingOptions {
  accountId?: string;
  partition?: string;
  /**
   * The customer-managed KMS key the job's SecureStrings and secrets are encrypted with, if any: SSM and Secrets
   * Manager decrypt with it on the caller's behalf (`kms:Decrypt` with `kms:ViaService`). A call does not name it.
   */
  secretKmsKeyArn?: string;
}

/** The group's id is part of its ARN, but a call names only the group: any id stands for the real one. */
export const PLACEHOLDER_GROUP_ID = "00000000-0000-4000-8000-000000000000";

export function readCallLog(file: string): AwsCallRecord[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AwsCallRecord);
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== "string" || !v) throw new Error(`the recorded call has no ${what}`);
  return v;
};

/** The permissions one recorded call needs. Throws for a call it does not know. */
export function requiredPermissions(call: AwsCallRecord, o: MappingOptions = {}): RequiredPermission[] {
  const p = o.partition ?? "aws";
  const account = o.accountId ?? TEST_ACCOUNT;
  const region = call.region ?? "us-east-1";
  const i = call.input;
  const bucket = () => `arn:${p}:s3:::${str(i.Bucket, "Bucket")}`;
  const object = () => `${bucket()}/${str(i.Key, "Key")}`;
  const prefixContext = (): ConditionContext => (typeof i.Prefix === "string" ? { "s3:prefix": i.Prefix } : {});
  const group = (name: unknown) => `arn:${p}:autoscaling:${region}:${account}:autoScalingGroup:${PLACEHOLDER_GROUP_ID}:autoScalingGroupName/${str(name, "AutoScalingGroupName")}`;
  const id = `${call.service}:${call.command}`;
  switch (id) {
    case "S3:GetObject":
    case "S3:HeadObject":
      return [
        { action: "s3:GetObject", resource: object(), context: {} },
        // S3 answers 403, not 404, for a missing key unless the caller may list it: every read here may be of a key not yet written.
        { action: "s3:ListBucket", resource: bucket(), context: { "s3:prefix": str(i.Key, "Key") }, note: "a missing key is 404 only with s3:ListBucket (else 403 AccessDenied)" },
      ];
    case "S3:PutObject":
    case "S3:CreateMultipartUpload":
    case "S3:UploadPart":
    case "S3:CompleteMultipartUpload":
      return [{ action: "s3:PutObject", resource: object(), context: {} }];
    case "S3:AbortMultipartUpload":
      return [{ action: "s3:AbortMultipartUpload", resource: object(), context: {} }];
    case "S3:ListParts":
      return [{ action: "s3:ListMultipartUploadParts", resource: object(), context: {} }];
    case "S3:ListMultipartUploads":
      // s3:prefix is not a condition key of this action (IAM's service reference): only the bucket scopes it.
      return [{ action: "s3:ListBucketMultipartUploads", resource: bucket(), context: {} }];
    case "S3:ListObjectsV2":
    case "S3:ListObjects":
      return [{ action: "s3:ListBucket", resource: bucket(), context: prefixContext() }];
    case "S3:DeleteObject":
      return [{ action: "s3:DeleteObject", resource: object(), context: {} }];
    case "AutoScaling:SetDesiredCapacity":
      return [{ action: "autoscaling:SetDesiredCapacity", resource: group(i.AutoScalingGroupName), context: {} }];
    case "AutoScaling:DescribeAutoScalingGroups":
      return [{ action: "autoscaling:DescribeAutoScalingGroups", resource: "*", context: {} }];
    case "AutoScaling:DescribeScalingActivities":
      return [{ action: "autoscaling:DescribeScalingActivities", resource: "*", context: {} }];
    case "SSM:GetParameter": {
      const name = str(i.Name, "Name");
      const resource = name.startsWith("arn:") ? name : `arn:${p}:ssm:${region}:${account}:parameter/${name.replace(/^\//, "")}`;
      const needs: RequiredPermission[] = [{ action: "ssm:GetParameter", resource, context: {} }];
      if (i.WithDecryption && o.secretKmsKeyArn) needs.push({ action: "kms:Decrypt", resource: o.secretKmsKeyArn, context: { "kms:ViaService": `ssm.${region}.amazonaws.com` }, note: "a SecureString under a customer-managed key" });
      return needs;
    }
    case "SecretsManager:GetSecretValue": {
      const secret = str(i.SecretId, "SecretId");
      const resource = secret.startsWith("arn:") ? secret : `arn:${p}:secretsmanager:${region}:${account}:secret:${secret}-AbCdEf`;
      const needs: RequiredPermission[] = [{ action: "secretsmanager:GetSecretValue", resource, context: {} }];
      if (o.secretKmsKeyArn) needs.push({ action: "kms:Decrypt", resource: o.secretKmsKeyArn, context: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com` }, note: "a secret under a customer-managed key" });
      return needs;
    }
    case "CloudWatchLogs:CreateLogStream":
    case "CloudWatchLogs:PutLogEvents":
      return [{ action: `logs:${call.command}`, resource: `arn:${p}:logs:${region}:${account}:log-group:${str(i.LogGroupName, "LogGroupName")}:log-stream:${str(i.LogStreamName, "LogStreamName")}`, context: {} }];
    default:
      throw new Error(`no IAM mapping for the AWS call ${id} (input ${JSON.stringify(i)}): add it to test/helpers/iam-calls.ts and grant it in infra/aws/policy.ts`);
  }
}

export interface DeniedPermission extends RequiredPermission {
  call: string;
  result: string;
}

/** Every permission the calls need that `document` does not grant (empty: every call is allowed). */
export async function deniedPermissions(calls: AwsCallRecord[], document: PolicyDocument, o: MappingOptions = {}): Promise<DeniedPermission[]> {
  const seen = new Set<string>();
  const denied: DeniedPermission[] = [];
  for (const call of calls) {
    for (const need of requiredPermissions(call, o)) {
      const key = JSON.stringify(need);
      if (seen.has(key)) continue;
      seen.add(key);
      const d = await evaluate(document, need.action, need.resource, need.context, o.accountId ?? TEST_ACCOUNT);
      if (!d.allowed) denied.push({ ...need, call: `${call.service}:${call.command}`, result: d.result });
    }
  }
  return denied;
}

/** One line per denial, readable in a test failure. */
export function describeDenials(denied: DeniedPermission[]): string {
  return denied.map((d) => `${d.call} needs ${d.action} on ${d.resource}${Object.keys(d.context).length ? ` with ${JSON.stringify(d.context)}` : ""}: ${d.result}${d.note ? ` (${d.note})` : ""}`).join("\n");
}
