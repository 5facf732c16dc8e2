/**
 * Crash consistency, for real: the bundled runtime runs a sweep and is killed
 * with SIGKILL at random instants, then resumed, again and again; the store
 * is a local directory, S3 (moto_server) or GCS (fake-gcs-server) behind a
 * proxy that injects 5xx errors, lost responses and hangs. At the end every
 * item is done exactly once, no completed item was lost, and every journal
 * copy is readable. The kill instants, work lengths and faults come from one
 * seed, named in the suite's title and in any failure.
 * test/runtime/crash.test.ts runs a few kills on every `npm test`;
 * test/runtime/crash.soak.test.ts runs hundreds (`npm run test:soak`).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { Journal } from "../../runtime/journal/journal";
import { openStore } from "../../runtime/store/open";
import { createGcsBucket, emulatorEnv } from "./emulators";
import { startFaultyProxy, type FaultyProxy } from "./faulty-proxy";
import { seededRandom, testSeed, withSeed } from "./random";
import { bundles, sharedGcs, sharedMoto, unique } from "./shared";

const ITEMS = 40;
const RUN_LIMIT_MS = 120_000;

export interface CrashOptions {
  /** Kills on the local directory store. */
  kills: number;
  /** Kills on each remote store (S3, GCS). */
  remoteKills: number;
  /** Per test. */
  timeoutMs: number;
  /** Which stores (all three unless told): the soak tier gives each its own file, so they run side by side. */
  stores?: Array<"local" | "s3" | "gcs">;
}

export function crashSuite({ kills, remoteKills, timeoutMs, stores = ["local", "s3", "gcs"] }: CrashOptions): void {
  const seed = testSeed();
  const moto = sharedMoto();
  const gcs = sharedGcs();
  const proxies: FaultyProxy[] = [];
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });

  describe(`crash consistency under SIGKILL (seed ${seed})`, () => {
    it.runIf(stores.includes("local"))(`local directory store: ${kills} kills`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "spotjob-store-"));
      await withSeed(seed, () => crashLoop(seededRandom(seed), kills, dir, {}, {}));
    }, timeoutMs);

    it.runIf(moto && stores.includes("s3"))(`S3 (moto_server) with injected faults: ${remoteKills} kills`, async () => {
      const bucket = unique("crash");
      await new S3Client({ endpoint: moto!.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: bucket }));
      const proxy = await startFaultyProxy(moto!.endpoint, { before: 0.05, after: 0.03, hang: 0.01 }, faults(seed));
      proxies.push(proxy);
      await withSeed(seed, () => crashLoop(seededRandom(seed), remoteKills, `s3://${bucket}/jobs`, emulatorEnv({ ...moto!, endpoint: proxy.endpoint }), emulatorEnv(moto)));
      expect(proxy.counts.before + proxy.counts.after + proxy.counts.hang).toBeGreaterThan(0);
      console.log("S3 faults injected:", proxy.counts);
    }, timeoutMs);

    it.runIf(gcs && stores.includes("gcs"))(`GCS (fake-gcs-server) with injected faults: ${remoteKills} kills`, async () => {
      const bucket = unique("crash");
      await createGcsBucket(gcs!, bucket);
      // Bodies corrupted in transit too: the store checks each write end to end. (Not on S3 here: S3 itself refuses
      // a body that fails its checksum, moto_server does not.)
      const proxy = await startFaultyProxy(gcs!.endpoint, { before: 0.05, after: 0.03, hang: 0.01, corrupt: 0.02 }, faults(seed));
      proxies.push(proxy);
      await withSeed(seed, () => crashLoop(seededRandom(seed), remoteKills, `gs://${bucket}/jobs`, emulatorEnv(undefined, { ...gcs!, endpoint: proxy.endpoint }), emulatorEnv(undefined, gcs)));
      expect(proxy.counts.before + proxy.counts.after + proxy.counts.hang).toBeGreaterThan(0);
      // A short run may send too few bodies for a 2% corruption rate to hit one.
      if (remoteKills >= 50) expect(proxy.counts.corrupt).toBeGreaterThan(0);
      console.log("GCS faults injected:", proxy.counts);
    }, timeoutMs);
  });
}

/** The proxy's own stream: its draws follow requests, whose timing varies, and must not shift the kill instants. */
const faults = (seed: number) => seededRandom(seed ^ 0x5eed);

/** The spec: each item sleeps a length drawn from `random` (0.1 s to 0.9 s), logging every start. */
function writeSpec(dir: string, random: () => number): string {
  const spec = join(dir, "crash.yaml");
  const tenths = () => 5 + Math.floor(random() * 20); // as `0.$((RANDOM % 20 + 5))` did: "0.5" to "0.9", "0.10" to "0.24"
  writeFileSync(
    spec,
    [
      "provider: local",
      "name: crash-test",
      "sweep:",
      `  items: [${Array.from({ length: ITEMS }, (_, i) => `{i: ${i}, d: ${tenths()}}`).join(", ")}]`,
      '  key: "item-{i}"',
      "  command: |",
      '    echo "$SWEEP_KEY" >> "$EXECUTIONS"',
      "    sleep 0.{d}",
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
  const child = spawn(process.execPath, [bundles().runtime, "run", "--spec", spec, "--store", store, "--state", state], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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
async function crashLoop(random: () => number, kills: number, storeBase: string, env: NodeJS.ProcessEnv, verifyStoreEnv: NodeJS.ProcessEnv): Promise<void> {
  let killed = 0;
  for (let round = 0; killed < kills; round++) killed += await crashRound(random, `${storeBase}/round-${round}`, env, verifyStoreEnv, kills - killed);
}

/** Resolves once the executions log grows past `size` (an item started), or the run ends. */
async function workStarted(executions: string, size: number, ended: Promise<unknown>): Promise<void> {
  let over = false;
  void ended.then(() => (over = true));
  while (!over && statSync(executions).size <= size) await sleep(10);
}

async function crashRound(random: () => number, storeUrl: string, env: NodeJS.ProcessEnv, verifyStoreEnv: NodeJS.ProcessEnv, maxKills: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-crash-"));
  const spec = writeSpec(dir, random);
  const executions = join(dir, "executions.log");
  writeFileSync(executions, "");
  let state = join(dir, "state-0");
  const runEnv = { ...env, EXECUTIONS: executions, SPOTJOB_STORE_TIMEOUT_MS: "1500" };
  let killed = 0;
  let afterWork = 0;
  for (let i = 1; killed < maxKills; i++) {
    // Every third restart is on a fresh machine: the local journal is gone, the store must carry everything.
    if (i % 3 === 0) state = join(dir, `state-${i}`);
    const startsBefore = statSync(executions).size;
    const run = start(spec, storeUrl, state, runEnv);
    // The kill instant, deliberately random (seeded): a third in start-up (lease, restore, journal replay), the rest
    // once this run has started work (on a remote store with faults, start-up alone outlasts a short window).
    const inStartup = random() < 1 / 3;
    const delay = inStartup ? 50 + random() * 600 : random() * 800;
    const outcome = await Promise.race([(inStartup ? Promise.resolve() : workStarted(executions, startsBefore, run.done)).then(() => sleep(delay)).then(() => undefined), run.done]);
    if (!inStartup) afterWork++;
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
  console.log(`${storeUrl}: ${killed} kills (${afterWork} of the instants drawn after work began), ${starts} item starts for ${ITEMS} items`);
  return killed;
}
