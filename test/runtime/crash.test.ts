/**
 * Crash consistency, for real: the bundled runtime runs a sweep and is killed
 * with SIGKILL at random instants, then resumed, again and again; the store
 * is a local directory, S3 (moto_server) or GCS (fake-gcs-server) behind a
 * proxy that injects 5xx errors, lost responses and hangs. At the end every
 * item is done exactly once, no completed item was lost, and every journal
 * copy is readable.
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Journal } from "../../runtime/journal/journal";
import { openStore } from "../../runtime/store/open";
import { createGcsBucket, emulatorEnv, requireBinary, startFakeGcs, startMoto, type Emulator } from "../helpers/emulators";
import { startFaultyProxy, type FaultyProxy } from "../helpers/faulty-proxy";
import { buildRuntime } from "../helpers/runtime-bundle";

const KILLS = Number(process.env.SPOTJOB_CRASH_KILLS ?? 200);
const REMOTE_KILLS = Number(process.env.SPOTJOB_CRASH_KILLS_REMOTE ?? 100);
const ITEMS = 40;
const RUN_LIMIT_MS = 120_000;
/** Per test; bench/crash raises it with the kill counts. */
const TEST_TIMEOUT_MS = Number(process.env.SPOTJOB_CRASH_TIMEOUT_S ?? 900) * 1000;
const hasMoto = requireBinary("moto_server");
const hasGcs = requireBinary("fake-gcs-server");

let runtime: string;
let moto: Emulator | undefined;
let gcs: Emulator | undefined;
const proxies: FaultyProxy[] = [];

beforeAll(async () => {
  runtime = await buildRuntime();
  [moto, gcs] = await Promise.all([hasMoto ? startMoto() : undefined, hasGcs ? startFakeGcs() : undefined]);
}, 120_000);
afterAll(async () => {
  await Promise.all([...proxies.map((p) => p.close()), moto?.stop(), gcs?.stop()]);
});

function writeSpec(dir: string): string {
  const spec = join(dir, "crash.yaml");
  writeFileSync(
    spec,
    [
      "provider: local",
      "name: crash-test",
      "sweep:",
      `  items: [${Array.from({ length: ITEMS }, (_, i) => `{i: ${i}}`).join(", ")}]`,
      '  key: "item-{i}"',
      // Random short work; every start is logged so re-execution is visible.
      "  command: |",
      '    echo "$SWEEP_KEY" >> "$EXECUTIONS"',
      "    sleep 0.$((RANDOM % 20 + 5))",
      "    printf '{\"i\": %s}' {i} > \"$SWEEP_RESULT\"",
      "  parallel: 3",
      "  max_attempts: 2",
      "",
    ].join("\n"),
  );
  return spec;
}

interface Run {
  exit: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function start(spec: string, store: string, state: string, env: NodeJS.ProcessEnv): { child: ReturnType<typeof spawn>; done: Promise<Run> } {
  const child = spawn(process.execPath, [runtime, "run", "--spec", spec, "--store", store, "--state", state], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  // A run that hangs fails the test with its output instead of hanging it.
  const watchdog = setTimeout(() => {
    output += `\n(test watchdog: no exit after ${RUN_LIMIT_MS / 1000} s; killed)`;
    child.kill("SIGKILL");
  }, RUN_LIMIT_MS);
  const done = new Promise<Run>((resolve) =>
    child.on("close", (exit, signal) => {
      clearTimeout(watchdog);
      resolve({ exit, signal, output });
    }),
  );
  return { child, done };
}

/** Kill-and-resume rounds, each a whole sweep in a fresh store prefix, until `kills` kills. */
async function crashLoop(kills: number, storeBase: string, env: NodeJS.ProcessEnv, verifyStoreEnv: NodeJS.ProcessEnv): Promise<void> {
  let killed = 0;
  for (let round = 0; killed < kills; round++) killed += await crashRound(`${storeBase}/round-${round}`, env, verifyStoreEnv, kills - killed);
}

async function crashRound(storeUrl: string, env: NodeJS.ProcessEnv, verifyStoreEnv: NodeJS.ProcessEnv, maxKills: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-crash-"));
  const spec = writeSpec(dir);
  const executions = join(dir, "executions.log");
  writeFileSync(executions, "");
  let state = join(dir, "state-0");
  const runEnv = { ...env, EXECUTIONS: executions, SPOTJOB_STORE_TIMEOUT_MS: "1500" };
  let killed = 0;
  for (let i = 1; killed < maxKills; i++) {
    // Every third restart is on a fresh machine: the local journal is gone, the store must carry everything.
    if (i % 3 === 0) state = join(dir, `state-${i}`);
    const run = start(spec, storeUrl, state, runEnv);
    const outcome = await Promise.race([sleep(50 + Math.random() * 600).then(() => undefined), run.done]);
    if (outcome) {
      expect(outcome.exit, outcome.output).toBe(0);
      break;
    }
    run.child.kill("SIGKILL");
    await run.done;
    killed++;
  }
  const final = await start(spec, storeUrl, state, runEnv).done;
  expect(final.exit, final.output).toBe(0);

  // Exactly once in the results, nothing lost.
  const results = readFileSync(join(state, "results.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(results.map((r) => r.key).sort()).toEqual(Array.from({ length: ITEMS }, (_, i) => `item-${i}`).sort());
  expect(results.every((r) => r.status === "done" && r.result.i === Number(r.key.slice(5)))).toBe(true);
  // Every durable copy is readable, and it alone (a fresh machine) knows every item is done.
  Object.assign(process.env, verifyStoreEnv);
  const fromStore = await Journal.open({ path: join(dir, "verify", "journal.jsonl"), store: openStore(storeUrl) });
  const done = new Set(fromStore.records.filter((r) => r.status === "done").map((r) => r.key));
  await fromStore.close();
  expect(done.size).toBe(ITEMS);
  const starts = readFileSync(executions, "utf8").trim().split("\n").length;
  console.log(`${storeUrl}: ${killed} kills, ${starts} item starts for ${ITEMS} items`);
  return killed;
}

describe("crash consistency under SIGKILL", () => {
  it(`local directory store: ${KILLS} kills`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-store-"));
    await crashLoop(KILLS, dir, {}, {});
  }, TEST_TIMEOUT_MS);

  it.runIf(hasMoto)(`S3 (moto_server) with injected faults: ${REMOTE_KILLS} kills`, async () => {
    await new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: "crash" }));
    const proxy = await startFaultyProxy(moto!.endpoint, { before: 0.05, after: 0.03, hang: 0.01 });
    proxies.push(proxy);
    await crashLoop(REMOTE_KILLS, "s3://crash/jobs", emulatorEnv({ ...moto!, endpoint: proxy.endpoint }), emulatorEnv(moto));
    expect(proxy.counts.before + proxy.counts.after + proxy.counts.hang).toBeGreaterThan(0);
    console.log("S3 faults injected:", proxy.counts);
  }, TEST_TIMEOUT_MS);

  it.runIf(hasGcs)(`GCS (fake-gcs-server) with injected faults: ${REMOTE_KILLS} kills`, async () => {
    await createGcsBucket(gcs!, "crash");
    // Bodies corrupted in transit too: the store checks each write end to end. (Not on S3 here: S3 itself refuses
    // a body that fails its checksum, moto_server does not.)
    const proxy = await startFaultyProxy(gcs!.endpoint, { before: 0.05, after: 0.03, hang: 0.01, corrupt: 0.02 });
    proxies.push(proxy);
    await crashLoop(REMOTE_KILLS, "gs://crash/jobs", emulatorEnv(undefined, { ...gcs!, endpoint: proxy.endpoint }), emulatorEnv(undefined, gcs));
    expect(proxy.counts.before + proxy.counts.after + proxy.counts.hang).toBeGreaterThan(0);
    expect(proxy.counts.corrupt).toBeGreaterThan(0);
    console.log("GCS faults injected:", proxy.counts);
  }, TEST_TIMEOUT_MS);
});
