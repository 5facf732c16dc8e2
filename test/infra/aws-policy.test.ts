/** The instance role's policy: least privilege, as a table of what it must and must not allow. */
import { describe, expect, it } from "vitest";
import { allows, instancePolicy, mutatingOnWildcard, type PolicyDocument } from "../../infra/aws/policy";

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

  it.each([
    ["s3:PutObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/journal/seg-0000000001.jsonl", true],
    ["s3:GetObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/snapshot/manifest.json", true],
    ["s3:DeleteObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/confinement-h100/snapshot/blobs/ab", true],
    ["s3:PutObject", "arn:aws:s3:::spotjob-confinement-h100-a1b2/jobs/other-job/status.json", false],
    ["s3:PutObject", "arn:aws:s3:::another-bucket/jobs/confinement-h100/status.json", false],
    ["s3:DeleteBucket", "arn:aws:s3:::spotjob-confinement-h100-a1b2", false],
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
  ])("%s on %s: %s", (action, resource, expected) => {
    expect(allows(policy, action, resource)).toBe(expected);
  });

  it("lists only the job's prefix", () => {
    const listing = policy.Statement.find((s) => s.Action.includes("s3:ListBucket"))!;
    expect(listing.Condition).toEqual({ StringLike: { "s3:prefix": ["jobs/confinement-h100/*", "jobs/confinement-h100"] } });
  });

  it("without secrets, grants no secret access at all", () => {
    const bare = instancePolicy({ region: "us-east-1", accountId: "1", bucket: "b", prefix: "p", groupNames: ["g"], secrets: [] });
    expect(bare.Statement.map((s) => s.Sid)).toEqual(["JobObjects", "JobListing", "OwnGroupsCapacity", "DescribeGroups"]);
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
