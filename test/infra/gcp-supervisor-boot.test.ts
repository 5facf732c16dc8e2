/**
 * The supervisor's Cloud Run boot program (infra/gcp/supervisor-boot.ts),
 * run for real with Node.js against fake-gcs-server (behind a recording
 * proxy) and the GCE metadata fake: it fetches the runtime bundle with the
 * service account's token and runs `supervise` with the container's
 * environment, exiting with its status; a missing bundle or setting is a
 * clear failure.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIME_BUCKET_ENV, RUNTIME_OBJECT_ENV, SUPERVISOR_BOOT } from "../../infra/gcp/supervisor-boot";
import { createGcsBucket } from "../helpers/emulators";
import { startFaultyProxy, type FaultyProxy } from "../helpers/faulty-proxy";
import { startGceMetadata, type GceMetadataFake } from "../helpers/gce-metadata";
import { sharedGcs, unique } from "../helpers/shared";

const gcs = sharedGcs();

function boot(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; tmp: string }> {
  // The container's temporary directory, one per run here: the bundle lands there, not in a /tmp other runs share.
  const tmp = mkdtempSync(join(tmpdir(), "spotjob-boot-"));
  return new Promise((done) => {
    // Only what the container would have: no inherited emulator or cloud settings.
    const child = spawn(process.execPath, ["-e", SUPERVISOR_BOOT], { env: { PATH: process.env.PATH ?? "", TMPDIR: tmp, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code, stdout, stderr, tmp }));
  });
}

describe("the supervisor's boot program, without its settings", () => {
  it("exits 2 naming the settings the Pulumi program gives it", async () => {
    const run = await boot({});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${RUNTIME_BUCKET_ENV} and ${RUNTIME_OBJECT_ENV} must be set`);
  });
});

describe.runIf(gcs)("the supervisor's boot program against fake-gcs-server and the metadata fake", () => {
  const bucket = unique("spotjob-supervisor-boot");
  const object = "jobs/boot test/deploy/runtime.cjs";
  const token = "ya29.supervisor-boot-test-token";
  let metadata: GceMetadataFake;
  let proxy: FaultyProxy;
  beforeAll(async () => {
    await createGcsBucket(gcs!, bucket);
    metadata = await startGceMetadata({ token });
    proxy = await startFaultyProxy(gcs!.endpoint, { before: 0, after: 0, hang: 0 });
    // The runtime stand-in: says how it was started, and exits with a status the boot program must pass on.
    const bundle = 'process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), config: process.env.SPOTJOB_SUPERVISOR })); process.exit(3);\n';
    const response = await fetch(`${gcs!.endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(object)}`, { method: "POST", body: bundle });
    expect(response.status, await response.text()).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await metadata?.close();
    await proxy?.close();
  });

  const env = () => ({ GCE_METADATA_HOST: metadata.host, STORAGE_EMULATOR_HOST: proxy.endpoint, [RUNTIME_BUCKET_ENV]: bucket, [RUNTIME_OBJECT_ENV]: object, SPOTJOB_SUPERVISOR: '{"store":"gs://b/p"}' });

  it("downloads the bundle with the metadata server's token and runs `supervise` with the container's environment, passing its status on", async () => {
    const run = await boot(env());
    expect(run.code, run.stderr).toBe(3);
    expect(JSON.parse(run.stdout)).toEqual({ argv: ["supervise"], config: '{"store":"gs://b/p"}' });
    expect(readdirSync(run.tmp)).toEqual(["spotjob-runtime.cjs"]);
    expect(metadata.requests.map((r) => [r.path, r.headers["metadata-flavor"]])).toContainEqual(["/computeMetadata/v1/instance/service-accounts/default/token", "Google"]);
    const download = proxy.seen.find((r) => r.url.includes("alt=media"))!;
    expect(download.url).toBe(`/storage/v1/b/${bucket}/o/${encodeURIComponent(object)}?alt=media`);
    expect(download.headers.authorization).toBe(`Bearer ${token}`);
  });

  it("a bundle that is not there fails (1), naming the object and GCS's answer", async () => {
    const run = await boot({ ...env(), [RUNTIME_OBJECT_ENV]: "jobs/none/deploy/runtime.cjs" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`spotjob supervisor: could not fetch the runtime: gs://${bucket}/jobs/none/deploy/runtime.cjs: HTTP 404`);
  });
});
