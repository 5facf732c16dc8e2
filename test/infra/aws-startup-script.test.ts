/**
 * The AWS startup script: a snapshot of the text, shellcheck on it, the
 * renderer's refusals, the Node.js checksum refusal run for real, and the
 * whole script run for real with bash against moto_server (S3), the AWS CLI
 * and the runtime bundle, with hostile values in every place a value can go.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadSpecFile } from "../../core/jobspec/load";
import { NODE_PIN, renderStartupScript, type StartupScriptArgs } from "../../infra/aws/startup-script";
import { requireBinary } from "../helpers/emulators";
import { bundles, sharedMoto, unique } from "../helpers/shared";

const representative: StartupScriptArgs = {
  jobName: "confinement-h100",
  region: "us-east-1",
  bucket: "spotjob-results-abc",
  prefix: "jobs/confinement-h100",
  runtimeKey: "jobs/confinement-h100/deploy/runtime.cjs",
  specKey: "jobs/confinement-h100/deploy/spec.json",
  workdirKey: "jobs/confinement-h100/deploy/workdir.tar.gz",
  groupNames: ["confinement-h100-spot", "confinement-h100-ondemand"],
};

/** Everything a shell could take for code; no comma and no surrounding whitespace (group names are comma-joined and trimmed). */
const HOSTILE = "a$(touch pwned)b`touch pwned`c'd'\"e\";f && touch pwned; %s %q %% \\ back\\\\slash ${HOME} *?\nsecond line $'x' !!";
function hostileArgs(inKeys: string): StartupScriptArgs {
  return {
    jobName: `job ${HOSTILE}`,
    region: "us-east-1",
    bucket: "spotjob-hostile",
    prefix: `jobs/${inKeys}`,
    runtimeKey: `jobs/${inKeys}/deploy/runtime.cjs`,
    specKey: `jobs/${inKeys}/deploy/spec.json`,
    workdirKey: `jobs/${inKeys}/deploy/workdir.tar.gz`,
    groupNames: [`spot ${HOSTILE}`, `on-demand ${HOSTILE}`],
    graceSeconds: 7,
  };
}
const hostile = hostileArgs(HOSTILE);
// moto_server answers 404 to a key that holds a newline (S3 itself takes one): the stand-in CLI test covers those.
const hostileOnMoto = hostileArgs(HOSTILE.replace(/\n/g, " "));

describe("the startup script's text", () => {
  it("for a representative job", () => {
    expect(renderStartupScript(representative)).toMatchSnapshot();
  });

  it("holds every value once, in its assignment, and nowhere else", () => {
    const script = renderStartupScript(hostile);
    const body = script.slice(script.indexOf('ROOT="${SPOTJOB_ROOT'));
    expect(body).not.toContain("pwned");
    expect(body).not.toContain("spotjob-hostile");
    expect(body).not.toContain("us-east-1");
    const values = [hostile.jobName, hostile.prefix, hostile.runtimeKey, hostile.specKey, hostile.workdirKey, hostile.groupNames.join(",")].join("");
    expect(script.split("touch pwned").length).toBe(values.split("touch pwned").length);
  });

  it("checks the Node.js download before it extracts it, against the published checksums", () => {
    const script = renderStartupScript(representative);
    expect(script).toContain(`NODE_SHA256_X64='${NODE_PIN.sha256.x64}'`);
    expect(script).toContain(`NODE_SHA256_ARM64='${NODE_PIN.sha256.arm64}'`);
    const check = script.indexOf('if [ "$actual" != "$sha256" ]; then');
    expect(check).toBeGreaterThan(script.indexOf("sha256sum"));
    expect(script.indexOf("tar -xJf")).toBeGreaterThan(check);
  });

  it("gives systemd the stop timeout and the final exit statuses", () => {
    const script = renderStartupScript({ ...representative, graceSeconds: 100 });
    expect(script).toContain("STOP_TIMEOUT_SECONDS='130'");
    expect(script).toContain("GRACE_SECONDS='100'");
    expect(renderStartupScript(representative)).toContain("GRACE_SECONDS='20'");
    expect(script).toContain("'RestartPreventExitStatus=1 4 6 75'");
    expect(renderStartupScript({ ...representative, workdirKey: undefined })).toContain("WORKDIR_KEY=''");
  });

  const refusals: [string, Partial<StartupScriptArgs>, RegExp][] = [
    ["an empty bucket", { bucket: "" }, /bucket is empty/],
    ["a bucket name S3 refuses", { bucket: "Bad_Bucket" }, /not an S3 bucket name/],
    ["an empty region", { region: "" }, /region is empty/],
    ["a region that is none", { region: "us east 1" }, /not an AWS region/],
    ["an empty runtime key", { runtimeKey: "" }, /runtimeKey is empty/],
    ["an empty spec key", { specKey: "" }, /specKey is empty/],
    ["an empty workdir key", { workdirKey: "" }, /workdirKey is empty/],
    ["an empty prefix", { prefix: "" }, /prefix is empty/],
    ["a prefix with a leading slash", { prefix: "/jobs/x" }, /prefix must have no slash/],
    ["a prefix with a trailing slash", { prefix: "jobs/x/" }, /prefix must have no slash/],
    ["a NUL byte", { jobName: "a\0b" }, /jobName contains a NUL byte/],
    ["a NUL byte in a key", { specKey: "k\0" }, /specKey contains a NUL byte/],
    ["a group name with a comma", { groupNames: ["a,b"] }, /groupNames\[0\] must hold no comma/],
    ["an empty group name", { groupNames: ["a", ""] }, /groupNames\[1\] is empty/],
    ["a negative grace period", { graceSeconds: -1 }, /graceSeconds/],
    ["a fractional grace period", { graceSeconds: 1.5 }, /graceSeconds/],
  ];
  it.each(refusals)("refuses %s", (_, change, message) => {
    expect(() => renderStartupScript({ ...representative, ...change })).toThrow(message);
  });
});

const hasShellcheck = requireBinary("shellcheck");

describe.runIf(hasShellcheck)("shellcheck", () => {
  const cases: [string, StartupScriptArgs][] = [
    ["representative", representative],
    ["no workdir, no groups, no grace period", { ...representative, workdirKey: undefined, groupNames: [], graceSeconds: 0 }],
    ["hostile values", hostile],
    ["quotes only", { ...representative, jobName: "'", prefix: "'\"'", groupNames: ["'''"] }],
  ];
  it.each(cases)("passes on the script for %s", (_, args) => {
    const result = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: renderStartupScript(args), encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  }, 60_000);
});

/** Runs the script with bash in `dir`, as cloud-init would (but in the foreground). */
function runScript(script: string, dir: string, env: NodeJS.ProcessEnv, timeout = 120_000) {
  writeFileSync(join(dir, "startup.sh"), script);
  return spawnSync("bash", [join(dir, "startup.sh")], { cwd: dir, env, encoding: "utf8", timeout });
}

function filesNamed(dir: string, name: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((path) => path.split("/").pop() === name);
}

/** What sourcing the launcher sets up, with `exec` replaced by a function that prints its arguments (so nothing runs). */
function launcherView(launcher: string, cwd: string): { exec: string[]; env: Record<string, string> } {
  const names = ["SPOTJOB_CLOUD", "SPOTJOB_AWS_GROUPS", "AWS_REGION", "AWS_DEFAULT_REGION", "SPOTJOB_GRACE_SECONDS", "AWS_ENDPOINT_URL"];
  const script = `exec() { printf '%s\\0' "$@"; }; source "$1"; printf '\\0'; printf '%s\\0' ${names.map((n) => `"\${${n}-}"`).join(" ")}`;
  const sourced = spawnSync("bash", ["-c", script, "_", launcher], { cwd, encoding: "utf8", env: { PATH: process.env.PATH } });
  expect(sourced.status, sourced.stderr).toBe(0);
  const end = sourced.stdout.indexOf("\0\0"); // no argument of exec is empty; a variable may be
  const values = sourced.stdout.slice(end + 2).split("\0");
  return { exec: sourced.stdout.slice(0, end).split("\0"), env: Object.fromEntries(names.map((n, i) => [n, values[i]])) };
}

function expectLauncher(root: string, sandbox: string, args: StartupScriptArgs, endpoint = "") {
  const launcher = join(root, "bin", "start");
  expect(statSync(launcher).mode & 0o777).toBe(0o700);
  const syntax = spawnSync("bash", ["-n", launcher], { encoding: "utf8" });
  expect(syntax.status, syntax.stderr).toBe(0);
  expect(launcherView(launcher, sandbox)).toEqual({
    exec: [process.execPath, join(root, "runtime.cjs"), "run", "--spec", join(root, "spec.json"), "--store", `s3://${args.bucket}/${args.prefix}`, "--state", join(root, "state")],
    env: {
      SPOTJOB_CLOUD: "aws",
      SPOTJOB_AWS_GROUPS: args.groupNames.join(","),
      AWS_REGION: args.region,
      AWS_DEFAULT_REGION: args.region,
      SPOTJOB_GRACE_SECONDS: String(args.graceSeconds ?? 20),
      AWS_ENDPOINT_URL: endpoint,
    },
  });
}

function expectNothingRan(sandbox: string) {
  expect(filesNamed(sandbox, "pwned")).toEqual([]);
  expect(existsSync(join(process.cwd(), "pwned"))).toBe(false);
}

/** The job's workdir as the stack ships it: a .tar.gz made with the system tar. */
function workdirArchive(sandbox: string): string {
  const work = join(sandbox, "workdir");
  mkdirSync(join(work, "data"), { recursive: true });
  writeFileSync(join(work, "data", "input.txt"), `from the workdir: ${HOSTILE}`);
  const archive = join(sandbox, "workdir.tar.gz");
  expect(spawnSync("tar", ["-czf", archive, "-C", work, "."]).status).toBe(0);
  return archive;
}

const hasCurl = spawnSync("bash", ["-c", "command -v curl && command -v xz"]).status === 0;
const arch = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, "x64" | "arm64">)[spawnSync("uname", ["-m"], { encoding: "utf8" }).stdout.trim()];

describe.runIf(hasCurl && arch)("Node.js on a machine without a recent one", () => {
  it("refuses a download whose SHA-256 is not the published one, and installs nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-aws-node-"));
    // A Node.js 20 (end of life, older than the runtime's target) first on PATH, so the script must download its own.
    const bin = join(dir, "fakebin");
    mkdirSync(bin);
    writeFileSync(join(bin, "node"), "#!/bin/sh\necho v20.19.0\n", { mode: 0o755 });
    // A well-formed archive of the expected name: only its checksum gives it away.
    const dist = join(dir, "dist");
    const top = `node-v${NODE_PIN.version}-linux-${arch}`;
    mkdirSync(join(dist, `v${NODE_PIN.version}`), { recursive: true });
    mkdirSync(join(dir, "build", top, "bin"), { recursive: true });
    writeFileSync(join(dir, "build", top, "bin", "node"), `#!/bin/sh\necho v${NODE_PIN.version}\n`, { mode: 0o755 });
    expect(spawnSync("tar", ["-cJf", join(dist, `v${NODE_PIN.version}`, `${top}.tar.xz`), "-C", join(dir, "build"), top]).status).toBe(0);

    const root = join(dir, "root");
    const run = runScript(renderStartupScript(representative), dir, {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      SPOTJOB_ROOT: root,
      SPOTJOB_FOREGROUND: "1",
      SPOTJOB_NODE_DIST: `file://${dist}`,
      AWS_ENDPOINT_URL: "http://127.0.0.1:9", // were the archive taken, the next step reaches nothing
    }, 60_000);
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toContain(`spotjob: downloading Node.js ${NODE_PIN.version} (${arch})`);
    expect(run.stderr).toContain(`spotjob: refusing ${top}.tar.xz: its SHA-256 is`);
    expect(run.stderr).toContain(`not the published ${NODE_PIN.sha256[arch]}`);
    expect(existsSync(join(root, "node"))).toBe(false);
    expect(existsSync(join(root, "node.new"))).toBe(false);
    expect(existsSync(join(root, `${top}.tar.xz`))).toBe(false);
    expect(existsSync(join(root, "runtime.cjs"))).toBe(false);
  }, 90_000);
});

describe("the startup script with a stand-in AWS CLI and runtime", () => {
  it("passes keys with newlines exactly, retries a failed download, and launches the runtime with the exact values", () => {
    const sandbox = mkdtempSync(join(tmpdir(), "spotjob-aws-startup-"));
    const root = join(sandbox, "root");
    const s3 = join(sandbox, "s3");
    const put = (key: string, body: Buffer | string) => {
      const path = join(s3, hostile.bucket, key);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, body);
    };
    // The runtime stand-in records how it was started, next to itself.
    put(hostile.runtimeKey, 'require("fs").writeFileSync(require("path").join(__dirname, "seen.json"), JSON.stringify({ argv: process.argv.slice(2), groups: process.env.SPOTJOB_AWS_GROUPS }));\n');
    put(hostile.specKey, '{"name":"stand-in"}');
    put(hostile.workdirKey!, readFileSync(workdirArchive(sandbox)));
    // `aws s3 cp [options] s3://BUCKET/KEY DEST` served from $FAKE_S3; the first call fails, as S3 may just after boot.
    const bin = join(sandbox, "bin");
    mkdirSync(bin);
    writeFileSync(
      join(bin, "aws"),
      [
        "#!/bin/bash",
        "set -euo pipefail",
        'printf \'%s\\0\' "$@" >>"$FAKE_S3.calls"',
        'printf \'\\0\' >>"$FAKE_S3.calls"',
        'if [ ! -e "$FAKE_S3.failed" ]; then : >"$FAKE_S3.failed"; echo "stand-in aws: connection reset" >&2; exit 1; fi',
        'args=("$@")',
        'cp "$FAKE_S3/${args[-2]#s3://}" "${args[-1]}"',
      ].join("\n"),
      { mode: 0o755 },
    );

    const run = runScript(renderStartupScript(hostile), sandbox, {
      ...process.env,
      PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`,
      SPOTJOB_ROOT: root,
      SPOTJOB_FOREGROUND: "1",
      FAKE_S3: s3,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain("spotjob: download failed (try 1 of 5); trying again\n");

    const cp = (key: string, dest: string) => ["s3", "cp", "--only-show-errors", "--region", "us-east-1", `s3://${hostile.bucket}/${key}`, `${dest}.part`];
    const calls = readFileSync(`${s3}.calls`, "utf8").split("\0\0").slice(0, -1).map((call) => call.split("\0"));
    expect(calls).toEqual([
      cp(hostile.runtimeKey, join(root, "runtime.cjs")),
      cp(hostile.runtimeKey, join(root, "runtime.cjs")),
      cp(hostile.specKey, join(root, "spec.json")),
      cp(hostile.workdirKey!, join(root, "work.tar.gz")),
    ]);
    expect(JSON.parse(readFileSync(join(root, "seen.json"), "utf8"))).toEqual({
      argv: ["run", "--spec", join(root, "spec.json"), "--store", `s3://${hostile.bucket}/${hostile.prefix}`, "--state", join(root, "state")],
      groups: hostile.groupNames.join(","),
    });
    expect(readFileSync(join(root, "work", "data", "input.txt"), "utf8")).toBe(`from the workdir: ${HOSTILE}`);
    expect(readdirSync(root).sort()).toEqual(["bin", "runtime.cjs", "seen.json", "spec.json", "state", "work"]);
    expectLauncher(root, sandbox, hostile);
    expectNothingRan(sandbox);
  }, 60_000);
});

const moto = sharedMoto();
const hasAws = requireBinary("aws");

describe.runIf(moto && hasAws)("the startup script run for real with hostile values (moto_server, AWS CLI, runtime bundle)", () => {
  // The run's moto_server: a bucket of this file's own.
  const args = { ...hostileOnMoto, bucket: unique("spotjob-hostile") };
  const { runtime } = bundles();
  let s3: S3Client;
  beforeAll(async () => {
    if (!moto) return;
    s3 = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    await s3.send(new CreateBucketCommand({ Bucket: args.bucket }));
  }, 120_000);

  it("fetches, launches and runs the job; every value arrives verbatim and none runs", async () => {
    const sandbox = mkdtempSync(join(tmpdir(), "spotjob-aws-startup-"));
    const root = join(sandbox, "root");

    // The spec (JSON is YAML), resolved as the stack resolves it. The job writes into its workdir, $ROOT/work.
    const specYaml = join(sandbox, "job.yaml");
    writeFileSync(
      specYaml,
      JSON.stringify({
        version: 1,
        provider: "local",
        name: "hostile-e2e",
        envs: { HOSTILE_A: HOSTILE, HOSTILE_B: `second ${HOSTILE}` },
        run: [
          "printf '%s' \"$HOSTILE_A\" > out-a",
          "printf '%s' \"$HOSTILE_B\" > out-b",
          "printf '%s' \"$SPOTJOB_AWS_GROUPS\" > out-groups",
          "printf '%s' \"$SPOTJOB_STORE\" > out-store",
          "cp data/input.txt out-data",
        ].join("\n"),
      }),
    );
    const loaded = loadSpecFile(specYaml);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const spec = { ...loaded.loaded.spec, workdir: "work" };

    const put = (key: string, body: Buffer | string) => s3.send(new PutObjectCommand({ Bucket: args.bucket, Key: key, Body: body }));
    await put(args.runtimeKey, readFileSync(runtime));
    await put(args.specKey, JSON.stringify(spec));
    await put(args.workdirKey!, readFileSync(workdirArchive(sandbox)));

    const run = runScript(renderStartupScript(args), sandbox, {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      SPOTJOB_ROOT: root,
      SPOTJOB_FOREGROUND: "1",
      AWS_ENDPOINT_URL: moto!.endpoint,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      // No metadata service here: the spot-notice watcher reports it and goes on.
      SPOTJOB_IMDS_ENDPOINT: "http://127.0.0.1:9",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`spotjob: starting job ${args.jobName}\n`);
    expect(run.stderr).toContain("spotjob: fetching runtime\n");
    expect(run.stderr).toContain("spotjob: running the runtime in the foreground\n");

    const out = (name: string) => readFileSync(join(root, "work", name), "utf8");
    expect(out("out-a")).toBe(HOSTILE);
    expect(out("out-b")).toBe(`second ${HOSTILE}`);
    expect(out("out-groups")).toBe(args.groupNames.join(","));
    expect(out("out-store")).toBe(`s3://${args.bucket}/${args.prefix}`);
    expect(out("out-data")).toBe(`from the workdir: ${HOSTILE}`);
    // The runtime wrote its status under the exact prefix.
    const status = await s3.send(new GetObjectCommand({ Bucket: args.bucket, Key: `${args.prefix}/status.json` }));
    expect(JSON.parse(await status.Body!.transformToString())).toMatchObject({ job: "hostile-e2e", state: "SUCCEEDED" });

    expectLauncher(root, sandbox, args, moto!.endpoint);
    expectNothingRan(sandbox);
  }, 180_000);
});
