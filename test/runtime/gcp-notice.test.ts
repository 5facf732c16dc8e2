/**
 * GCP preemption end to end: the runtime bundle as on a GCE instance
 * (SPOTJOB_CLOUD=gcp, GCE_METADATA_HOST on the metadata fake), its store on
 * GCS (fake-gcs-server). When `instance/preempted` turns TRUE the running
 * sweep stops, flushes and exits 75 ("interrupted, resumable") within 25 s of
 * the flag (GCP powers off about 30 s after it), also when an item ignores
 * SIGTERM; a second runtime on a fresh machine directory finishes the sweep
 * with nothing finished lost or repeated.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FINAL_FLUSH_MS } from "../../runtime/launch";
import { GCP_STOP_BUDGET_MS } from "../../runtime/cloud/gcp/host";
import { createGcsBucket, emulatorEnv } from "../helpers/emulators";
import { startGceMetadata, type GceMetadataFake } from "../helpers/gce-metadata";
import { bundles, sharedGcs, unique } from "../helpers/shared";
import { until } from "../helpers/wait";

const gcs = sharedGcs();
const { runtime } = bundles();
const BUCKET = unique("gcp-notice");
const ITEMS = 30;
let metadata: GceMetadataFake | undefined;

beforeAll(async () => {
  if (gcs) await createGcsBucket(gcs, BUCKET);
});

afterEach(async () => {
  await metadata?.close();
  metadata = undefined;
});

/** An object of the store, as the GCS JSON API serves it; undefined when absent. */
async function storeObject(prefix: string, key: string): Promise<string | undefined> {
  const response = await fetch(`${gcs!.endpoint}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(`${prefix}/${key}`)}?alt=media`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`reading gs://${BUCKET}/${prefix}/${key}: HTTP ${response.status}`);
  return response.text();
}

const resultKeys = (text: string | undefined) => (text ?? "").split("\n").filter(Boolean).map((l) => JSON.parse(l).key as string);

/**
 * A 30-item sweep, two at a time, each item logging its start and end. With
 * STUBBORN set, item-8 ignores SIGTERM and sleeps for minutes: only a SIGKILL ends it.
 */
function sweepSpec(dir: string): string {
  const spec = join(dir, "job.yaml");
  writeFileSync(
    spec,
    [
      "provider: gcp",
      "gpu_type: L4",
      "name: gcp-notice-test",
      "sweep:",
      `  items: [${Array.from({ length: ITEMS }, (_, i) => `{i: ${i}}`).join(", ")}]`,
      '  key: "item-{i}"',
      "  command: |",
      '    echo "start $SWEEP_KEY" >> "$EXECUTIONS"',
      '    if [ -n "${STUBBORN:-}" ] && [ "$SWEEP_KEY" = item-8 ]; then trap "" TERM; sleep 600; fi',
      "    sleep 0.3",
      '    echo "end $SWEEP_KEY" >> "$EXECUTIONS"',
      "  parallel: 2",
      "",
    ].join("\n"),
  );
  return spec;
}

function runRuntime(spec: string, store: string, state: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [runtime, "run", "--spec", spec, "--store", store, "--state", state], { env: { ...process.env, ...emulatorEnv(undefined, gcs), ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const done = new Promise<{ code: number | null; output: string; at: number }>((resolve) => child.on("close", (code) => resolve({ code, output, at: Date.now() })));
  return { done, output: () => output };
}

const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);

/** Preempts once `ready` holds, and checks the stop and the resume; returns how long the stop took after the flag. */
async function preemptAndResume(o: { name: string; stubborn: boolean; env?: NodeJS.ProcessEnv; ready: (executions: string[]) => boolean }): Promise<{ stopMs: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-gcp-notice-"));
  const spec = sweepSpec(dir);
  const executions = join(dir, "executions.log");
  writeFileSync(executions, "");
  const prefix = `${o.name}-${Date.now()}`;
  const store = `gs://${BUCKET}/${prefix}`;
  metadata = await startGceMetadata({ machineType: "g2-standard-4", zone: "us-central1-a", provisioningModel: "SPOT" });
  const first = runRuntime(spec, store, join(dir, "machine-a"), { EXECUTIONS: executions, SPOTJOB_CLOUD: "gcp", GCE_METADATA_HOST: metadata.host, ...o.env, ...(o.stubborn ? { STUBBORN: "1" } : {}) });
  // The flag comes while the sweep runs, and only once the runtime long-polls it.
  await until("the sweep to be under way and the runtime to long-poll instance/preempted", () => o.ready(lines(executions)) && metadata!.requests.some((r) => r.path.startsWith("/computeMetadata/v1/instance/preempted?wait_for_change=true")), 60_000, first.output);
  const flagAt = Date.now();
  metadata.preempt();
  const stopped = await first.done;
  const stopMs = stopped.at - flagAt;
  console.log(`${o.name}: flag to exit 75 in ${stopMs} ms (budget ${GCP_STOP_BUDGET_MS} ms)`);
  expect(stopped.code, stopped.output).toBe(75);
  expect(stopMs, stopped.output).toBeLessThan(GCP_STOP_BUDGET_MS);
  expect(stopped.output).toMatch(/GCP preemption notice \(instance\/preempted = TRUE at .*\): the instance powers off in about 30 s; stopping and saving progress/);
  // Every request to the metadata server carried the header the real one requires.
  expect(metadata.requests.length).toBeGreaterThan(0);
  expect(metadata.requests.filter((r) => r.headers["metadata-flavor"] !== "Google")).toEqual([]);

  const status = JSON.parse((await storeObject(prefix, "status.json"))!);
  expect(status).toMatchObject({ state: "INTERRUPTED", exit_code: 75, instance: { type: "g2-standard-4", market: "spot", region: "us-central1-a" } });
  expect(status.stop_reason).toMatch(/^GCP preemption \(instance\/preempted = TRUE at /);
  const doneBefore = resultKeys(await storeObject(prefix, "results.jsonl"));
  expect(doneBefore.length).toBeGreaterThan(0);
  expect(doneBefore.length).toBeLessThan(ITEMS);
  // Nothing finished is lost: every item whose command ran to its end before the stop is in the store's results.
  const endedBefore = lines(executions).flatMap((l) => (l.startsWith("end ") ? [l.slice(4)] : []));
  for (const key of endedBefore) expect(doneBefore, `${key} ended before the stop`).toContain(key);

  // A replacement instance: a fresh machine directory, the same store, no flag.
  await metadata.close();
  metadata = await startGceMetadata();
  const startedBefore = lines(executions).length;
  const second = await runRuntime(spec, store, join(dir, "machine-b"), { EXECUTIONS: executions, SPOTJOB_CLOUD: "gcp", GCE_METADATA_HOST: metadata.host }).done;
  expect(second.code, second.output).toBe(0);
  const startedAfter = lines(executions).slice(startedBefore).flatMap((l) => (l.startsWith("start ") ? [l.slice(6)] : []));
  // Nothing finished is repeated ...
  for (const key of doneBefore) expect(startedAfter, `${key} ran again`).not.toContain(key);
  // ... and every item is done exactly once in the final results.
  const final = resultKeys(await storeObject(prefix, "results.jsonl"));
  expect(final).toHaveLength(ITEMS);
  expect(new Set(final).size).toBe(ITEMS);
  expect(JSON.parse((await storeObject(prefix, "status.json"))!)).toMatchObject({ state: "SUCCEEDED" });
  return { stopMs, output: stopped.output };
}

describe.runIf(gcs)("GCP preemption (metadata fake, store on fake-gcs-server)", () => {
  it("a running sweep stops, flushes and exits 75 within 25 s of the flag; a second runtime resumes it, nothing lost or repeated", async () => {
    const { stopMs } = await preemptAndResume({ name: "plain", stubborn: false, ready: (executions) => executions.filter((l) => l.startsWith("end ")).length >= 4 });
    // Items that stop on SIGTERM need none of the budget's kill.
    expect(stopMs).toBeLessThan(GCP_STOP_BUDGET_MS - FINAL_FLUSH_MS);
  }, 120_000);

  it("an item that ignores SIGTERM is killed in time: the stop still ends within 25 s of the flag, whatever the job's grace", async () => {
    // A grace of 60 s: without the budget's kill the item would hold the stop for a minute.
    const { stopMs, output } = await preemptAndResume({ name: "stubborn", stubborn: true, env: { SPOTJOB_GRACE_SECONDS: "60" }, ready: (executions) => executions.includes("start item-8") });
    expect(output).toMatch(/17 s since the notice: killing what still runs, so that progress is saved before the instance powers off/);
    expect(stopMs).toBeGreaterThanOrEqual(GCP_STOP_BUDGET_MS - FINAL_FLUSH_MS - 1000);
  }, 120_000);
});
