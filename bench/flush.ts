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
 * (default 1024); SPOTJOB_FLUSH_STORES picks stores by name (e.g. "S3,GCS").
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { procStatFields } from "../runtime/exec/process-start";
import { MANIFEST_KEY, SnapshotMirror } from "../runtime/snapshot/mirror";
import { openStore } from "../runtime/store/open";
import type { Store } from "../runtime/store/store";
import { createGcsBucket, emulatorEnv, startFakeGcs, startMoto } from "../test/helpers/emulators";

const TOTAL_MB = Number(process.env.SPOTJOB_FLUSH_MB ?? 1024);
const FILES = 100;
const RUNS = Number(process.env.SPOTJOB_FLUSH_RUNS ?? 3);

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
    const only = process.env.SPOTJOB_FLUSH_STORES?.split(",");
    for (const [label, open, emulatorPid] of stores.filter(([l]) => !only || only.some((o) => l.includes(o)))) {
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

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
