/**
 * The synced snapshot directory: the mirror on its own against every store,
 * then a program in the users' style (its own progress file in
 * $SWEEP_SNAPSHOT_DIR) stopped again and again, each restart on a fresh
 * machine, against a local directory, S3 (moto_server) and GCS
 * (fake-gcs-server).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_KEY, SnapshotCorruptError, SnapshotMirror, type SnapshotManifest } from "../../runtime/snapshot/mirror";
import { openForWriting } from "../../runtime/snapshot/open-files";
import { openStore } from "../../runtime/store/open";
import type { Store } from "../../runtime/store/store";
import { createGcsBucket, emulatorEnv, requireBinary, startFakeGcs, startMoto, type Emulator } from "../helpers/emulators";
import { buildRuntime } from "../helpers/runtime-bundle";

const STOPS = Number(process.env.SPOTJOB_SNAPSHOT_STOPS ?? 20);
const hasMoto = requireBinary("moto_server");
const hasGcs = requireBinary("fake-gcs-server");
let moto: Emulator | undefined;
let gcs: Emulator | undefined;
let runtime: string;

beforeAll(async () => {
  runtime = await buildRuntime();
  [moto, gcs] = await Promise.all([hasMoto ? startMoto() : undefined, hasGcs ? startFakeGcs() : undefined]);
  if (moto) await new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: "snap" }));
  if (gcs) await createGcsBucket(gcs, "snap");
}, 120_000);
afterAll(async () => {
  await Promise.all([moto?.stop(), gcs?.stop()]);
});

const stores: [string, () => boolean, () => { url: (name: string) => string; env: NodeJS.ProcessEnv }][] = [
  ["local directory", () => true, () => ({ url: (name) => join(mkdtempSync(join(tmpdir(), "spotjob-snapstore-")), name), env: {} })],
  ["S3 (moto_server)", () => hasMoto, () => ({ url: (name) => `s3://snap/${name}`, env: emulatorEnv(moto) })],
  ["GCS (fake-gcs-server)", () => hasGcs, () => ({ url: (name) => `gs://snap/${name}`, env: emulatorEnv(undefined, gcs) })],
];

let counter = 0;
function withEnv<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  Object.assign(process.env, env);
  return fn();
}

function mirrorOn(store: Store) {
  const machine = mkdtempSync(join(tmpdir(), "spotjob-machine-"));
  const dir = join(machine, "snapshot");
  return { dir, mirror: new SnapshotMirror({ store, dir, syncedMarker: join(machine, "synced"), pollMs: 50 }) };
}

async function manifestOf(store: Store): Promise<SnapshotManifest | undefined> {
  const o = await store.get(MANIFEST_KEY);
  return o ? (JSON.parse(o.body.toString()) as SnapshotManifest) : undefined;
}

describe.each(stores)("snapshot mirror on %s", (_, available, setup) => {
  it.runIf(available())("restores exactly what was flushed onto a fresh machine, and a changed file reaches the store within 1 s", async () => {
    const { url, env } = setup();
    const store = withEnv(env, () => openStore(url(`mirror-${counter++}`)));
    const a = mirrorOn(store);
    expect(await a.mirror.restore()).toBe(0);
    a.mirror.start();
    mkdirSync(join(a.dir, "nested/deeper"), { recursive: true });
    writeFileSync(join(a.dir, "progress.json"), JSON.stringify({ done: [1, 2, 3] }));
    writeFileSync(join(a.dir, "nested/deeper/weights.bin"), Buffer.alloc(100_000, 7));
    const written = Date.now();
    for (;;) {
      const m = await manifestOf(store);
      if (m?.files["progress.json"] && m.files["nested/deeper/weights.bin"]) break;
      expect(Date.now() - written).toBeLessThan(1000);
      await sleep(20);
    }
    writeFileSync(join(a.dir, "progress.json"), JSON.stringify({ done: [1, 2, 3, 4] }));
    await a.mirror.flush();

    const b = mirrorOn(store);
    expect(await b.mirror.restore()).toBe(2);
    expect(JSON.parse(readFileSync(join(b.dir, "progress.json"), "utf8"))).toEqual({ done: [1, 2, 3, 4] });
    expect(readFileSync(join(b.dir, "nested/deeper/weights.bin")).equals(Buffer.alloc(100_000, 7))).toBe(true);
  });

  it.runIf(available())("never uploads a file while it is being written", async () => {
    const { url, env } = setup();
    const store = withEnv(env, () => openStore(url(`growing-${counter++}`)));
    const a = mirrorOn(store);
    await a.mirror.restore();
    a.mirror.start();
    const file = join(a.dir, "growing.log");
    const chunk = "x".repeat(1000) + "\n";
    const sizes = new Set<number>();
    for (let i = 0; i < 40; i++) {
      appendFileSync(file, chunk);
      const m = await manifestOf(store);
      if (m?.files["growing.log"]) sizes.add(m.files["growing.log"].size);
      await sleep(15);
    }
    await a.mirror.flush();
    const final = await manifestOf(store);
    expect(final!.files["growing.log"].size).toBe(40 * chunk.length);
    expect([...sizes]).toEqual([]);
  });

  it.runIf(available())("a file held open mid-rewrite is not sent while its writer pauses, and a log kept open is still mirrored", async () => {
    const { url, env } = setup();
    const store = withEnv(env, () => openStore(url(`open-${counter++}`)));
    const a = mirrorOn(store);
    await a.mirror.restore();
    a.mirror.start();
    // A rewrite in place whose writer is descheduled for 300 ms half-way (seen under load).
    const progress = openSync(join(a.dir, "progress.json"), "w");
    writeSync(progress, '{"done": [1, 2');
    expect(openForWriting(new Set([join(a.dir, "progress.json")]))).toEqual(new Set([join(a.dir, "progress.json")]));
    await sleep(300);
    expect((await manifestOf(store))?.files["progress.json"]).toBeUndefined();
    writeSync(progress, ", 3]}");
    closeSync(progress);
    expect(openForWriting(new Set([join(a.dir, "progress.json")]))).toEqual(new Set());
    // A log its writer never closes: sent once it has held still a little longer.
    const log = openSync(join(a.dir, "train.log"), "a");
    writeSync(log, "epoch 1\n");
    const written = Date.now();
    for (;;) {
      const m = await manifestOf(store);
      if (m?.files["progress.json"] && m.files["train.log"]) break;
      expect(Date.now() - written).toBeLessThan(1000);
      await sleep(20);
    }
    closeSync(log);
    await a.mirror.flush();
    const b = mirrorOn(store);
    await b.mirror.restore();
    expect(JSON.parse(readFileSync(join(b.dir, "progress.json"), "utf8"))).toEqual({ done: [1, 2, 3] });
    expect(readFileSync(join(b.dir, "train.log"), "utf8")).toBe("epoch 1\n");
  });

  it.runIf(available())("a corrupt blob is an error naming the file, and the good local copy is left as it was", async () => {
    const { url, env } = setup();
    const store = withEnv(env, () => openStore(url(`corrupt-${counter++}`)));
    const a = mirrorOn(store);
    await a.mirror.restore();
    writeFileSync(join(a.dir, "progress.json"), "good");
    await a.mirror.flush();
    const manifest = (await manifestOf(store))!;
    await store.put(`snapshot/blobs/${manifest.files["progress.json"].sha256}`, "evil");

    const b = mirrorOn(store);
    mkdirSync(b.dir, { recursive: true });
    writeFileSync(join(b.dir, "progress.json"), "older but intact");
    await expect(b.mirror.restore()).rejects.toThrow(SnapshotCorruptError);
    await expect(b.mirror.restore()).rejects.toThrow(/snapshot file progress\.json fails its integrity check.*nothing was overwritten/);
    expect(readFileSync(join(b.dir, "progress.json"), "utf8")).toBe("older but intact");
  });
});

/** The users' program: resumes from its own progress file, rewrites it whole after every item. */
const PROGRAM = `
import json, os, sys, time, random
items = int(sys.argv[1])
src = os.environ.get("SWEEP_RESUME_FROM", "")
done = json.load(open(src))["done"] if src and os.path.exists(src) else []
out = os.path.join(os.environ["SWEEP_SNAPSHOT_DIR"], "toy.progress.json")
for i in range(items):
    if i in done:
        continue
    with open(os.environ["EXECUTIONS"], "a") as log:
        log.write(f"start {i}\\n")
    time.sleep(random.uniform(0.05, 0.25))
    done.append(i)
    with open(out, "w") as f:  # rewritten in place, as their code does
        json.dump({"done": done}, f)
    with open(os.environ["EXECUTIONS"], "a") as log:
        log.write(f"done {i}\\n")
`;

describe.each(stores)("a program that keeps its own progress file, on %s", (_, available, setup) => {
  it.runIf(available())(`loses nothing beyond the item in flight across ${STOPS} SIGTERMs and SIGKILLs, each restart on a fresh machine`, async () => {
    const { url, env } = setup();
    const storeUrl = url(`program-${counter++}`);
    const dir = mkdtempSync(join(tmpdir(), "spotjob-program-"));
    const ITEMS = 30;
    writeFileSync(join(dir, "toy.py"), PROGRAM);
    writeFileSync(
      join(dir, "job.yaml"),
      ["provider: local", "name: toy", 'run: SWEEP_RESUME_FROM="$SWEEP_SNAPSHOT_DIR/toy.progress.json" python3 toy.py ' + ITEMS, ""].join("\n"),
    );
    const executions = join(dir, "executions.log");
    writeFileSync(executions, "");
    const runEnv = { ...process.env, ...env, EXECUTIONS: executions, SPOTJOB_GRACE_SECONDS: "5" };
    let lastOutput = "";
    const start = (machine: number) => {
      const child = spawn(process.execPath, [runtime, "run", "--spec", join(dir, "job.yaml"), "--store", storeUrl, "--state", join(dir, `machine-${machine}`)], {
        env: { ...runEnv, SPOTJOB_TEST_MACHINE: `${dir}/${machine}` },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const done = new Promise<{ code: number | null; output: string }>((resolve) => child.on("close", (code) => resolve({ code, output: (lastOutput = output) })));
      return { child, done };
    };
    /** Items the program reported done since byte `from` of its log. */
    const doneLogged = (from: number) => new Set(readFileSync(executions).subarray(from).toString().split("\n").filter((l) => l.startsWith("done ")).map((l) => Number(l.slice(5))));
    const inStore = async () => {
      const probe = withEnv(env, () => mirrorOn(openStore(storeUrl)));
      await probe.mirror.restore();
      const file = join(probe.dir, "toy.progress.json");
      const text = existsSync(file) ? readFileSync(file, "utf8") : undefined;
      try {
        return new Set<number>(text !== undefined ? JSON.parse(text).done : []);
      } catch {
        throw new Error(`the store holds a torn progress file: ${JSON.stringify(text)}\n${lastOutput}`);
      }
    };

    let machine = 0;
    for (let stop = 0; stop < STOPS; stop++) {
      const logStart = readFileSync(executions).length;
      const run = start(machine++);
      const early = await Promise.race([sleep(300 + Math.random() * 900).then(() => undefined), run.done]);
      if (early) break;
      const gentle = stop % 2 === 0;
      const before = doneLogged(logStart);
      if (gentle) {
        run.child.kill("SIGTERM");
        const { code, output } = await run.done;
        // The stop waits (up to 1 s) for the snapshot directory to settle; the job may finish meanwhile (0). Under
        // load the signal can also land while Node is still starting, before the runtime handles signals (null).
        expect([75, 0, null], output).toContain(code);
        // After a notice, everything the program finished before it is in the store.
        const saved = await inStore();
        for (const i of before) expect(saved.has(i), `item ${i} finished before SIGTERM but is not in the store\n${output}`).toBe(true);
        if (code === 0) break;
        // (Handlers are installed before the runtime says which store it uses.)
        if (code === null) expect(output).not.toMatch(/job toy: store/);
      } else {
        // No notice: the runtime and the program die at once (the program's group too, as on a dead machine).
        run.child.kill("SIGKILL");
        await run.done;
        killGroups(join(dir, `machine-${machine - 1}`, "children"));
        // A group started at the instant of the kill is not recorded yet: a dead machine takes it too.
        killMarked(`SPOTJOB_TEST_MACHINE=${dir}/${machine - 1}`);
      }
    }
    const final = await start(machine++).done;
    expect(final.code, final.output).toBe(0);
    expect([...(await inStore())].sort((a, b) => a - b)).toEqual(Array.from({ length: ITEMS }, (_, i) => i));
    // Only work in flight (or, without notice, newer than the mirror's last sync) ran again.
    const starts = readFileSync(executions, "utf8").split("\n").filter((l) => l.startsWith("start ")).length;
    expect(starts).toBeLessThanOrEqual(ITEMS + 3 * STOPS);
  }, 180_000);
});

/** Kills every process whose environment carries `marker`: all that ran on one simulated machine. */
function killMarked(marker: string): void {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(marker)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone, or not ours
    }
  }
}

/** Kills the process groups a runtime recorded, as the death of its machine would. */
function killGroups(registry: string): void {
  for (const name of existsSync(registry) ? readdirSync(registry) : []) {
    try {
      process.kill(-Number(name), "SIGKILL");
    } catch {
      // already gone
    }
  }
}

describe("stop signals", () => {
  /** A job that ignores SIGTERM and keeps writing into the snapshot directory. */
  function stubbornJob(graceSeconds: number) {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-stop-"));
    writeFileSync(
      join(dir, "job.yaml"),
      ["provider: local", "name: stubborn", "run: |", "  trap 'echo ignoring TERM' TERM", '  for i in $(seq 1 600); do echo "$i" > "$SWEEP_SNAPSHOT_DIR/tick"; sleep 0.05 || true; done', ""].join("\n"),
    );
    const child = spawn(process.execPath, [runtime, "run", "--spec", join(dir, "job.yaml"), "--store", join(dir, "store"), "--state", join(dir, "machine")], {
      env: { ...process.env, SPOTJOB_GRACE_SECONDS: String(graceSeconds) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const done = new Promise<number | null>((resolve) => child.on("close", resolve));
    const lastTick = () => Number(readFileSync(join(dir, "machine", "snapshot", "tick"), "utf8"));
    const storedTick = async () => {
      const probe = mirrorOn(openStore(join(dir, "store")));
      await probe.mirror.restore();
      return Number(readFileSync(join(probe.dir, "tick"), "utf8"));
    };
    const status = () => JSON.parse(readFileSync(join(dir, "store", "status.json"), "utf8")) as { state: string; stop_reason?: string };
    return { child, done, output: () => output, lastTick, storedTick, status, dir };
  }

  it("after the grace period the job is killed, its last writes are flushed, and the exit says interrupted", async () => {
    const job = stubbornJob(1);
    await sleep(800);
    const t0 = Date.now();
    job.child.kill("SIGTERM");
    expect(await job.done).toBe(75);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(5000);
    expect(job.output()).toMatch(/ignoring TERM/);
    expect(await job.storedTick()).toBe(job.lastTick());
    expect(job.status()).toMatchObject({ state: "INTERRUPTED", stop_reason: "stopped by SIGTERM" });
  }, 30_000);

  it("a second signal kills at once instead of waiting out the grace period, and the flush still happens", async () => {
    const job = stubbornJob(60);
    await sleep(800);
    const t0 = Date.now();
    job.child.kill("SIGTERM");
    await sleep(300);
    job.child.kill("SIGTERM");
    expect(await job.done).toBe(75);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(job.output()).toMatch(/SIGTERM again: killing the job's processes now/);
    expect(await job.storedTick()).toBe(job.lastTick());
  }, 30_000);
});
