/**
 * Per-item overhead of the declarative sweep around a command that does
 * nothing (`true`): what spotjob adds to each item, next to the cost of
 * starting bash alone.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expandSweep } from "../core/spec/sweep";
import { runShell } from "../runtime/exec/shell";
import { ResumableSweep } from "../runtime/sweep/resumable";
import { runSweep } from "../runtime/sweep/runner";
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
}

void main();
