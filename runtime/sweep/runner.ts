/**
 * Runs a declarative sweep's pending items through its command, `parallel`
 * at a time, retrying each up to `max_attempts`, and journals every finished
 * attempt. A stop (abort) lets no new item start; items in flight are
 * stopped and not recorded, so a resume runs them again.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { renderCommand, type SweepItem } from "../../core/jobspec/sweep";
import type { JournalRecord } from "../journal/record";
import type { ChildRegistry } from "../exec/orphans";
import { describeExit, runShell, type ProcessStops } from "../exec/shell";
import type { ResumableSweep } from "./resumable";
import { Worker } from "./worker";

export interface SweepRunOptions extends ProcessStops {
  sweep: ResumableSweep<SweepItem>;
  /** A process per item (`sweep.command`) or a warm worker per slot (`sweep.worker`). */
  command?: string;
  worker?: string;
  /** Slots; each slot may pin devices (CUDA_VISIBLE_DEVICES). */
  slots: Array<{ devices?: string }>;
  maxAttempts: number;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where `$SWEEP_RESULT` files are written. */
  scratchDir: string;
  children?: ChildRegistry;
  signal: AbortSignal;
  /** Turns a script into the command that runs it (inside container_image, say). */
  wrap?: (script: string) => string;
  onLine?: (key: string, line: string) => void;
  /** Masks secret values in what is journaled (failure tails and errors). */
  redact?: (text: string) => string;
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
  const wrap = o.wrap ?? ((script: string) => script);
  const redact = o.redact ?? ((text: string) => text);
  const stops = { signal: o.signal, stopping: o.stopping, graceMs: o.graceMs, hurry: o.hurry } satisfies ProcessStops;

  const runItem = async (item: SweepItem, devices: string | undefined, worker: Worker | undefined): Promise<void> => {
    for (let tries = 0; tries < o.maxAttempts && !o.signal.aborted; tries++) {
      const attempt = o.sweep.attempts(item.key) + 1;
      let ok: boolean;
      let output: unknown;
      let failure: { exit?: number | null; error: string; log_tail: string } | undefined;
      let seconds: number;
      if (worker) {
        const outcome = await worker.run(item.key, item.fields, attempt);
        if (o.signal.aborted) return; // stopped by us: in flight, not a failure
        ({ ok, seconds } = outcome);
        output = outcome.result;
        if (!ok) failure = { exit: outcome.exit, error: outcome.error ?? "failed", log_tail: outcome.tail };
      } else {
        const resultFile = join(o.scratchDir, `result-${process.pid}-${item.index}-${tries}.json`);
        rmSync(resultFile, { force: true });
        const result = await runShell({
          script: wrap(renderCommand(o.command!, item.fields)),
          cwd: o.cwd,
          env: { ...slotEnv(devices), SWEEP_ITEM: JSON.stringify(item.fields), SWEEP_KEY: item.key, SWEEP_RESULT: resultFile, SWEEP_ATTEMPT: String(attempt) },
          ...stops,
          onStart: (pgid) => o.children?.add(pgid),
          onLine: (line) => o.onLine?.(item.key, line),
        });
        if (o.signal.aborted) return; // stopped by us: in flight, not a failure
        ok = result.code === 0;
        seconds = result.seconds;
        output = ok ? readResult(resultFile) : undefined;
        rmSync(resultFile, { force: true });
        if (!ok) failure = { exit: result.code, error: describeExit(result), log_tail: result.tail };
      }
      // Masked before it is cut, so no piece of a secret survives at the cut.
      if (failure) failure = { ...failure, error: redact(failure.error), log_tail: redact(failure.log_tail).slice(-4000) };
      await o.sweep.record(item, output, { status: ok ? "done" : "failed", seconds, ...failure });
      o.onRecord?.(o.sweep.latestOf(item.key)!);
      if (ok) return;
    }
  };

  const slotEnv = (devices: string | undefined): NodeJS.ProcessEnv => ({ ...o.env, ...(devices !== undefined ? { CUDA_VISIBLE_DEVICES: devices } : {}) });

  await Promise.all(
    o.slots.map(async (slot, index) => {
      const worker = o.worker
        ? new Worker({
            script: wrap(o.worker),
            resultsFifo: o.wrap ? join(o.scratchDir, `worker-${index}.results`) : undefined,
            cwd: o.cwd,
            env: { ...slotEnv(slot.devices), SPOTJOB_WORKER_SLOT: String(index) },
            ...stops,
            onStart: (pgid) => o.children?.add(pgid),
            onLine: (line) => o.onLine?.(`worker-${index}`, line),
          })
        : undefined;
      try {
        for (let item = queue.shift(); item && !o.signal.aborted; item = queue.shift()) await runItem(item, slot.devices, worker);
      } finally {
        await worker?.close();
      }
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
