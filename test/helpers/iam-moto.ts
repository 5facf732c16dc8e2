/**
 * moto_server with its IAM enforcement on: the first `noAuthActions` requests
 * run unauthenticated (creating the bucket, the roles with their policies,
 * assuming them), every later one is authorized against the caller's policies.
 * moto 5.2.1 enforces action and resource ARNs (a PutObject outside a role's
 * prefix is AccessDenied) but evaluates no condition (`s3:prefix`), still
 * answers NoSuchKey for a missing key, and rejects a signed ListObjects whose
 * Prefix holds a `/` (SignatureDoesNotMatch): it complements the simulator
 * (test/helpers/iam-calls.ts), it cannot replace it.
 *
 * IAM and STS are called through their Query APIs, signed with SigV4 here:
 * the project ships no IAM or STS client.
 */
import { SignatureV4 } from "@smithy/signature-v4";
import { spawn, spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { PolicyDocument } from "../../infra/aws/policy";
import { freePort, type Emulator } from "./emulators";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const ROOT_CREDENTIALS: Credentials = { accessKeyId: "test", secretAccessKey: "test" };

const bytes = (d: string | ArrayBuffer | ArrayBufferView): string | Buffer =>
  typeof d === "string" ? d : d instanceof ArrayBuffer ? Buffer.from(d) : Buffer.from(d.buffer, d.byteOffset, d.byteLength);

class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac("sha256", bytes(secret)) : createHash("sha256");
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** Starts moto_server that authorizes every request after the first `noAuthActions`. */
export async function startEnforcingMoto(noAuthActions: number): Promise<Emulator> {
  const port = await freePort();
  const bin = spawnSync("bash", ["-c", "command -v moto_server"], { encoding: "utf8" }).stdout.trim();
  const child = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore", env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: String(noAuthActions) } });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("moto_server exited during start-up");
    try {
      // The moto API is not an AWS action: it does not count against noAuthActions.
      await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint}`);
      await sleep(100);
    }
  }
  return {
    endpoint,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(3000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** One Query API call (IAM, STS), signed; resolves to the response body, throws on an error status. */
export async function queryApi(endpoint: string, service: "iam" | "sts", params: Record<string, string>, credentials: Credentials = ROOT_CREDENTIALS): Promise<string> {
  const url = new URL(endpoint);
  const body = new URLSearchParams(params).toString();
  const signer = new SignatureV4({ service, region: "us-east-1", credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    query: {},
    headers: { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
    body,
  });
  const response = await fetch(`${endpoint}/`, { method: "POST", headers: signed.headers, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`${service} ${params.Action}: HTTP ${response.status}: ${text.slice(0, 300)}`);
  return text;
}

/** Creates a role whose only policy is `policy` (inline, as the program attaches it); 2 actions. */
export async function createRole(endpoint: string, name: string, policy: PolicyDocument): Promise<string> {
  const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }] };
  const created = await queryApi(endpoint, "iam", { Action: "CreateRole", Version: "2010-05-08", RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) });
  await queryApi(endpoint, "iam", { Action: "PutRolePolicy", Version: "2010-05-08", RoleName: name, PolicyName: `${name}-policy`, PolicyDocument: JSON.stringify(policy) });
  return /<Arn>([^<]+)<\/Arn>/.exec(created)![1];
}

/** The role's temporary credentials from STS AssumeRole; 1 action. */
export async function assumeRole(endpoint: string, roleArn: string): Promise<Credentials> {
  const text = await queryApi(endpoint, "sts", { Action: "AssumeRole", Version: "2011-06-15", RoleArn: roleArn, RoleSessionName: "spotjob-test" });
  const field = (name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(text)![1];
  return { accessKeyId: field("AccessKeyId"), secretAccessKey: field("SecretAccessKey"), sessionToken: field("SessionToken") };
}
