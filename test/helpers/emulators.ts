/**
 * Real emulators for the store tests: moto_server (S3) and fake-gcs-server
 * (GCS) on free loopback ports, started once per run by test/global-setup.ts
 * (a test with needs of its own starts its own). Under CI=true a missing
 * emulator fails the run; elsewhere the tests that need it are skipped, loudly.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Emulator {
  endpoint: string;
  /** The emulator's process (benches read its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

/** Where an emulator answers: one of these, or the run's shared one (test/helpers/shared.ts). */
export type Endpoint = Pick<Emulator, "endpoint">;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function which(name: string): string | undefined {
  const found = spawnSync("bash", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (found) return found;
  const gopath = spawnSync("go", ["env", "GOPATH"], { encoding: "utf8" }).stdout?.trim();
  const candidate = gopath ? join(gopath, "bin", name) : undefined;
  return candidate && existsSync(candidate) ? candidate : undefined;
}

/** Whether an emulator binary is present; under CI its absence is an error, not a skip. */
export function requireBinary(name: string): boolean {
  if (which(name)) return true;
  if (process.env.CI === "true") throw new Error(`${name} is not installed: .ci/run must install it (CI never skips emulator tests)`);
  console.warn(`SKIPPING tests that need ${name}: it is not installed (see .ci/run for how to install it)`);
  return false;
}

async function waitFor(url: string, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let exited = false;
  child.once("exit", () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} exited during start-up`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${name} did not answer on ${url} within 30 s`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(3000)]);
    if (child.exitCode === null) child.kill("SIGKILL");
  };
}

export async function startMoto(): Promise<Emulator> {
  const port = await freePort();
  const child = spawn(which("moto_server")!, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(`${endpoint}/moto-api/`, child, "moto_server");
  return { endpoint, pid: child.pid, stop: stopper(child) };
}

/** fake-gcs-server; with `filesystemRoot`, objects are kept on disk there instead of in memory (for large ones). */
export async function startFakeGcs(options: { filesystemRoot?: string } = {}): Promise<Emulator> {
  const port = await freePort();
  const backend = options.filesystemRoot ? ["-backend", "filesystem", "-filesystem-root", options.filesystemRoot] : ["-backend", "memory"];
  // It buffers every object it creates whole (composed ones too) and leaves the garbage to Go's GC: a soft memory
  // limit makes it collect before it grows to several times the largest object.
  const child = spawn(which("fake-gcs-server")!, ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), ...backend, "-log-level", "error"], { stdio: "ignore", env: { ...process.env, GOMEMLIMIT: "2GiB" } });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(`${endpoint}/storage/v1/b`, child, "fake-gcs-server");
  return { endpoint, pid: child.pid, stop: stopper(child) };
}

/**
 * amazon-ec2-metadata-mock serving the spot interruption notice with IMDSv2
 * required; the notice appears `delaySeconds` after start.
 */
export async function startEc2MetadataMock(delaySeconds: number, extra: string[] = []): Promise<Emulator> {
  const port = await freePort();
  const child = spawn(which("ec2-metadata-mock")!, ["spot", "--imdsv2", "--mock-delay-sec", String(delaySeconds), "--hostname", "127.0.0.1", "--port", String(port), ...extra], { stdio: "ignore" });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(`${endpoint}/latest/meta-data/`, child, "ec2-metadata-mock");
  return { endpoint, pid: child.pid, stop: stopper(child) };
}

/** Environment that points the AWS SDK at moto and the GCS client at fake-gcs-server. */
export function emulatorEnv(moto?: Endpoint, gcs?: Endpoint): Record<string, string> {
  const env: Record<string, string> = {};
  if (moto) Object.assign(env, { AWS_ENDPOINT_URL_S3: moto.endpoint, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1" });
  if (gcs) Object.assign(env, { STORAGE_EMULATOR_HOST: gcs.endpoint, GOOGLE_CLOUD_PROJECT: "test" });
  return env;
}

/**
 * The environment of a runtime as on an EC2 instance, with every AWS service on
 * moto_server and no metadata service (the spot-notice watcher says so and goes on).
 */
export function awsInstanceEnv(moto: Endpoint): Record<string, string> {
  return { ...emulatorEnv(moto), AWS_ENDPOINT_URL: moto.endpoint, SPOTJOB_CLOUD: "aws", SPOTJOB_IMDS_ENDPOINT: "http://127.0.0.1:9" };
}

/** Creates a bucket in fake-gcs-server through the JSON API. */
export async function createGcsBucket(gcs: Endpoint, bucket: string): Promise<void> {
  const response = await fetch(`${gcs.endpoint}/storage/v1/b?project=test`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: bucket }) });
  if (!response.ok) throw new Error(`creating gs://${bucket} failed: HTTP ${response.status}`);
}
