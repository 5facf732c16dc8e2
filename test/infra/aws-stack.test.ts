/**
 * The Pulumi program for `provider: aws`, under Pulumi's mocks: every
 * resource it registers for the example AWS specs is recorded and held to the
 * contract (parents and names, IMDSv2, no inbound access, a private TLS-only
 * bucket, scoped IAM, no secret in user data, the selected instance types and
 * market, fallback exactly when asked, the supervisor and its limits).
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { planFile } from "../../core/plan/plan";
import type { CloudSelection } from "../../core/offers/select";
import { AwsJob } from "../../infra/aws/aws-job";
import { runtimeStanding } from "../../infra/aws/lambda-runtimes";
import { awsNames } from "../../infra/aws/names";
import { mutatingOnWildcard, type PolicyDocument } from "../../infra/aws/policy";
import { allows } from "../helpers/iam-simulator";
import { mockImages, recordingMocks, settled, setSpotjobConfig, type RecordedResource } from "../../infra/preview/recording-mocks";
import { registrationsDone } from "../helpers/pulumi-mocks";

const root = resolve(__dirname, "../..");
let recorded: RecordedResource[] = [];
beforeEach(() => {
  recorded = [];
});
pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "dev", true);

async function runProgram(config: Record<string, string>): Promise<Record<string, unknown>> {
  vi.resetModules();
  setSpotjobConfig(config);
  const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
  await settled(stack.store as pulumi.Output<string>);
  await settled(stack.supervisor as pulumi.Output<string>);
  // Registration is asynchronous: wait for the last resources to reach the mock monitor.
  await registrationsDone();
  return stack;
}

function specFile(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-aws-stack-"));
  writeFileSync(join(dir, "job.yaml"), lines.join("\n") + "\n");
  return join(dir, "job.yaml");
}

const ofType = (type: string) => recorded.filter((r) => r.type === type);
const one = (type: string) => {
  const found = ofType(type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0].inputs as Record<string, any>;
};
const policies = () => ofType("aws:iam/rolePolicy:RolePolicy").map((r) => JSON.parse(r.inputs.policy as string) as PolicyDocument);
const userData = () => Buffer.from(one("aws:ec2/launchTemplate:LaunchTemplate").userData as string, "base64").toString();
const groupsByMarket = () => Object.fromEntries(ofType("aws:autoscaling/group:Group").map((g) => [(g.inputs.tags as { key: string; value: string }[]).find((t) => t.key === "spotjob:market")!.value, g.inputs as Record<string, any>]));

describe("the Pulumi program, provider: aws (jobs/confinement_h100_aws.yaml: H100 spot with on-demand fallback)", () => {
  it("registers the bucket, uploads, identity, network, capacity and supervisor, and exports how to watch the job", async () => {
    const stack = await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    expect(stack.provider).toBe("aws");
    expect(stack.chosen).toBe("p5.4xlarge (us-east-1, spot)");
    const names = awsNames("confinement-h100-aws", "dev");
    expect(await settled(stack.store as pulumi.Output<string>)).toMatch(/^s3:\/\/spotjob-confinement-h100-aws-20261124mock\/jobs\/confinement-h100-aws$/);
    expect(await settled(stack.groups as pulumi.Output<string[]>)).toEqual([names.spotGroup, names.onDemandGroup]);
    expect(await settled(stack.watch as pulumi.Output<string>)).toMatch(/npx spotjob status jobs\/confinement_h100_aws.yaml --store s3:\/\/.*\/jobs\/confinement-h100-aws/);
    expect(recorded.map((r) => r.type).sort()).toEqual(
      [
        "pulumi:providers:aws",
        "spotjob:aws:Job",
        "spotjob:aws:JobBucket",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketPolicy:BucketPolicy",
        "command:local:Command",
        "spotjob:aws:JobObjects",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "spotjob:aws:JobIdentity",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/instanceProfile:InstanceProfile",
        "spotjob:aws:JobNetwork",
        "aws:ec2/securityGroup:SecurityGroup",
        "spotjob:aws:JobCapacity",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:autoscaling/group:Group",
        "aws:autoscaling/group:Group",
        "spotjob:aws:JobSupervisor",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:lambda/function:Function",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:lambda/permission:Permission",
        "aws:cloudwatch/eventTarget:EventTarget",
      ].sort(),
    );
  });

  it("requires IMDSv2, encrypts the root volume, and opens no inbound port", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    const template = one("aws:ec2/launchTemplate:LaunchTemplate");
    expect(template.metadataOptions).toMatchObject({ httpTokens: "required", httpEndpoint: "enabled" });
    expect(template.blockDeviceMappings).toEqual([{ deviceName: "/dev/sda1", ebs: { volumeSize: 30, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }]);
    expect(template.imageId).toBe("resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id");
    expect(template.keyName).toBeUndefined();
    const group = one("aws:ec2/securityGroup:SecurityGroup");
    expect(group.ingress ?? []).toEqual([]);
    expect(ofType("aws:ec2/keyPair:KeyPair")).toEqual([]);
  });

  it("keeps the bucket private, TLS-only, encrypted and versioned, and keeps results on destroy", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    expect(one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    const policy = JSON.parse(one("aws:s3/bucketPolicy:BucketPolicy").policy);
    expect(policy.Statement).toEqual([expect.objectContaining({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } })]);
    expect(policy.Statement[0].Resource).toEqual(["arn:aws:s3:::spotjob-confinement-h100-aws-20261124mock", "arn:aws:s3:::spotjob-confinement-h100-aws-20261124mock/*"]);
    expect(one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").rules[0].applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
    expect(one("aws:s3/bucketVersioning:BucketVersioning").versioningConfiguration.status).toBe("Enabled");
    expect(one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").rules[0].noncurrentVersionExpiration.noncurrentDays).toBe(30);
    expect(one("aws:s3/bucket:Bucket").forceDestroy).toBe(false);
    expect(one("command:local:Command").delete).toMatch(/results kept in s3:\/\/\$BUCKET\/\$PREFIX.*pulumi config set spotjob:bucket \$BUCKET && pulumi up/);
  });

  it("scopes every IAM statement: no mutating action on *, objects only under the job's prefix, only its own groups", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    const names = awsNames("confinement-h100-aws", "dev");
    const [instance, supervisor] = policies();
    for (const p of [instance, supervisor]) expect(mutatingOnWildcard(p)).toEqual([]);
    const bucket = "arn:aws:s3:::spotjob-confinement-h100-aws-20261124mock";
    const group = (n: string) => `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/${n}`;
    expect(await allows(instance, "s3:PutObject", `${bucket}/jobs/confinement-h100-aws/journal/seg-1.jsonl`)).toBe(true);
    expect(await allows(instance, "s3:PutObject", `${bucket}/jobs/other/status.json`)).toBe(false);
    expect(await allows(instance, "autoscaling:SetDesiredCapacity", group(names.spotGroup))).toBe(true);
    expect(await allows(instance, "autoscaling:SetDesiredCapacity", group("someone-else"))).toBe(false);
    expect(await allows(supervisor, "s3:GetObject", `${bucket}/jobs/confinement-h100-aws/status.json`)).toBe(true);
    expect(await allows(supervisor, "s3:PutObject", `${bucket}/jobs/confinement-h100-aws/supervisor/state.json`)).toBe(true);
    expect(await allows(supervisor, "s3:PutObject", `${bucket}/jobs/confinement-h100-aws/status.json`)).toBe(false);
    expect(await allows(supervisor, "autoscaling:SetDesiredCapacity", group(names.onDemandGroup))).toBe(true);
    expect(await allows(supervisor, "ec2:TerminateInstances", "*")).toBe(false);
    const assume = ofType("aws:iam/role:Role").map((r) => JSON.parse(r.inputs.assumeRolePolicy as string).Statement[0].Principal.Service).sort();
    expect(assume).toEqual(["ec2.amazonaws.com", "lambda.amazonaws.com"]);
  });

  it("launches the selected instance types: all spot, price-capacity-optimized, plus an on-demand standby at zero", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    const plan = planFile(join(root, "jobs/confinement_h100_aws.yaml"));
    if (plan.outcome !== "ok" || plan.selection.local) throw new Error("plan");
    const { spot, "on-demand": onDemand } = groupsByMarket();
    expect(spot.mixedInstancesPolicy.instancesDistribution).toEqual({ onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: "price-capacity-optimized" });
    expect(spot.mixedInstancesPolicy.launchTemplate.overrides.map((o: { instanceType: string }) => o.instanceType)).toEqual(plan.selection.capacityTypes);
    expect(spot).toMatchObject({ minSize: 0, maxSize: 1, desiredCapacity: 1, capacityRebalance: false, waitForCapacityTimeout: "0", vpcZoneIdentifiers: ["subnet-default-a", "subnet-default-b"] });
    expect(onDemand).toMatchObject({ minSize: 0, maxSize: 1, desiredCapacity: 0 });
    expect(onDemand.mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity).toBe(100);
    expect(onDemand.mixedInstancesPolicy.launchTemplate.overrides[0].instanceType).toBe(plan.selection.fallback!.instanceType);
  });

  it("puts no spec value and no secret in user data: the spec travels as an object in the bucket", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    const script = userData();
    expect(script).toMatch(/^#!\/bin\/bash/);
    expect(script).not.toMatch(/USE_NODE|pip3 install|SWEEP COMPLETE|ghcr\.io/);
    const uploaded = ofType("aws:s3/bucketObjectv2:BucketObjectv2").map((o) => o.inputs.key).sort();
    expect(uploaded).toEqual(["jobs/confinement-h100-aws/deploy/runtime.cjs", "jobs/confinement-h100-aws/deploy/spec.json", "jobs/confinement-h100-aws/deploy/workdir.tar.gz"]);
  });

  it("gives the supervisor the spec's limits, and the prices of the dearest type each group may launch", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml" });
    const fn = one("aws:lambda/function:Function");
    expect(fn).toMatchObject({ handler: "runtime.handler", runtime: "nodejs24.x" });
    // The runtime the program registers is on AWS's schedule and neither deprecated nor blocked within 180 days.
    expect(runtimeStanding(fn.runtime, new Date().toISOString().slice(0, 10), 180)).toEqual({ state: "supported", dates: expect.any(Object) });
    const config = JSON.parse(fn.environment.variables.SPOTJOB_SUPERVISOR);
    expect(config.store).toBe("s3://spotjob-confinement-h100-aws-20261124mock/jobs/confinement-h100-aws");
    expect(config.policy).toEqual({ maxRuntimeMinutes: null, budgetUsd: 120, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 420 });
    expect(config.spot.pricePerHour).toBeGreaterThanOrEqual(6.9);
    expect(one("aws:cloudwatch/eventRule:EventRule").scheduleExpression).toBe("rate(1 minute)");
  });
});

describe("the Pulumi program, provider: aws, other specs", () => {
  it("no fallback group when spot_fallback is off; SSH only when asked, from the listed CIDRs; secrets granted by reference", async () => {
    const file = specFile([
      "provider: aws",
      "name: ssh-job",
      "gpu_type: L4",
      "run: python3 train.py",
      "cost: {max_cost_per_hour: 2, max_total_budget: 10}",
      "ssh: {public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample you@laptop', cidrs: ['203.0.113.7/32']}",
      "envs: {PLAIN: not-a-secret-value-zz}",
      "secrets: {HF_TOKEN: 'ssm:/team/hf-token'}",
    ]);
    await runProgram({ job: file });
    expect(Object.keys(groupsByMarket())).toEqual(["spot"]);
    expect(one("aws:ec2/securityGroup:SecurityGroup").ingress).toEqual([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.7/32"], description: "SSH (spec: ssh.cidrs)" }]);
    expect(one("aws:ec2/keyPair:KeyPair").publicKey).toMatch(/^ssh-ed25519 /);
    const [instance, supervisor] = policies();
    expect(await allows(instance, "ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/team/hf-token")).toBe(true);
    expect(await allows(instance, "ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/team/other")).toBe(false);
    expect(await allows(supervisor, "ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/team/hf-token")).toBe(false);
    expect(userData()).not.toMatch(/hf-token|not-a-secret-value-zz|HF_TOKEN/);
    expect(JSON.parse(one("aws:lambda/function:Function").environment.variables.SPOTJOB_SUPERVISOR).onDemand).toBeUndefined();
    // No workdir in the spec: nothing but the runtime and the spec is uploaded.
    expect(ofType("aws:s3/bucketObjectv2:BucketObjectv2").map((o) => o.inputs.key).sort()).toEqual(["jobs/ssh-job/deploy/runtime.cjs", "jobs/ssh-job/deploy/spec.json"]);
  });

  it("without use_spot the one group is on-demand", async () => {
    const file = specFile(["provider: aws", "name: od-job", "gpu_type: T4", "use_spot: false", "run: python3 train.py"]);
    await runProgram({ job: file });
    const groups = groupsByMarket();
    expect(Object.keys(groups)).toEqual(["on-demand"]);
    expect(groups["on-demand"].desiredCapacity).toBe(1);
  });

  it("with spotjob:bucket it creates no bucket and uses the given one; with deleteResultsOnDestroy the bucket goes with the stack", async () => {
    await runProgram({ job: "jobs/confinement_h100_aws.yaml", bucket: "earlier-results" });
    expect(ofType("aws:s3/bucket:Bucket")).toEqual([]);
    expect(ofType("aws:s3/bucketPolicy:BucketPolicy")).toEqual([]);
    expect(JSON.parse(one("aws:lambda/function:Function").environment.variables.SPOTJOB_SUPERVISOR).store).toBe("s3://earlier-results/jobs/confinement-h100-aws");
    recorded = [];
    await runProgram({ job: "jobs/confinement_h100_aws.yaml", deleteResultsOnDestroy: "true" });
    expect(one("aws:s3/bucket:Bucket").forceDestroy).toBe(true);
  });

  it("a violated cost guard fails the preview before any resource is registered", async () => {
    const file = specFile(["provider: aws", "name: too-dear", "gpu_type: H100", "gpu_count: 8", "run: python3 train.py", "cost: {max_cost_per_hour: 1}"]);
    await expect(runProgram({ job: file })).rejects.toThrow(/too-dear|max_cost_per_hour/);
    expect(recorded).toEqual([]);
  });
});

describe("the Pulumi program, provider: aws: the image's root device and snapshot, resolved at preview", () => {
  const rootMapping = () => one("aws:ec2/launchTemplate:LaunchTemplate").blockDeviceMappings[0];

  it("a custom AMI with a /dev/xvda root and a 100 GB snapshot: the template maps /dev/xvda at 100 GB and the preview warns", async () => {
    mockImages.set("ami-0custom0xvda0100", { rootDeviceName: "/dev/xvda", snapshotGb: 100 });
    const warn = vi.spyOn(pulumi.log, "warn");
    try {
      // disk_size is 50 by default: smaller than the snapshot, so every launch would fail with InvalidBlockDeviceMapping.
      const file = specFile(["provider: aws", "name: custom-ami", "gpu_type: T4", "run: python3 train.py"]);
      await runProgram({ job: file, ami: "ami-0custom0xvda0100" });
      expect(one("aws:ec2/launchTemplate:LaunchTemplate").imageId).toBe("ami-0custom0xvda0100");
      expect(rootMapping()).toEqual({ deviceName: "/dev/xvda", ebs: { volumeSize: 100, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } });
      expect(warn.mock.calls.map((c) => String(c[0]))).toContainEqual(expect.stringMatching(/disk_size 50 GB is smaller than the image's root snapshot \(ami-0custom0xvda0100, 100 GB\): the root volume is 100 GB/));
    } finally {
      warn.mockRestore();
    }
  });

  it("a disk_size larger than the snapshot is kept; a resolve:ssm: image is resolved through the parameter", async () => {
    mockImages.set("ami-0custom0xvda0100", { rootDeviceName: "/dev/xvda", snapshotGb: 100 });
    const file = specFile(["provider: aws", "name: big-disk", "gpu_type: T4", "disk_size: 300", "run: python3 train.py"]);
    await runProgram({ job: file, ami: "ami-0custom0xvda0100" });
    expect(rootMapping()).toMatchObject({ deviceName: "/dev/xvda", ebs: { volumeSize: 300 } });
    recorded = [];
    // The default image: the DLAMI's SSM parameter, resolved to the mocks' image (root /dev/sda1, 20 GB snapshot).
    await runProgram({ job: file });
    expect(rootMapping()).toMatchObject({ deviceName: "/dev/sda1", ebs: { volumeSize: 300 } });
    expect(one("aws:ec2/launchTemplate:LaunchTemplate").imageId).toMatch(/^resolve:ssm:\/aws\/service\/deeplearning\//);
  });
});

describe("AwsJob", () => {
  it("parents every resource under the component, named after it", async () => {
    const file = join(root, "jobs/confinement_h100_aws.yaml");
    const plan = planFile(file);
    if (plan.outcome !== "ok" || plan.selection.local) throw new Error("plan");
    const job = new AwsJob("tree-test", {
      spec: plan.loaded.spec,
      specDir: dirname(file),
      selection: plan.selection as CloudSelection,
      stack: "dev",
      runtimeBundle: join(root, "package.json"), // any file: the mocks do not read it
      secrets: [],
    });
    await settled(job.store);
    await registrationsDone();
    type Node = { __name: string; __childResources?: Set<Node> };
    const seen: string[] = [];
    const walk = (node: Node, parentName: string) => {
      for (const child of node.__childResources ?? []) {
        expect(child.__name.startsWith(parentName), `${child.__name} is named after its parent ${parentName}`).toBe(true);
        seen.push(child.__name);
        walk(child, child.__name);
      }
    };
    walk(job as unknown as Node, "tree-test");
    // Every resource the component registered is in its tree (the provider belongs to the program, not the job).
    expect(seen.length).toBe(recorded.length - 1);
  });
});
