/**
 * Regions, under Pulumi's mocks: a reused bucket (`spotjob:bucket`) is looked
 * up at preview and decides the job's region when the spec leaves it open; a
 * region the spec pins elsewhere, or a GPU the bucket's region lacks, fails
 * the preview naming both regions. The instance role reads each secret in its
 * own region, and decrypts with the spec's KMS keys only through SSM and
 * Secrets Manager.
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { placeForBucket, type CloudPlan } from "../../infra/aws/bucket-region";
import type { PolicyDocument } from "../../infra/aws/policy";
import { planFile } from "../../core/plan/plan";
import { FAKE_ACCOUNT, recordingMocks, setSpotjobConfig, type RecordedResource } from "../../infra/preview/recording-mocks";
import { registrationsDone } from "../helpers/pulumi-mocks";

/** Where the mock account's buckets are; any other bucket does not exist. */
const BUCKETS: Record<string, string> = { "results-east": "us-east-1", "results-west": "us-west-2", "results-ireland": "eu-west-1" };

let recorded: RecordedResource[] = [];
let lookups: { bucket: string; region: unknown }[] = [];
beforeEach(() => {
  recorded = [];
  lookups = [];
});
const base = recordingMocks((r) => recorded.push(r));
pulumi.runtime.setMocks(
  {
    ...base,
    call: (args) => {
      // Data sources answer for their provider's region, as the real ones do.
      if (args.token === "aws:index/getRegion:getRegion") {
        const name = /::([^:]+)::[^:]*$/.exec(args.provider ?? "")?.[1];
        const region = recorded.find((r) => r.type === "pulumi:providers:aws" && r.name === name)?.inputs.region ?? "us-east-1";
        return { region, name: region };
      }
      if (args.token !== "aws:s3/getBucket:getBucket") return base.call(args);
      const bucket = String(args.inputs.bucket);
      lookups.push({ bucket, region: args.inputs.region });
      const home = BUCKETS[bucket];
      // A failed invoke reaches the program as a gRPC error whose `details` are the provider's words.
      const fail = (details: string) => Object.assign(new Error(details), { details });
      if (!home) throw fail(`invoking aws:s3/getBucket:getBucket: 1 error occurred: * reading S3 Bucket (${bucket}): couldn't find resource`);
      // What the provider says when asked from another region (S3's 301 to HeadBucket).
      if (args.inputs.region !== undefined && args.inputs.region !== home) {
        throw fail(`invoking aws:s3/getBucket:getBucket: 1 error occurred: * reading S3 Bucket (${bucket}): operation error S3: HeadBucket, https response error StatusCode: 301, RequestID: X, api error MovedPermanently: Moved Permanently`);
      }
      return { bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegion: home };
    },
  },
  "spotjob",
  "dev",
  true,
);

/** An output's value, or its failure (a preview error). */
function valueOf<T>(output: unknown): Promise<T> {
  return (output as { promise(): Promise<T> }).promise();
}

async function runProgram(config: Record<string, string>): Promise<{ stack: Record<string, unknown>; info: string[] }> {
  vi.resetModules();
  setSpotjobConfig(config);
  const info: string[] = [];
  const log = vi.spyOn(pulumi.log, "info").mockImplementation(async (message: string) => void info.push(message));
  try {
    const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
    await valueOf(stack.store);
    await valueOf(stack.supervisor);
    // Registration is asynchronous: wait for the last resources to reach the mock monitor.
    await registrationsDone();
    return { stack, info };
  } finally {
    log.mockRestore();
  }
}

async function previewError(config: Record<string, string>): Promise<string> {
  vi.resetModules();
  setSpotjobConfig(config);
  const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
  const failed = await valueOf(stack.store).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(failed, "the preview fails").toBeInstanceOf(Error);
  expect(failed).toBeInstanceOf(pulumi.RunError);
  // What the failed program still registers lands before the next test starts recording.
  await registrationsDone();
  return failed!.message;
}

function specFile(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-aws-regions-"));
  writeFileSync(join(dir, "job.yaml"), lines.join("\n") + "\n");
  return join(dir, "job.yaml");
}

const T4 = ["provider: aws", "name: regions-job", "gpu_type: T4", "run: python3 train.py"];
const ofType = (type: string) => recorded.filter((r) => r.type === type);
const jobProvider = () => recorded.find((r) => r.type === "pulumi:providers:aws" && r.name === "aws")!;
const userData = () => Buffer.from(ofType("aws:ec2/launchTemplate:LaunchTemplate")[0].inputs.userData as string, "base64").toString();

describe("a reused bucket (spotjob:bucket) and the job's region", () => {
  it("`region: \"\"`: the job follows the bucket to its region when the GPU is offered there, and says so", async () => {
    const { stack, info } = await runProgram({ job: specFile(T4), bucket: "results-west" });
    expect(await valueOf(stack.chosen)).toBe("g4dn.xlarge (us-west-2, spot)");
    expect(await valueOf(stack.store)).toBe("s3://results-west/jobs/regions-job");
    expect(jobProvider().inputs.region).toBe("us-west-2");
    expect(userData()).toContain("REGION='us-west-2'");
    expect(userData()).toContain("BUCKET='results-west'");
    // Looked for from the job's first choice, then found in its own region.
    expect(lookups[0]).toEqual({ bucket: "results-west", region: "us-east-1" });
    expect(lookups.map((l) => l.region)).toContain("us-west-2");
    expect(info.join("\n")).toMatch(/spotjob:bucket results-west is in us-west-2: regions-job runs there, on g4dn\.xlarge \(spot\) at \$[\d.]+\/h, instead of us-east-1/);
    expect(ofType("aws:s3/bucket:Bucket")).toEqual([]);
  });

  it("a bucket in the job's own region changes nothing", async () => {
    const { stack, info } = await runProgram({ job: specFile(T4), bucket: "results-east" });
    expect(await valueOf(stack.chosen)).toBe("g4dn.xlarge (us-east-1, spot)");
    expect(jobProvider().inputs.region).toBe("us-east-1");
    expect(lookups[0]).toEqual({ bucket: "results-east", region: "us-east-1" });
    expect(info.join("\n")).not.toMatch(/runs there/);
  });

  it("a pinned `region:` elsewhere is a preview error naming both regions and both fixes; no job resource is registered", async () => {
    const message = await previewError({ job: specFile([...T4, "region: us-east-1"]), bucket: "results-west" });
    expect(message).toMatch(/spotjob:bucket results-west is in us-west-2, and the spec pins the job to us-east-1 \(`region: us-east-1`\)/);
    expect(message).toContain("set `region: us-west-2` in the spec");
    expect(message).toContain("aws s3 mb s3://<new bucket> --region us-east-1 && aws s3 sync s3://results-west/jobs/regions-job s3://<new bucket>/jobs/regions-job");
    expect(message).toContain("pulumi config set spotjob:bucket <new bucket>");
    expect(ofType("spotjob:aws:Job")).toEqual([]);
    expect(ofType("aws:iam/role:Role")).toEqual([]);
  });

  it("`regions:` without the bucket's region is a preview error: add it, or copy the results", async () => {
    const message = await previewError({ job: specFile([...T4, "regions: [us-east-1, us-east-2]"]), bucket: "results-west" });
    expect(message).toMatch(/results-west is in us-west-2, which is not one of the spec's `regions: \[us-east-1, us-east-2\]`/);
    expect(message).toContain("add us-west-2 to `regions`");
    // With the bucket's region among several, the job runs there.
    const { stack } = await runProgram({ job: specFile([...T4, "regions: [us-east-1, us-west-2]"]), bucket: "results-west" });
    expect(await valueOf(stack.chosen)).toBe("g4dn.xlarge (us-west-2, spot)");
  });

  it("a bucket in a region without the GPU is a preview error naming the region (found by looking further)", async () => {
    const message = await previewError({ job: specFile(T4), bucket: "results-ireland" });
    expect(message).toMatch(/spotjob:bucket results-ireland is in eu-west-1, and this job cannot run there: /);
    expect(message).toContain("eu-west-1");
    expect(message).toContain("aws s3 mb s3://<new bucket> --region us-east-1");
    expect(lookups.at(-1)).toEqual({ bucket: "results-ireland", region: "eu-west-1" });
  });

  it("a bucket that does not exist fails the preview at the first lookup, saying so", async () => {
    const message = await previewError({ job: specFile(T4), bucket: "no-such-results" });
    expect(message).toMatch(/spotjob:bucket no-such-results cannot be read \(from us-east-1\): .*reading S3 Bucket \(no-such-results\): couldn't find resource/);
    expect(lookups).toHaveLength(1);
  });
});

describe("placeForBucket (pure)", () => {
  const planOf = (lines: string[]) => {
    const plan = planFile(specFile(lines), { catalogFile: undefined });
    if (plan.outcome !== "ok" || plan.selection.local) throw new Error("expected a cloud plan");
    return plan as CloudPlan;
  };
  it("keeps, moves or refuses", () => {
    const open = planOf(T4);
    expect(placeForBucket(open, "b", "us-east-1", "jobs/x")).toEqual({ ok: true, plan: open });
    const moved = placeForBucket(open, "b", "us-east-2", "jobs/x");
    expect(moved.ok && moved.plan.selection.chosen.region).toBe("us-east-2");
    expect(moved.ok && moved.movedFrom).toBe("us-east-1");
    // A cost guard that only the bucket's region would break is a refusal too: here, one no offer passes anywhere.
    const refused = placeForBucket(planOf([...T4, "region: us-east-2"]), "b", "us-west-2", "jobs/x");
    expect(refused.ok).toBe(false);
  });
});

describe("the instance role reads each secret in its region and decrypts only through SSM and Secrets Manager", () => {
  it("grants parameters in the job's region, the named region and the ARN's account; kms:Decrypt on the declared keys with kms:ViaService", async () => {
    const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const file = specFile([
      ...T4,
      "region: us-east-1",
      "secrets:",
      "  A: ssm:/team/a",
      "  B: ssm:eu-west-1:/team/b",
      "  C: arn:aws:ssm:eu-west-1:210987654321:parameter/shared/c",
      "  D: arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
      "secrets_kms_keys:",
      `  - ${key}`,
    ]);
    await runProgram({ job: file });
    const instance = ofType("aws:iam/rolePolicy:RolePolicy")
      .map((r) => JSON.parse(r.inputs.policy as string) as PolicyDocument)
      .find((d) => d.Statement.some((s) => s.Sid === "JobParameters"))!;
    const statement = (sid: string) => instance.Statement.find((s) => s.Sid === sid)!;
    expect(statement("JobParameters").Resource).toEqual([
      `arn:aws:ssm:us-east-1:${FAKE_ACCOUNT}:parameter/team/a`,
      `arn:aws:ssm:eu-west-1:${FAKE_ACCOUNT}:parameter/team/b`,
      "arn:aws:ssm:eu-west-1:210987654321:parameter/shared/c",
    ]);
    expect(statement("JobSecrets").Resource).toEqual(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf-??????"]);
    expect(statement("SecretKeys")).toEqual({
      Sid: "SecretKeys",
      Effect: "Allow",
      Action: ["kms:Decrypt"],
      Resource: [key],
      Condition: { StringEquals: { "kms:ViaService": ["ssm.eu-west-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com"] } },
    });
    // No key declared, no kms statement.
    recorded = [];
    await runProgram({ job: specFile([...T4, "region: us-east-1", "secrets:", "  A: ssm:/team/a"]) });
    const plain = ofType("aws:iam/rolePolicy:RolePolicy").map((r) => JSON.parse(r.inputs.policy as string) as PolicyDocument);
    expect(plain.flatMap((d) => d.Statement).some((s) => s.Action.some((a) => a.startsWith("kms:")))).toBe(false);
  });
});
