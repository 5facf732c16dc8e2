/**
 * `secrets:` on AWS, against moto_server's SSM and Secrets Manager: the real
 * runtime bundle (SPOTJOB_CLOUD=aws) reads an SSM SecureString and a Secrets
 * Manager secret at start and gives them to setup, sweep commands and run;
 * the values appear nowhere in the store (every object of the bucket), the
 * runtime's output or its machine-local state, and the log shows ***. A
 * missing parameter fails the boot naming the variable and the reference.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { awsSecretsReader, fetchAwsSecrets, SecretFetchError } from "../../runtime/cloud/aws/secrets";
import { MASK, Redactor } from "../../runtime/redact";
import { awsInstanceEnv } from "../helpers/emulators";
import { bundles, sharedMoto, unique } from "../helpers/shared";

describe("Redactor", () => {
  it("masks every occurrence of every value of 6 characters or more, and nothing else", () => {
    const r = new Redactor();
    expect(r.apply("nothing to mask")).toBe("nothing to mask");
    expect(r.add("s3cr3t-value")).toBe(true);
    expect(r.add("short")).toBe(false);
    expect(r.apply("a s3cr3t-value b s3cr3t-value short")).toBe(`a ${MASK} b ${MASK} short`);
  });

  it("masks the longer of two overlapping values whole, and each line of a value over several lines", () => {
    const r = new Redactor();
    r.add("abcdef");
    r.add("abcdefghij");
    expect(r.apply("xabcdefghijx")).toBe(`x${MASK}x`);
    r.add("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----");
    expect(r.apply("  MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")).toBe(`  ${MASK}`);
  });
});

describe("secrets off AWS (no SPOTJOB_CLOUD)", () => {
  it("the job gets them from this machine's environment, with a warning, and they are masked the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-secrets-here-"));
    const spec = join(dir, "job.yaml");
    writeFileSync(spec, ["provider: aws", "gpu_type: T4", "name: secrets-here", "secrets:", "  MY_TOKEN: ssm:/spotjob-test/my-token", "  OTHER: ssm:/spotjob-test/other", `run: printf '%s' "$MY_TOKEN" > ${dir}/token.txt; echo "token is $MY_TOKEN"`, ""].join("\n"));
    const value = `local-${randomBytes(8).toString("hex")}`;
    const child = spawn(process.execPath, [runtime, "run", "--spec", spec, "--store", join(dir, "store"), "--state", join(dir, "machine")], { env: { ...process.env, SPOTJOB_CLOUD: "", MY_TOKEN: value }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code, output).toBe(0);
    expect(readFileSync(join(dir, "token.txt"), "utf8")).toBe(value);
    expect(output).toContain("secrets are read on a cloud instance only; here MY_TOKEN, OTHER come from this machine's environment (not set: OTHER)");
    expect(output).toContain("[run] token is ***");
    expect(output).not.toContain(value);
    expectNowhere([value], localFiles(join(dir, "store")));
  }, 60_000);
});

// The run's moto_server; the bucket and secret are this file's own, parameters live under /spotjob-test/ (only here).
const moto = sharedMoto();
const hasMoto = moto !== undefined;
const { runtime } = bundles();
let s3: S3Client;
let ssm: SSMClient;
let secretsManager: SecretsManagerClient;
const BUCKET = unique("secrets-store");
// Random, so that finding one anywhere can only mean it leaked.
const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const DB_PASSWORD = `pw-${randomBytes(12).toString("hex")}`;
let dbArn: string;

beforeAll(async () => {
  if (!moto) return;
  const config = { endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  s3 = new S3Client({ ...config, forcePathStyle: true });
  ssm = new SSMClient(config);
  secretsManager = new SecretsManagerClient(config);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await ssm.send(new PutParameterCommand({ Name: "/spotjob-test/my-token", Type: "SecureString", Value: TOKEN, Overwrite: true }));
  dbArn = (await secretsManager.send(new CreateSecretCommand({ Name: unique("spotjob-test/db-password"), SecretString: DB_PASSWORD }))).ARN!;
}, 60_000);

/** Runs the runtime bundle as the instance does: SPOTJOB_CLOUD=aws, AWS endpoints on moto, no metadata service. */
function runRuntime(spec: string, prefix: string, state: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [runtime, "run", "--spec", spec, "--store", `s3://${BUCKET}/${prefix}`, "--state", state], {
    env: {
      ...process.env,
      ...awsInstanceEnv(moto!),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** Every object under the prefix, as text. */
async function storeObjects(prefix: string): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const { Key } of page.Contents ?? []) {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body!.transformToString();
      objects.set(Key!, body);
    }
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

/** Every file under a directory, as text. */
function localFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(path, readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return files;
}

function expectNowhere(values: string[], places: Map<string, string>): void {
  for (const [where, text] of places) for (const value of values) expect(text.includes(value), `${where} holds a secret value`).toBe(false);
}

describe.runIf(hasMoto)("secrets on AWS (moto_server SSM and Secrets Manager, runtime bundle)", () => {
  it("the job sees the values; the store, the output and the state do not, and the log shows ***", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-secrets-"));
    const out = join(dir, "out");
    const spec = join(dir, "job.yaml");
    writeFileSync(
      spec,
      [
        "provider: aws",
        "gpu_type: T4",
        "name: secrets-test",
        "secrets:",
        "  MY_TOKEN: ssm:/spotjob-test/my-token",
        `  DB_PASSWORD: ${dbArn}`,
        `setup: mkdir -p ${out} && printf '%s' "$MY_TOKEN" > ${out}/setup-token.txt`,
        "sweep:",
        "  items: [{n: 1}]",
        '  key: "item-{n}"',
        // The first attempt fails after printing the value: its tail goes to the journal.
        `  command: echo "item sees $MY_TOKEN"; printf '%s' "$MY_TOKEN" > ${out}/item-token.txt; [ "$SWEEP_ATTEMPT" != 1 ]`,
        "  max_attempts: 2",
        "run: |",
        `  printf '%s' "$MY_TOKEN" > ${out}/token.txt`,
        `  printf '%s' "$DB_PASSWORD" > ${out}/db-password.txt`,
        '  echo "token is $MY_TOKEN"',
        '  echo "db password is $DB_PASSWORD" >&2',
        "",
      ].join("\n"),
    );
    const state = join(dir, "machine");
    const run = await runRuntime(spec, "jobs/secrets-test", state);
    const output = run.stdout + run.stderr;
    expect(run.code, output).toBe(0);

    // The job had the real values, in setup, the sweep command and run.
    expect(readFileSync(join(out, "token.txt"), "utf8")).toBe(TOKEN);
    expect(readFileSync(join(out, "db-password.txt"), "utf8")).toBe(DB_PASSWORD);
    expect(readFileSync(join(out, "setup-token.txt"), "utf8")).toBe(TOKEN);
    expect(readFileSync(join(out, "item-token.txt"), "utf8")).toBe(TOKEN);

    // The runtime's output shows the lines, masked.
    expect(output).toContain("[run] token is ***");
    expect(output).toContain("[run] db password is ***");
    expect(output).toContain("[item-1] item sees ***");
    expect(output.includes(TOKEN) || output.includes(DB_PASSWORD)).toBe(false);

    // The store: every object, the log with *** in it, the journal's failure tail masked.
    const objects = await storeObjects("jobs/secrets-test");
    expect([...objects.keys()]).toEqual(expect.arrayContaining(["jobs/secrets-test/status.json", "jobs/secrets-test/logs/run-0001.log", "jobs/secrets-test/results.jsonl"]));
    expectNowhere([TOKEN, DB_PASSWORD], objects);
    const log = objects.get("jobs/secrets-test/logs/run-0001.log")!;
    expect(log).toContain("[run] token is ***");
    expect(log).toContain("[run] db password is ***");
    const journal = [...objects].filter(([key]) => key.includes("journal")).map(([, text]) => text).join("\n");
    expect(journal).toContain("item sees ***");
    expect(JSON.parse(objects.get("jobs/secrets-test/status.json")!)).toMatchObject({ state: "SUCCEEDED" });

    // Nor anything the runtime keeps on the machine (its own log copy, journal, markers).
    expectNowhere([TOKEN, DB_PASSWORD], localFiles(state));
  }, 90_000);

  it("a missing parameter fails the boot naming the variable and the reference, and leaks nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-secrets-missing-"));
    const spec = join(dir, "job.yaml");
    const ran = join(dir, "ran");
    writeFileSync(
      spec,
      ["provider: aws", "gpu_type: T4", "name: secrets-missing", "secrets:", `  DB_PASSWORD: ${dbArn}`, "  MY_TOKEN: ssm:/spotjob-test/missing", `run: touch ${ran}; echo "$DB_PASSWORD"`, ""].join("\n"),
    );
    const state = join(dir, "machine");
    const run = await runRuntime(spec, "jobs/secrets-missing", state);
    const output = run.stdout + run.stderr;
    expect(run.code, output).toBe(1);
    expect(output).toMatch(/FAILED: cannot read secret MY_TOKEN \(ssm:\/spotjob-test\/missing\): ParameterNotFound/);
    expect(() => statSync(ran)).toThrow(); // nothing ran
    const objects = await storeObjects("jobs/secrets-missing");
    const status = JSON.parse(objects.get("jobs/secrets-missing/status.json")!);
    expect(status).toMatchObject({ state: "FAILED", exit_code: 1 });
    expect(status.last_error).toContain("MY_TOKEN (ssm:/spotjob-test/missing)");
    // The secret that was read is not in the message, the output, the store or the state.
    expect(output.includes(DB_PASSWORD)).toBe(false);
    expectNowhere([DB_PASSWORD], objects);
    expectNowhere([DB_PASSWORD], localFiles(state));
  }, 90_000);

  it("fetchAwsSecrets names every reference it cannot read, and a binary secret is one of them", async () => {
    const binaryArn = (await secretsManager.send(new CreateSecretCommand({ Name: `spotjob-test/binary-${randomBytes(3).toString("hex")}`, SecretBinary: Buffer.from("binary-value") }))).ARN!;
    const clients = { ssm, secretsManager: () => secretsManager };
    await expect(fetchAwsSecrets([{ env: "MY_TOKEN", kind: "ssm", ref: "/spotjob-test/my-token" }, { env: "DB", kind: "secretsmanager", ref: dbArn }], clients)).resolves.toEqual({ MY_TOKEN: TOKEN, DB: DB_PASSWORD });
    const failing = fetchAwsSecrets(
      [
        { env: "MY_TOKEN", kind: "ssm", ref: "/spotjob-test/my-token" },
        { env: "BIN", kind: "secretsmanager", ref: binaryArn },
        { env: "GONE", kind: "secretsmanager", ref: `${dbArn}-gone` },
      ],
      clients,
    );
    await expect(failing).rejects.toBeInstanceOf(SecretFetchError);
    const message = await failing.catch((e: Error) => e.message);
    expect(message).toMatch(/^cannot read 2 secrets /);
    expect(message).toContain(`BIN (${binaryArn}): the secret is binary`);
    expect(message).toContain(`GONE (${dbArn}-gone): ResourceNotFoundException`);
    expect(message).not.toContain(TOKEN);
    expect(message).not.toContain("binary-value");
  });

  it("reads each reference in its own region: `ssm:<region>:<name>` and a parameter ARN there, `ssm:<name>` in the job's, a Secrets Manager ARN in the ARN's", async () => {
    // moto keeps SSM and Secrets Manager per region, as AWS does: a parameter stored in eu-west-1 is ParameterNotFound in us-east-1.
    const config = { endpoint: moto!.endpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
    const euSsm = new SSMClient({ ...config, region: "eu-west-1" });
    const euManager = new SecretsManagerClient({ ...config, region: "eu-west-1" });
    const EU_TOKEN = `eu-${randomBytes(12).toString("hex")}`;
    const EU_SECRET = `eusm-${randomBytes(12).toString("hex")}`;
    await euSsm.send(new PutParameterCommand({ Name: "/spotjob-test/eu-token", Type: "SecureString", Value: EU_TOKEN, Overwrite: true }));
    const euParameterArn = (await euSsm.send(new GetParameterCommand({ Name: "/spotjob-test/eu-token" }))).Parameter!.ARN!;
    expect(euParameterArn).toMatch(/^arn:aws:ssm:eu-west-1:\d{12}:parameter\/spotjob-test\/eu-token$/);
    const euSecretArn = (await euManager.send(new CreateSecretCommand({ Name: `spotjob-test/eu-${randomBytes(3).toString("hex")}`, SecretString: EU_SECRET }))).ARN!;
    const spec = {
      secrets: {
        MY_TOKEN: "ssm:/spotjob-test/my-token",
        EU_TOKEN: "ssm:eu-west-1:/spotjob-test/eu-token",
        EU_BY_ARN: euParameterArn,
        EU_SECRET: euSecretArn,
      },
    };
    // The clients the runtime makes itself (the endpoint and credentials from the environment, as on an instance; the job's region is us-east-1).
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL: moto!.endpoint, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1" });
    try {
      await expect(awsSecretsReader(spec)!()).resolves.toEqual({ MY_TOKEN: TOKEN, EU_TOKEN, EU_BY_ARN: EU_TOKEN, EU_SECRET });
      // The same parameter without its region is looked for in the job's region, and is not there.
      const unqualified = await awsSecretsReader({ secrets: { EU_TOKEN: "ssm:/spotjob-test/eu-token" } })!().catch((e: Error) => e.message);
      expect(unqualified).toMatch(/^cannot read secret EU_TOKEN \(ssm:\/spotjob-test\/eu-token\): ParameterNotFound/);
      const wrongRegion = await awsSecretsReader({ secrets: { EU_TOKEN: "ssm:us-west-2:/spotjob-test/eu-token" } })!().catch((e: Error) => e.message);
      expect(wrongRegion).toMatch(/^cannot read secret EU_TOKEN \(ssm:us-west-2:\/spotjob-test\/eu-token\): ParameterNotFound/);
    } finally {
      for (const key of ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"]) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
      euSsm.destroy();
      euManager.destroy();
    }
    // A caller's clients: the job region's for `ssm:<name>`, one per named region for the others.
    const asked: string[] = [];
    const clients = { ssm, ssmIn: (region: string) => (asked.push(region), new SSMClient({ ...config, region })), secretsManager: (region: string) => new SecretsManagerClient({ ...config, region }) };
    await expect(fetchAwsSecrets([{ env: "A", kind: "ssm", ref: "/spotjob-test/eu-token", region: "eu-west-1" }, { env: "B", kind: "ssm", ref: "/spotjob-test/my-token" }], clients)).resolves.toEqual({ A: EU_TOKEN, B: TOKEN });
    expect(asked).toEqual(["eu-west-1"]);
  });
});
