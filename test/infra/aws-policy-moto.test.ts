/**
 * The two role policies the Pulumi program records, created as roles on a
 * moto_server that enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT: the setup runs
 * unauthenticated, everything after it is authorized), used with credentials
 * from STS AssumeRole. moto enforces object ARNs: each role reaches its own
 * objects through the runtime's store code and is refused everywhere else.
 * (It evaluates no condition and answers NoSuchKey for a missing key, so the
 * listing rule is proven by aws-policy-calls.test.ts with the simulator.)
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PolicyDocument } from "../../infra/aws/policy";
import { recordingMocks, settled, setSpotjobConfig, type RecordedResource } from "../../infra/preview/recording-mocks";
import { S3Store } from "../../runtime/store/s3";
import { requireBinary, type Emulator } from "../helpers/emulators";
import { assumeRole, createRole, ROOT_CREDENTIALS, startEnforcingMoto, type Credentials } from "../helpers/iam-moto";
import { registrationsDone } from "../helpers/pulumi-mocks";

let recorded: RecordedResource[] = [];
pulumi.runtime.setMocks(recordingMocks((r) => recorded.push(r)), "spotjob", "dev", true);

const hasMoto = requireBinary("moto_server");
const BUCKET = "spotjob-confinement-h100-aws-20261124mock";
const PREFIX = "jobs/confinement-h100-aws";
/** CreateBucket, two seed objects, two roles (CreateRole + PutRolePolicy each), two AssumeRole. */
const SETUP_ACTIONS = 9;

let moto: Emulator | undefined;
let instance: Credentials;
let supervisor: Credentials;

const client = (credentials: Credentials) => new S3Client({ endpoint: moto!.endpoint, region: "us-east-1", forcePathStyle: true, credentials, maxAttempts: 1 });

beforeAll(async () => {
  if (!hasMoto) return;
  setSpotjobConfig({ job: "jobs/confinement_h100_aws.yaml" });
  vi.resetModules();
  const stack = (await import("../../infra/index.js")) as Record<string, unknown>;
  await settled(stack.supervisor as pulumi.Output<string>);
  await registrationsDone();
  const policy = (suffix: string) => JSON.parse(recorded.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name.endsWith(suffix))!.inputs.policy as string) as PolicyDocument;
  expect(JSON.stringify(policy("-instance"))).toContain(`arn:aws:s3:::${BUCKET}/${PREFIX}/*`);

  moto = await startEnforcingMoto(SETUP_ACTIONS);
  const root = client(ROOT_CREDENTIALS);
  await root.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: "jobs/other-job/status.json", Body: "{}" }));
  await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/status.json`, Body: '{"state":"RUNNING"}' }));
  const instanceRole = await createRole(moto.endpoint, "spotjob-instance", policy("-instance"));
  const supervisorRole = await createRole(moto.endpoint, "spotjob-supervisor", policy("-supervisor"));
  instance = await assumeRole(moto.endpoint, instanceRole);
  supervisor = await assumeRole(moto.endpoint, supervisorRole);
}, 120_000);
afterAll(async () => {
  await moto?.stop();
});

/** The error name of a call, or "ok". */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

describe.runIf(hasMoto)("the recorded role policies on moto_server with IAM enforced (STS AssumeRole credentials)", () => {
  it("enforcement is on: the setup's own credentials are refused now", async () => {
    expect(await outcome(client(ROOT_CREDENTIALS).send(new GetObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/status.json` })))).not.toBe("ok");
  });

  it("the instance role writes, reads and deletes under its prefix through the runtime's store, and nothing outside it", async () => {
    const s3 = client(instance);
    const store = new S3Store(BUCKET, PREFIX, { client: s3, retry: { attempts: 1, baseMs: 1, maxMs: 1 } });
    await store.put("journal/seg-0000000001.jsonl", '{"key":"a"}\n');
    expect((await store.get("journal/seg-0000000001.jsonl"))?.body.toString()).toBe('{"key":"a"}\n');
    await store.delete("journal/seg-0000000001.jsonl");
    expect(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "jobs/other-job/status.json", Body: "x" })))).toBe("AccessDenied");
    expect(await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "jobs/other-job/status.json" })))).toBe("AccessDenied");
    expect(await outcome(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "jobs/other-job/status.json" })))).toBe("AccessDenied");
    expect(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "outside-any-job.txt", Body: "x" })))).toBe("AccessDenied");
  });

  it("the supervisor role reads the job and writes only its own records under supervisor/", async () => {
    const s3 = client(supervisor);
    const store = new S3Store(BUCKET, PREFIX, { client: s3, retry: { attempts: 1, baseMs: 1, maxMs: 1 } });
    expect((await store.get("status.json"))?.body.toString()).toBe('{"state":"RUNNING"}');
    await store.put("supervisor/state.json", '{"spentUsd":0}');
    // (An event's real key holds the time with colons: moto's signature check rejects a key with an encoded `:`, like a `/` in a listed Prefix.)
    await store.put("supervisor/events/20261124T120000Z.json", "{}");
    expect((await store.get("supervisor/state.json"))?.body.toString()).toBe('{"spentUsd":0}');
    expect(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/status.json`, Body: "x" })))).toBe("AccessDenied");
    expect(await outcome(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}/supervisor/state.json` })))).toBe("AccessDenied");
    expect(await outcome(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "jobs/other-job/supervisor/state.json", Body: "x" })))).toBe("AccessDenied");
    expect(await outcome(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "jobs/other-job/status.json" })))).toBe("AccessDenied");
  });
});
