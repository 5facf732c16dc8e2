/**
 * Journal cost: mean `record` (fsync per record, local disk) at N = 1,000
 * and N = 100,000 (the later records must cost what the early ones did),
 * resume time, and bytes sent to the store per item.
 * Targets: record <= 1 ms, N=100k within 1.5x of N=1k, resume 100k < 1 s,
 * bytes per item constant in N.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResumableSweep } from "../runtime/sweep/resumable";
import { MemoryStore } from "../test/helpers/memory-store";

interface Item {
  lr: number;
  seed: number;
  label: string;
}

const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ lr: 10 ** -(i % 5), seed: i, label: `run-${i}` }));
const result = (item: Item) => ({ loss: Math.random(), accuracy: Math.random(), steps: 1000, label: item.label });

async function measure(n: number, store?: MemoryStore) {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-bench-journal-"));
  const path = join(dir, "journal.jsonl");
  const all = items(n);
  const sweep = await ResumableSweep.open({ items: all, key: "label", checkpointPath: path, store });
  const window = Math.min(1000, n);
  let lastWindowMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await sweep.record(all[i], result(all[i]));
    if (i >= n - window) lastWindowMs += performance.now() - t;
  }
  const totalMs = performance.now() - t0;
  await sweep.close();
  // Resume: open the N-record journal and learn what is pending.
  const r0 = performance.now();
  const resumed = await ResumableSweep.open({ items: all, key: "label", checkpointPath: path });
  const pending = resumed.pending.length;
  const resumeMs = performance.now() - r0;
  await resumed.close();
  rmSync(dir, { recursive: true, force: true });
  if (pending !== 0) throw new Error(`resume found ${pending} pending items`);
  return { meanMs: totalMs / n, lastWindowMeanMs: lastWindowMs / window, resumeMs };
}

async function main() {
  console.log("local journal, fsync per record:");
  const rows: Array<[number, Awaited<ReturnType<typeof measure>>]> = [];
  for (const n of [1_000, 100_000]) {
    const m = await measure(n);
    rows.push([n, m]);
    console.log(`  N=${n.toLocaleString("en-US").padStart(7)}: mean record ${m.meanMs.toFixed(3)} ms, last 1,000 records ${m.lastWindowMeanMs.toFixed(3)} ms each, resume ${m.resumeMs.toFixed(0)} ms`);
  }
  console.log(`  ratio N=100k / N=1k (mean record): ${(rows[1][1].meanMs / rows[0][1].meanMs).toFixed(2)}x (target <= 1.5x)`);
  console.log("bytes sent to the store (one segment object per record):");
  for (const n of [1_000, 100_000]) {
    const store = new MemoryStore();
    const m = await measure(n, store);
    console.log(`  N=${n.toLocaleString("en-US").padStart(7)}: ${(store.bytesWritten / n).toFixed(1)} bytes/item over ${store.puts.toLocaleString("en-US")} puts; mean record with mirror ${m.meanMs.toFixed(3)} ms`);
  }
}

void main();
