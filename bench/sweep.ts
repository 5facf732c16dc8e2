/**
 * Per-item overhead of the declarative sweep around an item that does
 * nothing: process-per-item mode (`command: true`, next to the cost of
 * starting bash alone) and warm-worker mode (`worker:`, a Python worker
 * through the spotjob_worker helper that returns at once; target <= 5 ms).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expandSweep } from "../core/jobspec/sweep";
import { runShell } from "../runtime/exec/shell";
import { ResumableSweep } from "../runtime/sweep/resumable";
import { runSweep } from "../runtime/sweep/runner";
import { PYTHON_HELPER, PYTHON_HELPER_MODULE } from "../runtime/worker/python-helper";
import { MemoryStore } from "../test/helpers/memory-store";

const N = 300;

async function main() {
  const expansion = expandSweep({ grid: { i: Array.from({ length: N }, (_, i) => i) }, command: "true", parallel: 1, max_attempts: 1 });
  if (!expansion.ok) throw new Error("bad sweep");
  // Baseline: bash -euo pipefail -c true, started the same way.
  const b0 = performance.now();
  for (let i = 0; i < N; i++) await runShell({ script: "true", cwd: tmpdir(), env: process.env });
  const bashMs = (performance.now() - b0) / N;
  const spawnSyncMs = (() => {
    const t = performance.now();
    for (let i = 0; i < 100; i++) spawnSync("bash", ["-c", "true"]);
    return (performance.now() - t) / 100;
  })();

  for (const [label, store] of [["local journal only", undefined], ["journal + store mirror (in memory)", new MemoryStore()]] as const) {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-bench-sweep-"));
    const sweep = await ResumableSweep.open({ items: expansion.items, key: (i) => i.key, checkpointPath: join(dir, "j.jsonl"), store });
    const t = performance.now();
    const outcome = await runSweep({ sweep, command: "true", slots: [{}], maxAttempts: 1, cwd: dir, env: process.env, scratchDir: join(dir, "scratch"), signal: new AbortController().signal });
    const perItem = (performance.now() - t) / N;
    await sweep.close();
    if (outcome.done !== N) throw new Error(`only ${outcome.done} done`);
    console.log(`${label}: ${perItem.toFixed(2)} ms per item; spotjob's own overhead ${(perItem - bashMs).toFixed(2)} ms over starting bash (${bashMs.toFixed(2)} ms)`);
  }
  console.log(`(for scale: spawnSync("bash -c true") costs ${spawnSyncMs.toFixed(2)} ms here)`);

  // Warm worker: one Python process, items over the line protocol.
  const dir = mkdtempSync(join(tmpdir(), "spotjob-bench-worker-"));
  mkdirSync(join(dir, "python"));
  writeFileSync(join(dir, "python", `${PYTHON_HELPER_MODULE}.py`), PYTHON_HELPER);
  writeFileSync(join(dir, "worker.py"), "from spotjob_worker import serve\nserve(lambda item: None)\n");
  const env = { ...process.env, PYTHONPATH: join(dir, "python") };
  const W = 2000;
  const many = expandSweep({ grid: { i: Array.from({ length: W }, (_, i) => i) }, worker: "python3 worker.py", parallel: 1, max_attempts: 1 });
  if (!many.ok) throw new Error("bad sweep");
  for (const [label, store] of [["local journal only", undefined], ["journal + store mirror (in memory)", new MemoryStore()]] as const) {
    const sweep = await ResumableSweep.open({ items: many.items, key: (i) => i.key, checkpointPath: join(dir, `${label.length}.jsonl`), store });
    const t = performance.now();
    const outcome = await runSweep({ sweep, worker: "python3 worker.py", slots: [{}], maxAttempts: 1, cwd: dir, env, scratchDir: join(dir, "scratch"), signal: new AbortController().signal });
    const perItem = (performance.now() - t) / W;
    await sweep.close();
    if (outcome.done !== W) throw new Error(`only ${outcome.done} done`);
    console.log(`worker mode, ${label}: ${perItem.toFixed(2)} ms per item over ${W} items, Python start-up included once (target <= 5 ms)`);
  }
}

void main();
