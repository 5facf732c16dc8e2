/**
 * A store that cannot be used, as users meet it: the built CLI's `run`,
 * `status` and `logs` (and the runtime bundle) print what failed and what to
 * do, with no stack and no "please report this", exit 5, within a bounded
 * time, and leave the store as it was. Covers S3 with no region, with no
 * credentials and without its bucket (moto_server), GCS without its bucket
 * and unreachable (fake-gcs-server, a closed port), and directories that
 * cannot be written: under a file, under /proc, under a link to nowhere, and
 * without write permission.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createGcsBucket, freePort } from "../helpers/emulators";
import { bundles, sharedGcs, sharedMoto, unique } from "../helpers/shared";

const { cli, runtime } = bundles();
const moto = sharedMoto();
const gcs = sharedGcs();

/** The CLI's exit status for a store that cannot be used (cli/exit-codes.ts EXIT.store; the runtime's too). */
const STORE_EXIT = 5;
/** How long a store failure may take to be reported, CLI start included: retry.ts bounds an unreachable store to ~12 s. */
const BOUND_MS = 30_000;
/** When a command that should have failed is killed: past the bound, so that a hang fails the test rather than the run. */
const KILL_AFTER_MS = 45_000;

/** A job folder (a spec that echoes) in a fresh temporary directory. */
function jobDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-store-errors-"));
  writeFileSync(join(dir, "job.yaml"), ["version: 1", "provider: local", "name: store-errors", "run: echo hello", "cost: {max_cost_per_hour: 0, max_total_budget: 0}", ""].join("\n"));
  return dir;
}

/** This machine's environment without its cloud settings (profiles, keys, regions, emulators), plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|GOOGLE_|GCLOUD_|CLOUDSDK_|STORAGE_EMULATOR_HOST$)/.test(k)));
  const empty = join(mkdtempSync(join(tmpdir(), "spotjob-no-aws-config-")), "empty");
  writeFileSync(empty, "");
  // No config or credentials file of this machine's, no instance metadata to wait for.
  return { ...env, NO_COLOR: "1", AWS_CONFIG_FILE: empty, AWS_SHARED_CREDENTIALS_FILE: empty, AWS_EC2_METADATA_DISABLED: "true", ...extra };
}

interface Ran {
  status: number | null;
  out: string;
  ms: number;
}

/** Runs a bundle to its end (killed after KILL_AFTER_MS), as `user` when given (through setpriv). */
function runBundle(bundle: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; user?: string }): Promise<Ran> {
  const command = o.user ? ["setpriv", "--reuid", o.user, "--regid", groupOf(o.user), "--clear-groups", process.execPath, bundle, ...args] : [process.execPath, bundle, ...args];
  const started = Date.now();
  const child = spawn(command[0], command.slice(1), { cwd: o.cwd, env: o.env });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  // SIGKILL: the CLI takes SIGTERM as a request to stop cleanly, which a hung store call never honours.
  const killer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
  return new Promise((resolve) =>
    child.on("close", (status) => {
      clearTimeout(killer);
      resolve({ status, out, ms: Date.now() - started });
    }),
  );
}

const spotjob = (args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; user?: string }) => runBundle(cli, args, o);

/** Exit 5 within the bound, the message, and nothing of a crash. */
function expectStoreError(what: string, r: Ran, message: RegExp): void {
  expect(r.status, `${what} (${r.ms} ms):\n${r.out}`).toBe(STORE_EXIT);
  expect(r.out, what).toMatch(message);
  expect(r.out, what).not.toMatch(/internal error|Please report|\n\s+at /);
  expect(r.ms, `${what} took ${r.ms} ms`).toBeLessThan(BOUND_MS);
}

/** `run`, `status` and `logs` against `store`: each must report `message` (which names the call each makes first). */
async function expectEveryCommand(store: string, env: NodeJS.ProcessEnv, message: (firstCall: string) => RegExp): Promise<void> {
  const cwd = jobDir();
  const first: Record<string, string> = { run: "get lease\\.json", status: "get (status\\.json|supervisor/state\\.json)", logs: "list logs/" };
  for (const command of ["run", "status", "logs"]) {
    expectStoreError(`spotjob ${command} --store ${store}`, await spotjob([command, "job.yaml", "--store", store], { cwd, env }), message(first[command]));
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe.runIf(moto)("an S3 store (moto_server)", () => {
  const s3 = (extra: Record<string, string>) => cleanEnv({ AWS_ENDPOINT_URL_S3: moto!.endpoint, ...extra });

  it("without a region says to set AWS_REGION", async () => {
    const bucket = unique("no-region");
    await expectEveryCommand(`s3://${bucket}/p`, s3({ AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" }), (call) =>
      new RegExp(`error: store s3://${bucket}/p: no AWS region is configured \\(Region is missing on ${call}\\); set AWS_REGION \\(or AWS_DEFAULT_REGION, or a region in your AWS profile`),
    );
  }, 120_000);

  it("without credentials says how to configure them", async () => {
    const bucket = unique("no-credentials");
    await expectEveryCommand(`s3://${bucket}/p`, s3({ AWS_REGION: "us-east-1" }), (call) =>
      new RegExp(`error: store s3://${bucket}/p: no AWS credentials were found \\(CredentialsProviderError on ${call}: [^)]*\\); run \`aws configure\` \\(or \`aws sso login\`\\), set AWS_PROFILE`),
    );
  }, 120_000);

  it("without its bucket says to create it", async () => {
    const bucket = unique("no-bucket");
    await expectEveryCommand(`s3://${bucket}/p`, s3({ AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" }), (call) =>
      new RegExp(`error: store s3://${bucket}/p: the bucket ${bucket} does not exist \\(NoSuchBucket on ${call}\\); create it with \`aws s3 mb s3://${bucket} --region us-east-1\` or fix --store`),
    );
  }, 120_000);
});

describe.runIf(gcs)("a GCS store (fake-gcs-server)", () => {
  const emulated = (endpoint: string) => cleanEnv({ STORAGE_EMULATOR_HOST: endpoint, GOOGLE_CLOUD_PROJECT: "test" });

  it("without its bucket says to create it (and an empty bucket is still a job that has not run)", async () => {
    const bucket = unique("no-bucket");
    await expectEveryCommand(`gs://${bucket}/p`, emulated(gcs!.endpoint), (call) =>
      new RegExp(`error: store gs://${bucket}/p: the bucket ${bucket} does not exist \\(HTTP 404 on ${call}\\); create it with \`gcloud storage buckets create gs://${bucket}\` or fix --store`),
    );
    const empty = unique("empty");
    await createGcsBucket(gcs!, empty);
    const r = await spotjob(["status", "job.yaml", "--store", `gs://${empty}/p`], { cwd: jobDir(), env: emulated(gcs!.endpoint) });
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/has not run yet/);
  }, 120_000);

  it("unreachable gives up within the bound, saying where it tried and how often", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cwd = jobDir();
    for (const command of ["status", "run"]) {
      const r = await spotjob([command, "job.yaml", "--store", "gs://bucket/p"], { cwd, env: emulated(closed) });
      expectStoreError(
        `spotjob ${command} (unreachable)`,
        r,
        new RegExp(`error: store gs://bucket/p: could not reach ${escape(closed)} \\(ECONNREFUSED on get [^;]+; 8 attempts over \\d+\\.\\d s: [^)]*\\); check the network and that ${escape(closed)} is the right endpoint, then run again`),
      );
    }
  }, 120_000);
});

describe("a store URL spotjob cannot use", () => {
  it("an unsupported scheme, or s3:// without a bucket, is a store error naming the forms it takes, in every command", async () => {
    const cwd = jobDir();
    for (const command of ["run", "status", "logs", "cancel"]) {
      expectStoreError(`spotjob ${command} --store ftp://x/y`, await spotjob([command, "job.yaml", "--store", "ftp://x/y"], { cwd, env: cleanEnv({}) }), /error: store ftp:\/\/x\/y: unsupported store URL ftp:\/\/x\/y; use a directory, s3:\/\/bucket\/prefix, gs:\/\/bucket\/prefix or http\(s\):\/\//);
    }
    expectStoreError("spotjob jobs s3:///jobs", await spotjob(["jobs", "s3:///jobs"], { cwd, env: cleanEnv({}) }), /error: store s3:\/\/\/jobs: the URL names no bucket; write it as s3:\/\/bucket\/prefix or gs:\/\/bucket\/prefix/);
  }, 120_000);
});

describe("a directory store that cannot be written", () => {
  it("under a regular file: says which path is a file", async () => {
    const cwd = jobDir();
    writeFileSync(join(cwd, "afile"), "");
    const store = join(cwd, "afile", "store");
    await expectEveryCommand(store, cleanEnv({}), (call) => new RegExp(`error: store ${escape(store)}: ${escape(join(cwd, "afile"))} is a file, not a directory \\(ENOTDIR on ${call}\\); move it away, or choose another directory with --store`));
  }, 120_000);

  it.runIf(existsSync("/proc/self"))("file:///proc/nope ends at once (it spun at full CPU for good)", async () => {
    const r = await spotjob(["run", "job.yaml", "--store", "file:///proc/nope"], { cwd: jobDir(), env: cleanEnv({}) });
    expectStoreError("spotjob run --store file:///proc/nope", r, /error: store \/proc\/nope: cannot (create \/proc\/nope: \/proc exists but takes no new directories \(ENOENT|write in \/proc: permission denied \(EACCES) on put lease\.json/);
  }, 120_000);

  it.runIf(existsSync("/proc/self"))("a state directory under /proc: the runtime says it cannot use it and runs nothing (Node's recursive mkdir never returned there)", async () => {
    const cwd = jobDir();
    const store = join(cwd, "store");
    const r = await runBundle(runtime, ["run", "--spec", "job.yaml", "--store", store, "--state", "/proc/nope/state"], { cwd, env: cleanEnv({}) });
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/cannot use \/proc\/nope\/state as this machine's state directory \((ENOENT|EACCES)\): nothing ran; give a directory this user may create and write \(--state DIR\)/);
    expect(r.out).not.toMatch(/internal error|    at /);
    // Nothing was written to the store: not even the lease.
    expect(existsSync(join(store, "lease.json"))).toBe(false);
  }, 120_000);

  it("under a symbolic link to nowhere says so (Node's mkdir calls it 'not a directory'), in the CLI and in the runtime", async () => {
    const cwd = jobDir();
    symlinkSync(join(cwd, "unmounted"), join(cwd, "dangling"));
    const store = join(cwd, "dangling", "store");
    const message = new RegExp(`error: store ${escape(store)}: ${escape(join(cwd, "dangling"))} is a symbolic link to ${escape(join(cwd, "unmounted"))}, which does not exist \\(ENOENT on put lease\\.json\\); create ${escape(join(cwd, "unmounted"))}, or choose another directory with --store`);
    expectStoreError("spotjob run", await spotjob(["run", "job.yaml", "--store", store], { cwd, env: cleanEnv({}) }), message);
    const r = await runBundle(runtime, ["run", "--spec", "job.yaml", "--store", store, "--state", join(cwd, "state")], { cwd, env: cleanEnv({}) });
    expectStoreError("runtime.cjs run", r, message);
    expect(r.out).toMatch(/^spotjob runtime: error: store /m);
  }, 120_000);

  // Root writes anywhere: as root, the test runs the CLI as `nobody` (setpriv), where it can.
  const asRoot = process.getuid?.() === 0;
  const canDropToNobody = asRoot && spawnSync("setpriv", ["--reuid", "nobody", "--regid", groupOf("nobody"), "--clear-groups", "true"]).status === 0;
  it.runIf(!asRoot || canDropToNobody)("without write permission: says which directory, and leaves the store as it was", async () => {
    const user = asRoot ? "nobody" : undefined;
    const cwd = jobDir();
    const store = join(cwd, "store");
    mkdirSync(store);
    let bundle = cli;
    if (user) {
      // `nobody` must reach the bundle, the job and the store: a world-readable copy, folders it owns.
      const shared = mkdtempSync(join(tmpdir(), "spotjob-store-errors-cli-"));
      bundle = join(shared, "spotjob.cjs");
      copyFileSync(cli, bundle);
      chmodSync(shared, 0o755);
      chmodSync(bundle, 0o644);
      const uid = Number(spawnSync("id", ["-u", user], { encoding: "utf8" }).stdout);
      for (const dir of [cwd, store]) chownSync(dir, uid, -1);
      chmodSync(cwd, 0o755);
    }
    const env = cleanEnv({});
    const first = await runBundle(bundle, ["run", "job.yaml", "--store", store], { cwd, env, user });
    expect(first.status, first.out).toBe(0);
    const statusBefore = readFileSync(join(store, "status.json"));
    const filesBefore = readdirSync(store, { recursive: true }).sort();

    chmodSync(store, 0o500);
    try {
      const again = await runBundle(bundle, ["run", "job.yaml", "--store", store, "--rerun"], { cwd, env, user });
      expectStoreError("spotjob run --rerun (read-only store)", again, new RegExp(`error: store ${escape(store)}: cannot write in ${escape(store)}: permission denied \\(EACCES on put lease\\.json\\); make it writable by this user \\(\`chmod u\\+w ${escape(store)}\`, or chown it\\) or choose another directory with --store`));
      // Nothing lost, nothing half-written: the same files, the same status.
      expect(readFileSync(join(store, "status.json")).equals(statusBefore)).toBe(true);
      expect(readdirSync(store, { recursive: true }).sort()).toEqual(filesBefore);
      // Reading still works.
      const status = await runBundle(bundle, ["status", "job.yaml", "--store", store], { cwd, env, user });
      expect(status.status, status.out).toBe(0);
      expect(status.out).toMatch(/SUCCEEDED/);
    } finally {
      chmodSync(store, 0o700); // removable again
    }
  }, 120_000);
});

/** The primary group of `user`, by name (setpriv wants one with --regid). */
function groupOf(user: string): string {
  return spawnSync("id", ["-gn", user], { encoding: "utf8" }).stdout.trim() || user;
}
