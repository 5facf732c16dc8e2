/**
 * The roles' policies: least privilege, as a table of what they must and must
 * not allow, evaluated by an IAM policy simulator (conditions included).
 * test/infra/aws-policy-calls.test.ts checks them against every call the code makes.
 */
import { describe, expect, it } from "vitest";
import { instancePolicy, mutatingOnWildcard, supervisorPolicy, type PolicyDocument } from "../../infra/aws/policy";
import { allows, type ConditionContext } from "../helpers/iam-simulator";

const policy = instancePolicy({
  region: "us-east-1",
  accountId: "123456789012",
  bucket: "spotjob-confinement-h100-a1b2",
  prefix: "jobs/confinement-h100",
  groupNames: ["confinement-h100-spot", "confinement-h100-ondemand"],
  secrets: ["/team/wandb-key", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf"],
});

describe("instance policy", () => {
  it("snapshot", () => {
    expect(policy).toMatchSnapshot();
  });

  it("has no mutating action on *", () => {
    expect(mutatingOnWildcard(policy)).toEqual([]);
  });

  it.each<[string, string, boolean, ConditionContext?]>([
    ["s3:PutObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/journal/seg-0000000001.jsonl", true],
    ["s3:GetObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/snapshot/manifest.json", true],
    ["s3:DeleteObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/snapshot/blobs/ab", true],
    ["s3:PutObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/other-job/status.json", false],
    ["s3:PutObject", "arn:aws:s3:::another-bucket/jobs/confinement-h100/status.json", false],
    ["s3:DeleteBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", false],
    // Listing: only under the job's prefix (which also makes a missing key 404 rather than 403).
    ["s3:ListBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", true, { "s3:prefix": "jobs/confinement-h100/journal/" }],
    ["s3:ListBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", true, { "s3:prefix": "jobs/confinement-h100/status.json" }],
    ["s3:ListBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", false, { "s3:prefix": "jobs/other-job/" }],
    ["s3:ListBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", false, { "s3:prefix": "jobs/confinement-h100-other/" }],
    ["s3:ListBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", false],
    // Multipart uploads of the job's objects, and finding its unfinished ones.
    ["s3:AbortMultipartUpload", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/snapshot/blobs/ab", true],
    ["s3:ListMultipartUploadParts", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/snapshot/blobs/ab", true],
    ["s3:AbortMultipartUpload", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/other-job/big", false],
    ["s3:ListBucketMultipartUploads", "arn:aws:s3:::spotjob-confinement-h100-a1b2", true],
    ["s3:ListBucketMultipartUploads", "arn:aws:s3:::another-bucket", false],
    ["autoscaling:SetDesiredCapacity", "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-1:autoScalingGroupName/confinement-h100-spot", true],
    ["autoscaling:SetDesiredCapacity", "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-2:autoScalingGroupName/someone-elses-group", false],
    ["autoscaling:UpdateAutoScalingGroup", "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-1:autoScalingGroupName/confinement-h100-spot", false],
    ["ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/team/wandb-key", true],
    ["ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/team/other-key", false],
    ["secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf", true],
    // Named without AWS's random suffix in the spec: the suffixed ARN is granted, another secret is not.
    ["secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf-x1Y2z3", true],
    ["secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf-longer-name", false],
    ["secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-other", false],
    ["ec2:TerminateInstances", "*", false],
    ["iam:PassRole", "*", false],
    // The instance never describes groups: the supervisor does.
    ["autoscaling:DescribeAutoScalingGroups", "*", false],
  ])("%s on %s: %s %j", async (action, resource, expected, context) => {
    expect(await allows(policy, action, resource, context)).toBe(expected);
  });

  it("lists only the job's prefix", () => {
    const listing = policy.Statement.find((s) => s.Action.includes("s3:ListBucket"))!;
    expect(listing.Condition).toEqual({ StringLike: { "s3:prefix": ["jobs/confinement-h100/*", "jobs/confinement-h100"] } });
  });

  it("without secrets, grants no secret access at all", () => {
    const bare = instancePolicy({ region: "us-east-1", accountId: "1", bucket: "b", prefix: "p", groupNames: ["g"], secrets: [] });
    expect(bare.Statement.map((s) => s.Sid)).toEqual(["JobObjects", "JobListing", "JobUploads", "OwnGroupsCapacity"]);
  });
});

describe("supervisor policy", () => {
  const bucket = "arn:aws:s3:::spotjob-confinement-h100-a1b2";
  const supervisor = supervisorPolicy({
    region: "us-east-1",
    accountId: "123456789012",
    bucket: "spotjob-confinement-h100-a1b2",
    prefix: "jobs/confinement-h100",
    groupNames: ["confinement-h100-spot", "confinement-h100-ondemand"],
    logGroupName: "/aws/lambda/confinement-h100-supervisor",
  });

  it("has no mutating action on *", () => {
    expect(mutatingOnWildcard(supervisor)).toEqual([]);
  });

  it.each<[string, string, boolean, ConditionContext?]>([
    ["s3:GetObject", `${bucket}/jobs/confinement-h100/status.json`, true],
    // Its state before its first run is a missing key: 404 needs the listing, else S3 answers 403 on every run.
    ["s3:ListBucket", bucket, true, { "s3:prefix": "jobs/confinement-h100/supervisor/state.json" }],
    ["s3:ListBucket", bucket, false, { "s3:prefix": "jobs/other-job/supervisor/state.json" }],
    ["s3:PutObject", `${bucket}/jobs/confinement-h100/supervisor/state.json`, true],
    ["s3:PutObject", `${bucket}/jobs/confinement-h100/status.json`, false],
    ["s3:DeleteObject", `${bucket}/jobs/confinement-h100/supervisor/state.json`, false],
    ["s3:GetObject", `${bucket}/jobs/other-job/status.json`, false],
    ["autoscaling:SetDesiredCapacity", "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-1:autoScalingGroupName/confinement-h100-ondemand", true],
    ["autoscaling:SetDesiredCapacity", "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid-1:autoScalingGroupName/other-spot", false],
    ["logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/confinement-h100-supervisor:log-stream:2026/11/24/[$LATEST]abc", true],
    ["logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/other:log-stream:x", false],
    ["ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/team/wandb-key", false],
    ["ec2:TerminateInstances", "*", false],
  ])("%s on %s: %s %j", async (action, resource, expected, context) => {
    expect(await allows(supervisor, action, resource, context)).toBe(expected);
  });
});

describe("mutatingOnWildcard", () => {
  const doc = (actions: string[], resource = "*"): PolicyDocument => ({ Version: "2012-10-17", Statement: [{ Sid: "S", Effect: "Allow", Action: actions, Resource: [resource] }] });
  it.each([
    [["ec2:DescribeInstances"], "*", []],
    [["s3:PutObject"], "*", ["s3:PutObject"]],
    [["s3:*"], "*", ["s3:*"]],
    [["autoscaling:SetDesiredCapacity"], "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*", ["autoscaling:SetDesiredCapacity"]],
    [["s3:GetObject"], "arn:aws:s3:::*", []],
    [["s3:PutObject"], "arn:aws:s3:::bucket/prefix/*", []],
  ])("%j on %s", (actions, resource, flagged) => {
    expect(mutatingOnWildcard(doc(actions, resource)).flatMap((s) => s.actions)).toEqual(flagged);
  });
});
