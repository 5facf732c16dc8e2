/**
 * The synced snapshot directory, on a local directory store, S3 (moto_server)
 * and GCS (fake-gcs-server):
 * - mirror latency: a file written into $SWEEP_SNAPSHOT_DIR until it is
 *   committed in the store (target: within 1 s);
 * - notice-to-durable: 100 files / 1 GB written, then the stop notice; the
 *   time until flush() has everything in the store (target: 5 s). Measured
 *   both for the worst case (the notice right after the writes) and after
 *   the mirror had 2 s to catch up.
 * Each run also prints the CPU seconds this process (and the emulator) used
 * during the flush: on two cores their sum bounds how fast a flush can be.
 * Each notice-to-durable case runs SPOTJOB_FLUSH_RUNS times (default 3): the
 * median is the figure, the samples show the spread (two cores shared with
 * the emulators make single runs noisy). SPOTJOB_FLUSH_MB sets the total size
 * (default 1024; 0 skips these cases); SPOTJOB_FLUSH_STORES picks stores by
 * name (e.g. "S3,GCS").
 *
 * Then one large checkpoint (SPOTJOB_FLUSH_LARGE_GB, default 10; 0 skips it):
 * a real runtime process whose job saves the file (a temporary, then a
 * rename) and is stopped with SIGTERM at once, the worst case. Printed: the
 * time from the signal until the runtime has made the file durable and
 * exited, the runtime's peak RSS (target < 300 MB whatever the size), and,
 * for scale, a plain copy of the same file to the same store in the same run
 * (`cp` and `sync`; `aws s3 cp`; `curl` with a GCS media upload). Needs about
 * three times the file's size on the temporary disk. The emulators hold
 * objects in memory while they write them: moto_server assembles a multipart
 * upload in memory (about twice the file's size at its peak, 20 GB for
 * 10 GB), and fake-gcs-server, even with its filesystem backend, buffers
 * every object it creates whole (internal/backend/fs.go, CreateObject),
 * doubling as it grows: a 10 GB object does not fit in 24 GiB beside the
 * rest, so the GCS case is capped at SPOTJOB_FLUSH_LARGE_GCS_GB (default 3).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { procStatFields } from "../runtime/exec/process-start";
import { MANIFEST_KEY, SnapshotMirror } from "../runtime/snapshot/mirror";
import { openStore } from "../runtime/store/open";
import type { Store } from "../runtime/store/store";
import { sha256File } from "../runtime/store/transfer";
import { createGcsBucket, emulatorEnv, startFakeGcs, startMoto, type Emulator } from "../test/helpers/emulators";
import { buildRuntime } from "../test/helpers/runtime-bundle";
import { spawnRuntime, writeIncompressible } from "../test/helpers/runtime-process";

const TOTAL_MB = Number(process.env.SPOTJOB_FLUSH_MB ?? 1024);
const FILES = 100;
const RUNS = Number(process.env.SPOTJOB_FLUSH_RUNS ?? 3);
const LARGE_GB = Number(process.env.SPOTJOB_FLUSH_LARGE_GB ?? 10);
const LARGE_GCS_GB = Math.min(LARGE_GB, Number(process.env.SPOTJOB_FLUSH_LARGE_GCS_GB ?? 3));
const only = process.env.SPOTJOB_FLUSH_STORES?.split(",");
const picked = (label: string) => !only || only.some((o) => label.includes(o));

function machine(store: Store) {
  const root = mkdtempSync(join(tmpdir(), "spotjob-bench-flush-"));
  const dir = join(root, "snapshot");
  return { root, dir, mirror: new SnapshotMirror({ store, dir, syncedMarker: join(root, "synced") }) };
}

async function latency(store: Store): Promise<number[]> {
  const m = machine(store);
  await m.mirror.restore();
  m.mirror.start();
  const samples: number[] = [];
  for (let i = 0; i < 15; i++) {
    const body = JSON.stringify({ done: Array.from({ length: i + 1 }, (_, k) => k) });
    const t0 = performance.now();
    writeFileSync(join(m.dir, "progress.json"), body);
    for (;;) {
      const manifest = await store.get(MANIFEST_KEY);
      if (manifest && JSON.parse(manifest.body.toString()).files["progress.json"]?.size === body.length) break;
      await sleep(5);
    }
    samples.push(performance.now() - t0);
    await sleep(100);
  }
  await m.mirror.flush();
  rmSync(m.root, { recursive: true, force: true });
  return samples.sort((a, b) => a - b);
}

interface Sample {
  ms: number;
  /** CPU seconds spent during the flush by this process and by the emulator: two cores bound their sum. */
  clientCpu: number;
  emulatorCpu: number;
}

async function noticeToDurable(store: Store, settleMs: number, emulatorPid: number | undefined): Promise<Sample> {
  const m = machine(store);
  await m.mirror.restore();
  m.mirror.start();
  const size = Math.floor((TOTAL_MB * 1024 * 1024) / FILES);
  for (let i = 0; i < FILES; i++) {
    const body = Buffer.alloc(size, i % 251);
    body.writeUInt32LE(Date.now() % 2 ** 32, 0); // distinct contents on every run
    writeFileSync(join(m.dir, `shard-${String(i).padStart(3, "0")}.bin`), body);
  }
  await sleep(settleMs);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const emulator0 = cpuSeconds(emulatorPid);
  await m.mirror.flush();
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sample = { ms: elapsed, clientCpu: (cpu.user + cpu.system) / 1e6, emulatorCpu: cpuSeconds(emulatorPid) - emulator0 };
  const manifest = JSON.parse((await store.get(MANIFEST_KEY))!.body.toString());
  if (Object.keys(manifest.files).length < FILES) throw new Error("flush returned before every file was committed");
  rmSync(m.root, { recursive: true, force: true });
  // The emulators keep objects in memory: each run starts as light as the first.
  for (const key of await store.list("")) await store.delete(key);
  return sample;
}

/** CPU seconds a process has used (user + system), from /proc; 0 where there is none. */
function cpuSeconds(pid: number | undefined): number {
  const fields = pid !== undefined ? procStatFields(pid) : undefined;
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : 0; // utime, stime (fields 14, 15) in ticks (USER_HZ = 100)
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

async function main() {
  const moto = await startMoto();
  const gcs = await startFakeGcs();
  Object.assign(process.env, emulatorEnv(moto, gcs));
  await new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: "bench" }));
  await createGcsBucket(gcs, "bench");
  const local = mkdtempSync(join(tmpdir(), "spotjob-bench-store-"));
  const stores: [string, (name: string) => Store, number | undefined][] = [
    ["local directory", (name) => openStore(join(local, name)), undefined],
    ["S3 (moto_server)", (name) => openStore(`s3://bench/${name}`), moto.pid],
    ["GCS (fake-gcs-server)", (name) => openStore(`gs://bench/${name}`), gcs.pid],
  ];
  try {
    for (const [label, open, emulatorPid] of stores.filter(([l]) => picked(l))) {
      const lat = await latency(open("latency"));
      console.log(`${label}: change to store: median ${fmt(lat[Math.floor(lat.length / 2)])}, max ${fmt(lat[lat.length - 1])} (${lat.length} changes; target <= 1 s)`);
      const runs = async (name: string, settleMs: number) => {
        const samples: Sample[] = [];
        for (let i = 0; i < RUNS; i++) samples.push(await noticeToDurable(open(`${name}-${i}`), settleMs, emulatorPid));
        const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
        const cpu = (s: Sample) => `${s.clientCpu.toFixed(1)}${emulatorPid ? `+${s.emulatorCpu.toFixed(1)}` : ""} s CPU`;
        return `${fmt(sorted[Math.floor(sorted.length / 2)])} (runs: ${samples.map((s) => `${fmt(s.ms)} [${cpu(s)}]`).join(", ")})`;
      };
      const worst = await runs("worst", 0);
      const settled = await runs("settled", 2000);
      console.log(`${label}: notice to durable, ${FILES} files / ${TOTAL_MB} MB, median of ${RUNS}: ${worst} when written just before the notice, ${settled} after 2 s of mirroring (target <= 5 s)`);
    }
  } finally {
    rmSync(local, { recursive: true, force: true });
    await Promise.all([moto.stop(), gcs.stop()]);
  }
}

/** Runs `command`, returning its wall time in ms; throws with its output if it fails. */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv = {}): number {
  const t0 = performance.now();
  const run = spawnSync(command, args, { env: { ...process.env, ...env }, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${run.status ?? run.signal}): ${run.stderr || run.stdout}`);
  return performance.now() - t0;
}

async function large(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "spotjob-bench-large-"));
  const emulators: Emulator[] = [];
  try {
    // Built into the work directory, removed with it.
    const runtime = await buildRuntime(process.cwd(), work);
    const cases: [string, number, () => Promise<{ url: string; env: NodeJS.ProcessEnv; plainCopy: (source: string) => number }>][] = [
      [
        "local directory",
        LARGE_GB,
        async () => {
          const root = join(work, "local-store");
          mkdirSync(root);
          const plain = join(root, "plain-copy");
          return { url: join(root, "job"), env: {}, plainCopy: (source) => timed("cp", [source, plain]) + timed("sync", [plain]) };
        },
      ],
      [
        "S3 (moto_server)",
        LARGE_GB,
        async () => {
          const moto = await startMoto();
          emulators.push(moto);
          await new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }).send(new CreateBucketCommand({ Bucket: "bench" }));
          const env = emulatorEnv(moto);
          // No read timeout: moto takes minutes to assemble 10 GB, and a CLI retry meanwhile would assemble it twice at once.
          return { url: "s3://bench/job", env, plainCopy: (source) => timed("aws", ["s3", "cp", "--only-show-errors", "--cli-read-timeout", "0", "--endpoint-url", moto.endpoint, source, "s3://bench/plain-copy"], env) };
        },
      ],
      [
        "GCS (fake-gcs-server)",
        LARGE_GCS_GB,
        async () => {
          const root = join(work, "fake-gcs");
          mkdirSync(root);
          const gcs = await startFakeGcs({ filesystemRoot: root });
          emulators.push(gcs);
          await createGcsBucket(gcs, "bench");
          const upload = `${gcs.endpoint}/upload/storage/v1/b/bench/o?uploadType=media&name=plain-copy`;
          return { url: "gs://bench/job", env: emulatorEnv(undefined, gcs), plainCopy: (source) => timed("curl", ["-sSf", "-o", "/dev/null", "-X", "POST", "-H", "content-type: application/octet-stream", "-T", source, upload]) };
        },
      ],
    ];
    let made: { source: string; gb: number; sha256: string } | undefined;
    for (const [store, gb, open] of cases.filter(([l]) => picked(l))) {
      if (made?.gb !== gb) {
        const source = join(work, "checkpoint.bin");
        writeIncompressible(source, Math.round(gb * 1e9));
        made = { source, gb, sha256: await sha256File(source) };
      }
      const { source, sha256 } = made;
      const { url, env, plainCopy } = await open();
      const spec = join(work, "job.yaml");
      writeFileSync(
        spec,
        ["provider: local", "name: bench-large", "run: |", `  cp '${source}' "$SWEEP_SNAPSHOT_DIR/model.pt.tmp"`, '  mv "$SWEEP_SNAPSHOT_DIR/model.pt.tmp" "$SWEEP_SNAPSHOT_DIR/model.pt"', "  echo checkpoint saved", "  sleep 3600", ""].join("\n"),
      );
      const state = join(work, "machine");
      const run = spawnRuntime(runtime, spec, url, state, env);
      while (!run.output().includes("checkpoint saved")) {
        if (run.child.exitCode !== null) throw new Error(`the runtime exited before the checkpoint was saved:\n${run.output()}`);
        await sleep(20);
      }
      const t0 = performance.now();
      run.child.kill("SIGTERM");
      const exit = await run.done;
      const noticeToDurable = performance.now() - t0;
      if (exit.code !== 75) throw new Error(`the runtime exited ${exit.code}, not 75 (interrupted):\n${exit.output}`);
      Object.assign(process.env, env);
      const manifest = await openStore(url).get(MANIFEST_KEY);
      const files = manifest ? (JSON.parse(manifest.body.toString()) as { files: Record<string, { sha256: string }> }).files : {};
      if (files["model.pt"]?.sha256 !== sha256) throw new Error(`the store does not hold the checkpoint (manifest: ${JSON.stringify(files)}); the runtime said:\n${exit.output}`);
      rmSync(state, { recursive: true, force: true });
      // The emulators hold what they store in memory: the job's objects go before the plain copy arrives.
      const jobStore = openStore(url);
      for (const key of await jobStore.list("")) await jobStore.delete(key);
      const plain = plainCopy(source);
      console.log(
        `${store}: ${gb} GB checkpoint (${(statSync(source).size / 2 ** 30).toFixed(2)} GiB) saved just before the notice: notice to durable and exited ${fmt(noticeToDurable)}, runtime peak RSS ${exit.peakMb.toFixed(0)} MB (target < 300 MB); a plain copy of the same file to the same store: ${fmt(plain)}`,
      );
      // Free the emulator (and the disk) before the next store.
      await Promise.all(emulators.splice(0).map((e) => e.stop()));
      rmSync(join(work, "local-store"), { recursive: true, force: true });
      rmSync(join(work, "fake-gcs"), { recursive: true, force: true });
    }
  } finally {
    await Promise.all(emulators.map((e) => e.stop()));
    rmSync(work, { recursive: true, force: true });
  }
}

(TOTAL_MB > 0 ? main() : Promise.resolve())
  .then(() => (LARGE_GB > 0 ? large() : undefined))
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
