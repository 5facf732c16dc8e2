/**
 * The GCP startup script: a snapshot of the text, shellcheck on it, the
 * renderer's refusals (and the shared skeleton's), and the whole script run
 * for real with bash against fake-gcs-server (behind a proxy that fails the
 * first request and records every one) and the GCE metadata fake, with
 * hostile values in every place a value can go; and once more with the real
 * runtime bundle, which runs the job, writes its status to fake-gcs-server and
 * resizes the job's groups to zero through the Compute API fake.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSpecFile } from "../../core/jobspec/load";
import { GCP_DEFAULT_GRACE_SECONDS, renderGcpStartupScript, type GcpStartupScriptArgs } from "../../infra/gcp/startup-script";
import { NODE_PIN, renderStartupSkeleton, retryingDownload, type StartupScriptParts } from "../../infra/shared/startup-skeleton";
import { createGcsBucket, requireBinary } from "../helpers/emulators";
import { startFaultyProxy, type FaultyProxy } from "../helpers/faulty-proxy";
import { startGceCompute, type GceComputeFake } from "../helpers/gce-compute";
import { startGceMetadata, type GceMetadataFake } from "../helpers/gce-metadata";
import { bundles, sharedGcs, unique } from "../helpers/shared";

const group = (project: string, name: string) => `projects/${project}/regions/us-central1/instanceGroupManagers/${name}`;

const representative: GcpStartupScriptArgs = {
  jobName: "minimal-l4",
  project: "spotjob-demo",
  bucket: "spotjob-results-abc",
  prefix: "jobs/minimal-l4",
  runtimeKey: "jobs/minimal-l4/deploy/runtime.cjs",
  specKey: "jobs/minimal-l4/deploy/spec.json",
  workdirKey: "jobs/minimal-l4/deploy/workdir.tar.gz",
  groupPaths: [group("spotjob-demo", "minimal-l4-spot"), group("spotjob-demo", "minimal-l4-ondemand")],
};

/** Everything a shell could take for code (the AWS script's hostile value). */
const HOSTILE = "a$(touch pwned)b`touch pwned`c'd'\"e\";f && touch pwned; %s %q %% \\ back\\\\slash ${HOME} *?\nsecond line $'x' !!";
/** The same in an object name: GCS refuses carriage returns and line feeds there (https://cloud.google.com/storage/docs/objects#naming). */
const HOSTILE_NAME = HOSTILE.replace(/\n/g, " ");

// Group paths and the project are checked against GCP's naming rules: nothing hostile gets through them (see the refusals).
const HOSTILE_PREFIX = `jobs/${HOSTILE_NAME}/ünïcødé ✓`;
const hostile: GcpStartupScriptArgs = {
  jobName: `job ${HOSTILE}`,
  project: "spotjob-hostile-project",
  bucket: "spotjob-hostile",
  prefix: HOSTILE_PREFIX,
  runtimeKey: `${HOSTILE_PREFIX}/deploy/runtime.cjs`,
  specKey: `${HOSTILE_PREFIX}/deploy/spec.json`,
  workdirKey: `${HOSTILE_PREFIX}/deploy/workdir.tar.gz`,
  groupPaths: [group("spotjob-hostile-project", "hostile-spot"), group("spotjob-hostile-project", "hostile-ondemand")],
  graceSeconds: 7,
};

describe("the GCP startup script's text", () => {
  it("for a representative job", () => {
    expect(renderGcpStartupScript(representative)).toMatchSnapshot();
  });

  it("holds every value once, in its assignment, and nowhere else", () => {
    const script = renderGcpStartupScript(hostile);
    const body = script.slice(script.indexOf('ROOT="${SPOTJOB_ROOT'));
    expect(body).not.toContain("pwned");
    expect(body).not.toContain("spotjob-hostile");
    expect(body).not.toContain("hostile-spot");
    expect(body).not.toContain("ünïcødé");
    // The prefix reaches the script only inside the store URL.
    const values = [hostile.jobName, `gs://${hostile.bucket}/${hostile.prefix}`, hostile.runtimeKey, hostile.specKey, hostile.workdirKey].join("");
    expect(script.split("touch pwned").length).toBe(values.split("touch pwned").length);
    expect(script).toContain(`GCP_GROUPS='${hostile.groupPaths.join(",")}'\n`);
  });

  it("needs neither gcloud nor gsutil, and never puts the access token on a command line", () => {
    const script = renderGcpStartupScript(representative);
    expect(script).not.toMatch(/gcloud|gsutil/);
    expect(script).toContain("-H 'Metadata-Flavor: Google'");
    const tokenUses = script.split("\n").filter((line) => line.includes('"$token"'));
    expect(tokenUses).toEqual(["  printf 'Authorization: Bearer %s\\n' \"$token\" | curl -fsS --connect-timeout 10 --speed-limit 1024 --speed-time 60 -H @- -o \"$2\" \"$gcs_api/storage/v1/b/$BUCKET/o/$object?alt=media\""]);
  });

  it("checks the Node.js download before it extracts it, and before it downloads anything with it", () => {
    const script = renderGcpStartupScript(representative);
    expect(script).toContain(`NODE_SHA256_X64='${NODE_PIN.sha256.x64}'`);
    const check = script.indexOf('if [ "$actual" != "$sha256" ]; then');
    expect(script.indexOf("tar -xJf")).toBeGreaterThan(check);
    expect(script.indexOf('gcs_get "$RUNTIME_KEY"')).toBeGreaterThan(script.indexOf('log "using Node.js'));
  });

  it("fits the whole stop, and systemd's kill, inside GCP's 25 s after the preemption flag", () => {
    const script = renderGcpStartupScript(representative);
    expect(GCP_DEFAULT_GRACE_SECONDS).toBe(15);
    expect(script).toContain("GRACE_SECONDS='15'\n");
    expect(script).toContain("STOP_TIMEOUT_SECONDS='25'\n");
    const quick = renderGcpStartupScript({ ...representative, graceSeconds: 0 });
    expect(quick).toContain("GRACE_SECONDS='0'\n");
    expect(quick).toContain("STOP_TIMEOUT_SECONDS='10'\n");
    expect(script).toContain("'RestartPreventExitStatus=1 4 6 75'");
    expect(renderGcpStartupScript({ ...representative, workdirKey: undefined })).toContain("WORKDIR_KEY=''");
  });

  const refusals: [string, Partial<GcpStartupScriptArgs>, RegExp][] = [
    ["an empty bucket", { bucket: "" }, /bucket is empty/],
    ["a bucket name with capitals", { bucket: "Bad_Bucket" }, /not a GCS bucket name: it must be lowercase/],
    ["a bucket name of two characters", { bucket: "ab" }, /must be 3 characters or more/],
    ["a bucket name of 64 characters", { bucket: "a".repeat(64) }, /at most 63 characters/],
    ["a dotted bucket name with a 64-character part", { bucket: `a.${"b".repeat(64)}` }, /63 between them/],
    ["a bucket name that is an IP address", { bucket: "192.168.5.4" }, /must not be an IP address/],
    ["a bucket name beginning with goog", { bucket: "goog-results" }, /must not begin with "goog"/],
    ["a bucket name containing google", { bucket: "my-g00gle-results" }, /nor contain "google"/],
    ["an empty project", { project: "" }, /project is empty/],
    ["a project ID of five characters", { project: "abcde" }, /not a GCP project ID/],
    ["a project ID of 31 characters", { project: `a${"b".repeat(30)}` }, /not a GCP project ID/],
    ["a project ID from a digit", { project: "1spotjob-demo" }, /not a GCP project ID/],
    ["a project ID with capitals", { project: "Spotjob-demo" }, /not a GCP project ID/],
    ["a project ID ending in a hyphen", { project: "spotjob-demo-" }, /not a GCP project ID/],
    ["an empty runtime key", { runtimeKey: "" }, /runtimeKey is empty/],
    ["an empty spec key", { specKey: "" }, /specKey is empty/],
    ["an empty workdir key", { workdirKey: "" }, /workdirKey is empty/],
    ["a key with a line feed", { specKey: "jobs/a\nb/spec.json" }, /specKey must hold no carriage return and no line feed/],
    ["a key with a carriage return", { runtimeKey: "jobs/a\rb" }, /runtimeKey must hold no carriage return/],
    ["a key of 1025 bytes", { workdirKey: "é".repeat(512) + "x" }, /workdirKey must be at most 1024 bytes/],
    ["a key with a lone surrogate", { specKey: "jobs/\uD800/spec.json" }, /specKey must be valid Unicode/],
    ["the key ..", { specKey: ".." }, /specKey must not be "\." or "\.\."/],
    ["an ACME challenge key", { runtimeKey: ".well-known/acme-challenge/x" }, /acme-challenge/],
    ["an empty prefix", { prefix: "" }, /prefix is empty/],
    ["a prefix with a leading slash", { prefix: "/jobs/x" }, /prefix must have no slash/],
    ["a prefix with a trailing slash", { prefix: "jobs/x/" }, /prefix must have no slash/],
    ["a prefix with an empty segment", { prefix: "jobs//x" }, /prefix must have no slash/],
    ["a prefix with a line feed", { prefix: "jobs/a\nb" }, /prefix must hold no carriage return and no line feed/],
    ["a NUL byte", { jobName: "a\0b" }, /jobName contains a NUL byte/],
    ["a NUL byte in a key", { specKey: "k\0" }, /specKey contains a NUL byte/],
    ["an empty group path", { groupPaths: [group("spotjob-demo", "a"), ""] }, /groupPaths\[1\] is empty/],
    ["a group given by name only", { groupPaths: ["minimal-l4-spot"] }, /groupPaths\[0\] "minimal-l4-spot" is not a regional managed instance group path/],
    ["a zonal group", { groupPaths: ["projects/spotjob-demo/zones/us-central1-a/instanceGroupManagers/g"] }, /not a regional managed instance group path/],
    ["a group path with a trailing part", { groupPaths: [`${group("spotjob-demo", "g")}/x`] }, /not a regional managed instance group path/],
    ["a group name with a comma", { groupPaths: [group("spotjob-demo", "a,b")] }, /not a regional managed instance group path/],
    ["a group name with capitals", { groupPaths: [group("spotjob-demo", "Spot")] }, /not a regional managed instance group path/],
    ["a region that is none", { groupPaths: ["projects/spotjob-demo/regions/us central1/instanceGroupManagers/g"] }, /not a regional managed instance group path/],
    ["a group in another project", { groupPaths: [group("other-project", "g")] }, /groupPaths\[0\] .* is not in the job's project "spotjob-demo"/],
    ["a negative grace period", { graceSeconds: -1 }, /graceSeconds must be a whole number/],
    ["a fractional grace period", { graceSeconds: 1.5 }, /graceSeconds must be a whole number/],
    ["a grace period that leaves no time to upload before the power-off", { graceSeconds: 16 }, /graceSeconds 16 is too long for GCP: .* within 25 s of the preemption flag .* use 15 or less/],
  ];
  it.each(refusals)("refuses %s", (_, change, message) => {
    expect(() => renderGcpStartupScript({ ...representative, ...change })).toThrow(message);
  });
});

describe("the shared skeleton", () => {
  const parts: StartupScriptParts = {
    bootSource: "a test",
    values: [
      ["JOB_NAME", "j"],
      ["RUNTIME_KEY", "r"],
      ["SPEC_KEY", "s"],
      ["WORKDIR_KEY", ""],
    ],
    stopTimeoutSeconds: 30,
    download: "get",
    downloadFunction: retryingDownload({ name: "get", why: "a test", attempt: 'cp "$1" "$2.part"', source: "the test" }),
    exports: [["SPOTJOB_CLOUD", "aws"]],
    passThrough: [],
    storeUrl: '"$STORE"',
  };
  it("renders what it is given", () => {
    expect(renderStartupSkeleton(parts)).toContain("# spotjob: starts the job's runtime on this instance (a test, run as root at boot).");
  });
  // The parts a cloud passes in that become code: anything but names and quoted expansions is refused.
  const refusals: [string, Partial<StartupScriptParts>, RegExp][] = [
    ["a value name that is no shell name", { values: [...parts.values, ["A B", "x"]] }, /"A B" is not a shell variable name/],
    ["values without the job name", { values: parts.values.slice(1) }, /the values lack JOB_NAME/],
    ["a value that would overwrite the skeleton's NODE", { values: [...parts.values, ["NODE", "/bin/sh"]] }, /NODE is the skeleton's own variable/],
    ["a value assigned twice", { values: [...parts.values, ["JOB_NAME", "again"]] }, /assigned twice/],
    ["an export of a value instead of a variable", { exports: [["SPOTJOB_CLOUD", "$(touch pwned)"]] }, /is not a bare word or a quoted expansion/],
    ["an export with a space in its word", { exports: [["SPOTJOB_CLOUD", '"$A" "$B"']] }, /is not a bare word or a quoted expansion/],
    ["a pass-through that is no name", { passThrough: ["A;B"] }, /"A;B" is not an environment variable name/],
    ["a store URL holding a value", { storeUrl: "'gs://b'" }, /is not a bare word or a quoted expansion/],
    ["a download function that is no name", { download: "get x" }, /is not a function name/],
    ["a stop timeout of zero", { stopTimeoutSeconds: 0 }, /stop timeout/],
  ];
  it.each(refusals)("refuses %s", (_, change, message) => {
    expect(() => renderStartupSkeleton({ ...parts, ...change })).toThrow(message);
  });
});

const hasShellcheck = requireBinary("shellcheck");

describe.runIf(hasShellcheck)("shellcheck", () => {
  const cases: [string, GcpStartupScriptArgs][] = [
    ["representative", representative],
    ["no workdir, no groups, no grace period", { ...representative, workdirKey: undefined, groupPaths: [], graceSeconds: 0 }],
    ["hostile values", hostile],
    ["quotes only", { ...representative, jobName: "'", prefix: "'\"'", runtimeKey: "'''" }],
  ];
  it.each(cases)("passes on the script for %s", (_, args) => {
    const result = spawnSync("shellcheck", ["--shell=bash", "--severity=style", "-"], { input: renderGcpStartupScript(args), encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  }, 60_000);
});

/** The variables the launcher may export. */
const LAUNCHER_ENV = ["SPOTJOB_CLOUD", "SPOTJOB_GCP_GROUPS", "SPOTJOB_GRACE_SECONDS", "GOOGLE_CLOUD_PROJECT", "GCE_METADATA_HOST", "STORAGE_EMULATOR_HOST"];

/** What sourcing the launcher sets up, with `exec` replaced by a function that prints its arguments (so nothing runs). */
function launcherView(launcher: string, cwd: string): { exec: string[]; env: Record<string, string> } {
  const script = `exec() { printf '%s\\0' "$@"; }; source "$1"; printf '\\0'; printf '%s\\0' ${LAUNCHER_ENV.map((n) => `"\${${n}-}"`).join(" ")}`;
  const sourced = spawnSync("bash", ["-c", script, "_", launcher], { cwd, encoding: "utf8", env: { PATH: process.env.PATH } });
  expect(sourced.status, sourced.stderr).toBe(0);
  const end = sourced.stdout.indexOf("\0\0"); // no argument of exec is empty; a variable may be
  const values = sourced.stdout.slice(end + 2).split("\0");
  return { exec: sourced.stdout.slice(0, end).split("\0"), env: Object.fromEntries(LAUNCHER_ENV.map((n, i) => [n, values[i]])) };
}

/** Runs the rendered script with bash until it exits, asynchronously: the fakes answer from this process. */
function runScript(script: string, sandbox: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  writeFileSync(join(sandbox, "startup.sh"), script);
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(sandbox, "startup.sh")], { cwd: sandbox, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status: number | null) => resolve({ status, stderr }));
  });
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

function filesNamed(dir: string, name: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((path) => path.split("/").pop() === name);
}

/** An object name as one percent-encoded URL path segment: every byte but the unreserved ones (RFC 3986). */
function encodedName(name: string): string {
  return [...Buffer.from(name, "utf8")].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

const gcs = sharedGcs();

describe.runIf(gcs)("the GCP startup script run for real with hostile values (fake-gcs-server, GCE metadata fake)", () => {
  const args = { ...hostile, bucket: unique("spotjob-hostile") };
  const token = "ya29.startup-script-test-token";
  let metadata: GceMetadataFake;
  let proxy: FaultyProxy;
  beforeAll(async () => {
    await createGcsBucket(gcs!, args.bucket);
    metadata = await startGceMetadata({ token, project: args.project });
    // Only the first request to GCS fails (503 before it reaches the store), as GCS may just after boot.
    let calls = 0;
    proxy = await startFaultyProxy(gcs!.endpoint, { before: 0.5, after: 0, hang: 0 }, () => (calls++ === 0 ? 0 : 0.99));
  }, 60_000);
  afterAll(async () => {
    await metadata?.close();
    await proxy?.close();
  });

  /** Uploads through the JSON API's simple media upload, straight to fake-gcs-server. */
  async function put(name: string, body: Buffer | string) {
    const response = await fetch(`${gcs!.endpoint}/upload/storage/v1/b/${args.bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, { method: "POST", body });
    expect(response.status, await response.text()).toBe(200);
  }

  it("downloads with the metadata server's token, retries a failed download, and launches the runtime with the exact values", async () => {
    const sandbox = mkdtempSync(join(tmpdir(), "spotjob-gcp-startup-"));
    const root = join(sandbox, "root");

    // The runtime stand-in records how it was started, next to itself.
    const recorded = JSON.stringify(LAUNCHER_ENV);
    await put(args.runtimeKey, `require("fs").writeFileSync(require("path").join(__dirname, "seen.json"), JSON.stringify({ argv: process.argv.slice(2), env: Object.fromEntries(${recorded}.map((n) => [n, process.env[n]])) }));\n`);
    await put(args.specKey, '{"name":"stand-in"}');
    await put(args.workdirKey!, readFileSync(workdirArchive(sandbox)));

    const env = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      SPOTJOB_ROOT: root,
      SPOTJOB_FOREGROUND: "1",
      GCE_METADATA_HOST: metadata.host,
      STORAGE_EMULATOR_HOST: proxy.endpoint,
    };
    const run = await runScript(renderGcpStartupScript(args), sandbox, env);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`spotjob: starting job ${args.jobName}\n`);
    expect(run.stderr).toContain("spotjob: download failed (try 1 of 5); trying again\n");
    expect(run.stderr).toContain("spotjob: running the runtime in the foreground\n");
    expect(run.stderr).not.toContain(token);

    // One token per try, each asked for with the header the metadata server requires.
    const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token";
    expect(metadata.requests.map((r) => r.path)).toEqual([tokenPath, tokenPath, tokenPath, tokenPath]);
    for (const r of metadata.requests) expect(r.headers["metadata-flavor"]).toBe("Google");
    // Every download through the JSON API, the name percent-encoded, with the token; the first one failed and was tried again.
    const get = (name: string) => ({ method: "GET", url: `/storage/v1/b/${args.bucket}/o/${encodedName(name)}?alt=media`, authorization: `Bearer ${token}` });
    expect(proxy.seen.map((r) => ({ method: r.method, url: r.url, authorization: r.headers.authorization }))).toEqual([get(args.runtimeKey), get(args.runtimeKey), get(args.specKey), get(args.workdirKey!)]);
    expect(proxy.counts.before).toBe(1);

    const storeUrl = `gs://${args.bucket}/${args.prefix}`;
    const launched = {
      SPOTJOB_CLOUD: "gcp",
      SPOTJOB_GCP_GROUPS: args.groupPaths.join(","),
      SPOTJOB_GRACE_SECONDS: "7",
      GOOGLE_CLOUD_PROJECT: args.project,
      GCE_METADATA_HOST: metadata.host,
      STORAGE_EMULATOR_HOST: proxy.endpoint,
    };
    expect(JSON.parse(readFileSync(join(root, "seen.json"), "utf8"))).toEqual({
      argv: ["run", "--spec", join(root, "spec.json"), "--store", storeUrl, "--state", join(root, "state")],
      env: launched,
    });
    expect(readFileSync(join(root, "spec.json"), "utf8")).toBe('{"name":"stand-in"}');
    expect(readFileSync(join(root, "work", "data", "input.txt"), "utf8")).toBe(`from the workdir: ${HOSTILE}`);
    expect(readdirSync(root).sort()).toEqual(["bin", "runtime.cjs", "seen.json", "spec.json", "state", "work"]);

    const launcher = join(root, "bin", "start");
    expect(statSync(launcher).mode & 0o777).toBe(0o700);
    expect(launcherView(launcher, sandbox)).toEqual({
      exec: [process.execPath, join(root, "runtime.cjs"), "run", "--spec", join(root, "spec.json"), "--store", storeUrl, "--state", join(root, "state")],
      env: launched,
    });
    expect(readFileSync(launcher, "utf8")).not.toContain(token);

    expect(filesNamed(sandbox, "pwned")).toEqual([]);
    expect(existsSync(join(process.cwd(), "pwned"))).toBe(false);
  }, 120_000);
});

describe.runIf(gcs)("the GCP startup script run for real with hostile values (fake-gcs-server, GCE metadata and Compute fakes, runtime bundle)", () => {
  const args = { ...hostile, bucket: unique("spotjob-hostile-e2e") };
  const token = "ya29.startup-script-e2e-token";
  const { runtime } = bundles();
  let metadata: GceMetadataFake;
  let compute: GceComputeFake;
  beforeAll(async () => {
    await createGcsBucket(gcs!, args.bucket);
    metadata = await startGceMetadata({ token, project: args.project, machineType: "g2-standard-8", zone: "us-central1-b", provisioningModel: "SPOT", instanceId: "7310021654417701234" });
    compute = await startGceCompute({ token });
    // Each group runs this one instance until the job's end resizes it away.
    for (const path of args.groupPaths) compute.groups.set(path, { targetSize: 1, instances: [{ name: `${path.split("/").pop()}-0001`, currentAction: "NONE" }] });
  }, 60_000);
  afterAll(async () => {
    await metadata?.close();
    await compute?.close();
  });

  /** The JSON API's object URL: the name one percent-encoded path segment (https://cloud.google.com/storage/docs/request-endpoints#encoding). */
  const objectUrl = (name: string) => `${gcs!.endpoint}/storage/v1/b/${args.bucket}/o/${encodedName(name)}`;
  async function put(name: string, body: Buffer | string) {
    const response = await fetch(`${gcs!.endpoint}/upload/storage/v1/b/${args.bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, { method: "POST", body });
    expect(response.status, await response.text()).toBe(200);
  }

  it("fetches, launches and runs the job; every value arrives verbatim, none runs, and the groups are resized to zero", async () => {
    const sandbox = mkdtempSync(join(tmpdir(), "spotjob-gcp-startup-e2e-"));
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
          "printf '%s' \"$SPOTJOB_GCP_GROUPS\" > out-groups",
          "printf '%s' \"$SPOTJOB_STORE\" > out-store",
          "printf '%s' \"$GOOGLE_CLOUD_PROJECT\" > out-project",
          "cp data/input.txt out-data",
        ].join("\n"),
      }),
    );
    const loaded = loadSpecFile(specYaml);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const spec = { ...loaded.loaded.spec, workdir: "work" };

    await put(args.runtimeKey, readFileSync(runtime));
    await put(args.specKey, JSON.stringify(spec));
    await put(args.workdirKey!, readFileSync(workdirArchive(sandbox)));

    const run = await runScript(renderGcpStartupScript(args), sandbox, {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      SPOTJOB_ROOT: root,
      SPOTJOB_FOREGROUND: "1",
      GCE_METADATA_HOST: metadata.host,
      STORAGE_EMULATOR_HOST: gcs!.endpoint,
      // Test-only (the launcher does not write it): in the foreground the runtime inherits it.
      SPOTJOB_COMPUTE_ENDPOINT: compute.endpoint,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`spotjob: starting job ${args.jobName}\n`);
    expect(run.stderr).toContain("spotjob: running the runtime in the foreground\n");
    expect(run.stderr).toContain("SUCCEEDED");
    expect(run.stderr).not.toContain(token);

    const out = (name: string) => readFileSync(join(root, "work", name), "utf8");
    expect(out("out-a")).toBe(HOSTILE);
    expect(out("out-b")).toBe(`second ${HOSTILE}`);
    expect(out("out-groups")).toBe(args.groupPaths.join(","));
    expect(out("out-store")).toBe(`gs://${args.bucket}/${args.prefix}`);
    expect(out("out-project")).toBe(args.project);
    expect(out("out-data")).toBe(`from the workdir: ${HOSTILE}`);

    // The runtime wrote its status under the exact prefix, with the instance as the metadata server describes it.
    const status = await fetch(`${objectUrl(`${args.prefix}/status.json`)}?alt=media`);
    const statusText = await status.text();
    expect(status.status, statusText).toBe(200);
    expect(JSON.parse(statusText)).toMatchObject({
      job: "hostile-e2e",
      state: "SUCCEEDED",
      instance: { type: "g2-standard-8", market: "spot", id: "7310021654417701234", region: "us-central1-b" },
    });

    // At the job's end each group was resized to zero, with the metadata server's token (the fake answers 401 without it).
    const resizes = compute.calls.filter((c) => c.path.endsWith("/resize"));
    expect(resizes).toEqual(args.groupPaths.map((path) => ({ method: "POST", path: `/compute/v1/${path}/resize`, search: "?size=0", status: 200 })));
    for (const path of args.groupPaths) expect(compute.groups.get(path)!.targetSize).toBe(0);
    expect(run.stderr).toContain("resized managed instance group hostile-spot to zero: this job is over");
    expect(run.stderr).toContain("resized managed instance group hostile-ondemand to zero: this job is over");
    // Every metadata request carried the header the server requires (the fake refuses any without it).
    expect(metadata.requests.length).toBeGreaterThan(0);
    for (const r of metadata.requests) expect(r.headers["metadata-flavor"]).toBe("Google");

    expect(filesNamed(sandbox, "pwned")).toEqual([]);
    expect(existsSync(join(process.cwd(), "pwned"))).toBe(false);
  }, 60_000);
});
