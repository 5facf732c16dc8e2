/**
 * Runs a declarative sweep's pending items through its command, `parallel`
 * at a time, retrying each up to `max_attempts`, and journals every finished
 * attempt. A stop (abort) lets no new item start; items in flight are
 * stopped and not recorded, so a resume runs them again.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { renderCommand, type SweepItem } from "../../core/spec/sweep";
import type { JournalRecord } from "../journal/record";
import type { ChildRegistry } from "../exec/orphans";
import { describeExit, runShell } from "../exec/shell";
import type { ResumableSweep } from "./resumable";

export interface SweepRunOptions {
  sweep: ResumableSweep<SweepItem>;
  command: string;
  /** Slots; each slot may pin devices (CUDA_VISIBLE_DEVICES). */
  slots: Array<{ devices?: string }>;
  maxAttempts: number;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where `$SWEEP_RESULT` files are written. */
  scratchDir: string;
  children?: ChildRegistry;
  signal: AbortSignal;
  graceMs?: number;
  /** A second stop signal: kill what runs now. */
  hurry?: AbortSignal;
  onLine?: (key: string, line: string) => void;
  onRecord?: (record: JournalRecord) => void;
}

export interface SweepOutcome {
  done: number;
  failed: number;
  total: number;
  interrupted: boolean;
}

export async function runSweep(o: SweepRunOptions): Promise<SweepOutcome> {
  const queue = [...o.sweep.pending];
  mkdirSync(o.scratchDir, { recursive: true });

  const runItem = async (item: SweepItem, devices: string | undefined): Promise<void> => {
    for (let tries = 0; tries < o.maxAttempts && !o.signal.aborted; tries++) {
      const resultFile = join(o.scratchDir, `result-${process.pid}-${item.index}-${tries}.json`);
      rmSync(resultFile, { force: true });
      const env: NodeJS.ProcessEnv = {
        ...o.env,
        SWEEP_ITEM: JSON.stringify(item.fields),
        SWEEP_KEY: item.key,
        SWEEP_RESULT: resultFile,
        SWEEP_ATTEMPT: String(o.sweep.attempts(item.key) + 1),
        ...(devices !== undefined ? { CUDA_VISIBLE_DEVICES: devices } : {}),
      };
      const result = await runShell({
        script: renderCommand(o.command, item.fields),
        cwd: o.cwd,
        env,
        signal: o.signal,
        graceMs: o.graceMs, hurry: o.hurry,
        onStart: (pgid) => o.children?.add(pgid),
        onLine: (line) => o.onLine?.(item.key, line),
      });
      if (o.signal.aborted) return; // stopped by us: in flight, not a failure
      const ok = result.code === 0;
      const output = ok ? readResult(resultFile) : undefined;
      rmSync(resultFile, { force: true });
      await o.sweep.record(item, output, {
        status: ok ? "done" : "failed",
        exit: result.code,
        seconds: result.seconds,
        ...(ok ? {} : { error: describeExit(result), log_tail: result.tail.slice(-4000) }),
      });
      o.onRecord?.(o.sweep.latestOf(item.key)!);
      if (ok) return;
    }
  };

  await Promise.all(
    o.slots.map(async (slot) => {
      for (let item = queue.shift(); item && !o.signal.aborted; item = queue.shift()) await runItem(item, slot.devices);
    }),
  );
  return { ...o.sweep.counts(), interrupted: o.signal.aborted };
}

/** The item's `$SWEEP_RESULT`: JSON when it parses, else the text; undefined if not written. */
function readResult(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
