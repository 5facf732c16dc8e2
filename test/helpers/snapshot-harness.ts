/**
 * The snapshot tests' stores (a local directory, S3 on the run's moto_server,
 * GCS on its fake-gcs-server, in buckets of the calling file's own) and the
 * stop-and-restart harness: a program in the users' style (its own progress
 * file in $SWEEP_SNAPSHOT_DIR) stopped again and again, each restart on a
 * fresh machine. test/runtime/snapshot.test.ts stops it a few times on every
 * `npm test`; snapshot.soak.test.ts twenty times (`npm run test:soak`). The
 * stop instants come from a seed, named in the suite's title and any failure.
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_KEY, SnapshotMirror, type SnapshotManifest } from "../../runtime/snapshot/mirror";
import { openStore } from "../../runtime/store/open";
import type { Store } from "../../runtime/store/store";
import { createGcsBucket, emulatorEnv } from "./emulators";
import { seededRandom, testSeed, withSeed } from "./random";
import { bundles, sharedGcs, sharedMoto, unique } from "./shared";

export type SnapshotStores = [string, () => boolean, () => { url: (name: string) => string; env: NodeJS.ProcessEnv }][];

/** The stores, their buckets created before the calling file's tests. */
export function snapshotStores(): SnapshotStores {
  const moto = sharedMoto();
  const gcs = sharedGcs();
  const bucket = unique("snap");
  beforeAll(async () => {
    if (moto) await new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: bucket }));
    if (gcs) await createGcsBucket(gcs, bucket);
  }, 120_000);
  return [
    ["local directory", () => true, () => ({ url: (name) => join(mkdtempSync(join(tmpdir(), "spotjob-snapstore-")), name), env: {} })],
    ["S3 (moto_server)", () => moto !== undefined, () => ({ url: (name) => `s3://${bucket}/${name}`, env: emulatorEnv(moto) })],
    ["GCS (fake-gcs-server)", () => gcs !== undefined, () => ({ url: (name) => `gs://${bucket}/${name}`, env: emulatorEnv(undefined, gcs) })],
  ];
}

let counter = 0;
/** A store name not used before in this file. */
export const fresh = (name: string) => `${name}-${counter++}`;

export function withEnv<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  Object.assign(process.env, env);
  return fn();
}

export function mirrorOn(store: Store) {
  const machine = mkdtempSync(join(tmpdir(), "spotjob-machine-"));
  const dir = join(machine, "snapshot");
  return { dir, mirror: new SnapshotMirror({ store, dir, syncedMarker: join(machine, "synced"), pollMs: 50 }) };
}

export async function manifestOf(store: Store): Promise<SnapshotManifest | undefined> {
  const o = await store.get(MANIFEST_KEY);
  return o ? (JSON.parse(o.body.toString()) as SnapshotManifest) : undefined;
}

/** The program stopped `stops` times (SIGTERM and SIGKILL in turn) on every store. */
export function programStopsSuite(stores: SnapshotStores, stops: number): void {
  const SEED = testSeed();
  const { runtime } = bundles();
  describe.each(stores)(`a program that keeps its own progress file, on %s (seed ${SEED})`, (_, available, setup) => {
    it.runIf(available())(`loses nothing beyond the item in flight across ${stops} SIGTERMs and SIGKILLs, each restart on a fresh machine`, async () => {
      const { url, env } = setup();
      const storeUrl = url(fresh("program"));
      const dir = mkdtempSync(join(tmpdir(), "spotjob-program-"));
      const ITEMS = 30;
      writeFileSync(join(dir, "toy.py"), PROGRAM);
      writeFileSync(
        join(dir, "job.yaml"),
        ["provider: local", "name: toy", 'run: SWEEP_RESUME_FROM="$SWEEP_SNAPSHOT_DIR/toy.progress.json" python3 toy.py ' + ITEMS, ""].join("\n"),
      );
      const executions = join(dir, "executions.log");
      writeFileSync(executions, "");
      const runEnv = { ...process.env, ...env, EXECUTIONS: executions, SPOTJOB_GRACE_SECONDS: "5", TOY_SEED: String(SEED) };
      const random = seededRandom(SEED);
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
      await withSeed(SEED, async () => {
        for (let stop = 0; stop < stops; stop++) {
          const logStart = readFileSync(executions).length;
          const run = start(machine++);
          // The stop instant: deliberately random (seeded), not a wait for anything.
          const early = await Promise.race([sleep(300 + random() * 900).then(() => undefined), run.done]);
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
        expect(starts).toBeLessThanOrEqual(ITEMS + 3 * stops);
      });
    }, 180_000);
  });
}

/** The users' program: resumes from its own progress file, rewrites it whole after every item. */
const PROGRAM = `
import json, os, sys, time, random
random.seed(os.environ.get("TOY_SEED"))
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
