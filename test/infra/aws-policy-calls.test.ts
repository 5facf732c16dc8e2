/**
 * Least privilege that works, proven on what the code really does. The
 * Pulumi program runs under mocks for a spec with secrets and an on-demand
 * fallback, and records its two role policies and the supervisor's
 * configuration. Then, on moto_server (and amazon-ec2-metadata-mock for the
 * spot notice), the real runtime bundle runs a short sweep on that very
 * store, with those secrets, is interrupted by the notice, resumes and scales
 * its own groups to zero; and the supervisor's Lambda handler, configured as
 * the program configures it, runs its first invocation, the fallback, the
 * runtime cap and the completion. Every AWS call both make is recorded
 * (SPOTJOB_AWS_CALL_LOG, runtime/cloud/aws-call-log.ts), mapped to the IAM
 * action, resource and condition context it needs (test/helpers/iam-calls.ts,
 * S3's 403-for-a-missing-key rule included) and evaluated against the recorded
 * documents by an IAM policy simulator. Every call must be allowed, and every
 * action each role is granted must be needed by some call: removing any one
 * makes a call fail here.
 */
import { AutoScalingClient, CreateAutoScalingGroupCommand, CreateLaunchConfigurationCommand, DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand, SetInstanceHealthCommand } from "@aws-sdk/client-auto-scaling";
import { CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import * as pulumi from "@pulumi/pulumi";
import { spawn } from "node:child_process";
import { mkdtempSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { PolicyDocument } from "../../infra/aws/policy";
import { recordingMocks, settled, setSpotjobConfig, type RecordedResource } from "../../infra/preview/recording-mocks";
import { AWS_CALL_LOG_ENV, recordAwsCalls, type AwsCallRecord } from "../../runtime/cloud/aws/call-log";
import { Journal } from "../../runtime/journal/journal";
import { JOURNAL_VERSION } from "../../runtime/journal/record";
import { S3Store } from "../../runtime/store/s3";
import { digestFile } from "../../runtime/store/transfer";
import type { SupervisorConfig } from "../../core/wire/supervisor-config";
import { awsInstanceEnv, emulatorEnv, requireBinary, startEc2MetadataMock } from "../helpers/emulators";
import { deniedPermissions, describeDenials, readCallLog, requiredPermissions } from "../helpers/iam-calls";
import { bundles, sharedMoto, unique } from "../helpers/shared";
import { registrationsDone } from "../helpers/pulumi-mocks";

let recorded: RecordedResource[] = [];
pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "dev", true);

// The run's moto_server: the job's names come from the program (only this file deploys this job); the rest are unique().
const moto = sharedMoto();
const hasMoto = moto !== undefined;
const hasAemm = requireBinary("ec2-metadata-mock");
const REGION = "us-east-1";
/** The customer-managed key the spec says its secrets are encrypted with (`secrets_kms_keys`). */
const KMS_KEY = `arn:aws:kms:${REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

const { runtime } = bundles();
let dir: string;
let spec: string;
let instancePolicy: PolicyDocument;
let supervisorPolicy: PolicyDocument;
let supervisorConfig: SupervisorConfig;
let logGroupName: string;
let deployKeys: string[];
let bucket: string;
let prefix: string;
let asg: AutoScalingClient;
let s3: S3Client;
const instanceLog = () => join(dir, "instance-calls.jsonl");
const supervisorLog = () => join(dir, "supervisor-calls.jsonl");

/** Runs the program under the recording mocks, as `pulumi preview` would. */
async function runProgram(job: string): Promise<void> {
  recorded = [];
  vi.resetModules();
  setSpotjobConfig({ job });
  const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
  await settled(stack.store as pulumi.Output<string>);
  await settled(stack.supervisor as pulumi.Output<string>);
  await registrationsDone();
}

const ofType = (type: string) => recorded.filter((r) => r.type === type);

beforeAll(async () => {
  if (!moto || !hasAemm) return;
  dir = mkdtempSync(join(tmpdir(), "spotjob-policy-calls-"));
  const config = { endpoint: moto.endpoint, region: REGION, credentials };
  s3 = new S3Client({ ...config, forcePathStyle: true });
  asg = new AutoScalingClient(config);
  await new SSMClient(config).send(new PutParameterCommand({ Name: "/spotjob-policy/hf-token", Type: "SecureString", Value: "hf-secret-value-123", Overwrite: true }));
  const secretArn = (await new SecretsManagerClient(config).send(new CreateSecretCommand({ Name: unique("spotjob-policy/db-password"), SecretString: "db-secret-value-456" }))).ARN!;

  spec = join(dir, "job.yaml");
  writeFileSync(
    spec,
    [
      "provider: aws",
      "name: policy-calls",
      "gpu_type: T4",
      `region: ${REGION}`,
      "max_runtime_minutes: 120",
      "spot_fallback_after_minutes: 10",
      "cost: {max_cost_per_hour: 5, max_total_budget: 20, autostop_minutes: 5, spot_fallback: true}",
      "secrets:",
      "  HF_TOKEN: ssm:/spotjob-policy/hf-token",
      `  DB_PASSWORD: ${secretArn}`,
      `secrets_kms_keys: ["${KMS_KEY}"]`,
      "sweep:",
      `  items: [${Array.from({ length: 24 }, (_, i) => `{i: ${i}}`).join(", ")}]`,
      '  key: "item-{i}"',
      "  command: |",
      '    echo "$SWEEP_KEY" > "$SWEEP_SNAPSHOT_DIR/$SWEEP_KEY.txt"',
      "    sleep 0.5",
      "  parallel: 2",
      'run: test -n "$HF_TOKEN" && test -n "$DB_PASSWORD" && echo done',
      "",
    ].join("\n"),
  );

  // The exact documents and configuration the program records.
  await runProgram(spec);
  const policyOf = (suffix: string) => JSON.parse(ofType("aws:iam/rolePolicy:RolePolicy").find((r) => r.name.endsWith(suffix))!.inputs.policy as string) as PolicyDocument;
  instancePolicy = policyOf("-instance");
  supervisorPolicy = policyOf("-supervisor");
  const fn = ofType("aws:lambda/function:Function")[0].inputs as { environment: { variables: Record<string, string> } };
  supervisorConfig = JSON.parse(fn.environment.variables.SPOTJOB_SUPERVISOR) as SupervisorConfig;
  logGroupName = ofType("aws:cloudwatch/logGroup:LogGroup")[0].inputs.name as string;
  deployKeys = ofType("aws:s3/bucketObjectv2:BucketObjectv2").map((o) => o.inputs.key as string);
  [bucket, prefix] = supervisorConfig.store.replace("s3://", "").split(/\/(.*)/s);

  // The job's bucket and groups on moto, by the names the program gave them.
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await asg.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: unique("gpu"), ImageId: "ami-12c6146b", InstanceType: "g4dn.xlarge" }));
  for (const [name, desired] of [
    [supervisorConfig.spot.name, 1],
    [supervisorConfig.onDemand!.name, 0],
  ] as const) {
    await asg.send(new CreateAutoScalingGroupCommand({ AutoScalingGroupName: name, LaunchConfigurationName: unique("gpu"), MinSize: 0, MaxSize: 1, DesiredCapacity: desired, AvailabilityZones: [`${REGION}a`] }));
  }
}, 120_000);

function runInstance(state: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [runtime, "run", "--spec", spec, "--store", supervisorConfig.store, "--state", join(dir, state)], {
    env: { ...process.env, ...awsInstanceEnv(moto!), SPOTJOB_AWS_GROUPS: `${supervisorConfig.spot.name},${supervisorConfig.onDemand!.name}`, SPOTJOB_AWS_CALL_LOG: instanceLog(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

const commands = (calls: AwsCallRecord[]) => [...new Set(calls.map((c) => `${c.service}:${c.command}`))].sort();

/** Calls made under the role but not through the runtime's SDK clients: the startup script's downloads. */
const startupScriptCalls = (): AwsCallRecord[] => deployKeys.flatMap((Key) => ["HeadObject", "GetObject"].map((command) => ({ service: "S3", command, region: REGION, input: { Bucket: bucket, Key } })));
/** And the Lambda service's writes of the supervisor's own log, with its role. */
const lambdaLogCalls = (): AwsCallRecord[] =>
  ["CreateLogStream", "PutLogEvents"].map((command) => ({ service: "CloudWatchLogs", command, region: REGION, input: { LogGroupName: logGroupName, LogStreamName: "2026/11/24/[$LATEST]0123456789abcdef" } }));

describe.runIf(hasMoto && hasAemm)("every AWS call the code makes is allowed by the role the program records, and every grant is needed", () => {
  let instanceCalls: AwsCallRecord[] = [];
  let supervisorCalls: AwsCallRecord[] = [];

  it("the instance: a sweep with secrets, interrupted by a spot notice, resumed, scaling its own groups to zero", async () => {
    const aemm = await startEc2MetadataMock(3);
    try {
      const first = await runInstance("machine-a", { SPOTJOB_IMDS_ENDPOINT: aemm.endpoint });
      expect(first.code, first.output).toBe(75);
      expect(first.output).toMatch(/spot interruption notice/);
    } finally {
      await aemm.stop();
    }
    const second = await runInstance("machine-b", {});
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/scaled Auto Scaling group .* to zero/);

    instanceCalls = readCallLog(instanceLog());
    // The log is the proof only if it saw the calls that matter.
    expect(commands(instanceCalls)).toEqual(expect.arrayContaining(["AutoScaling:SetDesiredCapacity", "S3:GetObject", "S3:ListObjectsV2", "S3:PutObject", "SSM:GetParameter", "SecretsManager:GetSecretValue"]));
    // Inputs only: no secret value and no object body is ever written to it.
    const raw = JSON.stringify(instanceCalls);
    expect(raw).not.toMatch(/hf-secret-value-123|db-secret-value-456/);
    const denied = await deniedPermissions([...instanceCalls, ...startupScriptCalls()], instancePolicy, { secretKmsKeyArn: KMS_KEY });
    expect(describeDenials(denied)).toBe("");
  }, 90_000);

  it("the instance's store with an object larger than one part: a multipart upload that finds and aborts a stale one, read back in ranges", async () => {
    const big = join(dir, "big.bin");
    writeFileSync(big, "");
    truncateSync(big, 64 * 1024 * 1024 + 4096); // just over one 64 MiB part
    const digest = await digestFile(big);
    const key = `snapshot/blobs/${digest.sha256}`;
    // Two uploads a crashed instance left behind: the store resumes the newer and aborts the older.
    for (let i = 0; i < 2; i++) await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}/${key}`, ChecksumAlgorithm: "SHA256" }));
    const saved = { ...process.env };
    Object.assign(process.env, emulatorEnv(moto), { SPOTJOB_AWS_CALL_LOG: instanceLog() });
    try {
      const store = new S3Store(bucket, prefix);
      await store.putFile(key, big, digest, { ifAbsent: true });
      const back = join(dir, "big.back");
      expect(await store.getToFile(key, back)).toBe(true);
      expect((await digestFile(back)).sha256).toBe(digest.sha256);
      // A machine that finds several journal segments compacts them, deleting those it replaced. Whether machine a
      // left several above depends on how far it got before its notice (not far, on a loaded machine): here it has.
      const journals = new S3Store(bucket, `${prefix}/compaction`);
      const first = await Journal.open({ path: join(dir, "compaction-a", "journal.jsonl"), store: journals });
      for (const item of ["one", "two"]) await first.append({ v: JOURNAL_VERSION, key: item, status: "done", attempt: 1, at: new Date().toISOString() });
      await first.close();
      await (await Journal.open({ path: join(dir, "compaction-b", "journal.jsonl"), store: journals })).close();
    } finally {
      process.env = saved;
    }
    const calls = readCallLog(instanceLog());
    expect(commands(calls)).toEqual(expect.arrayContaining(["S3:AbortMultipartUpload", "S3:CompleteMultipartUpload", "S3:DeleteObject", "S3:HeadObject", "S3:ListMultipartUploads", "S3:ListParts", "S3:UploadPart"]));
    instanceCalls = calls;
    const denied = await deniedPermissions([...instanceCalls, ...startupScriptCalls()], instancePolicy, { secretKmsKeyArn: KMS_KEY });
    expect(describeDenials(denied)).toBe("");
  }, 90_000);

  it("the supervisor's handler: its first run (no state yet), the on-demand fallback, the runtime cap, the job's completion", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, emulatorEnv(moto), { AWS_ENDPOINT_URL: moto!.endpoint, SPOTJOB_SUPERVISOR: JSON.stringify(supervisorConfig), SPOTJOB_AWS_CALL_LOG: supervisorLog() });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const handler = require(runtime).handler as () => Promise<{ scale: Record<string, number>; events: string[] }>;
      const { spot, onDemand } = { spot: supervisorConfig.spot.name, onDemand: supervisorConfig.onDemand!.name };
      const put = (key: string, body: object) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: JSON.stringify(body) }));
      const status = (over: object) => put("status.json", { job: "policy-calls", state: "RUNNING", holder: "h", items: { done: 0, failed: 0, total: 24 }, attempts: 1, started_at: new Date(Date.now() - 30 * 60_000).toISOString(), heartbeat_at: new Date().toISOString(), ...over });
      // Its first run: supervisor/state.json does not exist yet (a 404 only if the role may list it, else 403 on every run).
      await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: spot, DesiredCapacity: 1 }));
      await status({});
      expect((await handler()).scale).toEqual({});

      // Fallback: no healthy spot instance for the whole window.
      const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [spot] }));
      await asg.send(new SetInstanceHealthCommand({ InstanceId: out.AutoScalingGroups![0].Instances![0].InstanceId!, HealthStatus: "Unhealthy", ShouldRespectGracePeriod: false }));
      await put("supervisor/state.json", { spentUsd: 0, lastRunAt: Date.now() - 60_000, spotMissingSince: Date.now() - 11 * 60_000 });
      expect((await handler()).scale).toEqual({ [onDemand]: 1, [spot]: 0 });

      // The runtime cap.
      await status({ started_at: new Date(Date.now() - 121 * 60_000).toISOString() });
      expect((await handler()).scale).toEqual({ [onDemand]: 0 });

      // Completion: the job succeeded and the idle minutes passed.
      await asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: spot, DesiredCapacity: 1 }));
      await put("supervisor/state.json", { spentUsd: 0, lastRunAt: Date.now() - 60_000 });
      await status({ state: "SUCCEEDED", finished_at: new Date(Date.now() - 10 * 60_000).toISOString() });
      expect((await handler()).scale).toEqual({ [spot]: 0 });
    } finally {
      process.env = saved;
    }

    supervisorCalls = readCallLog(supervisorLog());
    expect(commands(supervisorCalls)).toEqual(expect.arrayContaining(["AutoScaling:DescribeAutoScalingGroups", "AutoScaling:SetDesiredCapacity", "S3:GetObject", "S3:PutObject"]));
    const denied = await deniedPermissions([...supervisorCalls, ...lambdaLogCalls()], supervisorPolicy);
    expect(describeDenials(denied)).toBe("");
  }, 90_000);

  /** Removes one action from one statement (the statement too, if it was its last). */
  function without(document: PolicyDocument, sid: string, action: string): PolicyDocument {
    return {
      ...document,
      Statement: document.Statement.map((s) => (s.Sid === sid ? { ...s, Action: s.Action.filter((a) => a !== action) } : s)).filter((s) => s.Action.length > 0),
    };
  }

  it.each<[string, () => PolicyDocument, () => AwsCallRecord[], () => string | undefined]>([
    ["instance", () => instancePolicy, () => [...instanceCalls, ...startupScriptCalls()], () => KMS_KEY],
    ["supervisor", () => supervisorPolicy, () => [...supervisorCalls, ...lambdaLogCalls()], () => undefined],
  ])("the %s role: removing any one granted action denies some recorded call", async (_, policy, calls, kmsKey) => {
    expect(calls().length, "the recording tests above must run first").toBeGreaterThan(0);
    const unneeded: string[] = [];
    for (const s of policy().Statement) {
      for (const action of s.Action) {
        if ((await deniedPermissions(calls(), without(policy(), s.Sid, action), { secretKmsKeyArn: kmsKey() })).length === 0) unneeded.push(`${s.Sid}: ${action}`);
      }
    }
    expect(unneeded, "granted, yet no recorded call needs it").toEqual([]);
  }, 60_000);

  it("the call log is off unless SPOTJOB_AWS_CALL_LOG names a file, and records inputs only", async () => {
    const off = new S3Client({ region: REGION });
    const before = off.middlewareStack.identify().length;
    expect(recordAwsCalls(off, {}).middlewareStack.identify()).toHaveLength(before);
    const file = join(dir, "unit-calls.jsonl");
    const on = recordAwsCalls(new S3Client({ endpoint: moto!.endpoint, region: REGION, forcePathStyle: true, credentials }), { [AWS_CALL_LOG_ENV]: file });
    await on.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/unit.txt`, Body: "body-never-logged", ContentType: "text/plain" }));
    expect(readCallLog(file)).toEqual([{ service: "S3", command: "PutObject", region: REGION, input: { Bucket: bucket, Key: `${prefix}/unit.txt` } }]);
  });

  it("an unmapped command fails rather than passes", () => {
    expect(() => requiredPermissions({ service: "S3", command: "DeleteBucket", input: { Bucket: "b" } })).toThrow(/no IAM mapping for the AWS call S3:DeleteBucket/);
  });
});
