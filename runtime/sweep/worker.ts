/**
 * A warm worker: one long-lived process per sweep slot that takes items one
 * at a time, so a framework's start-up (imports, CUDA initialisation) is
 * paid once per slot instead of once per item.
 *
 * Protocol v1: the runtime writes one JSON object per line to the worker's
 * stdin, `{"key", "item", "attempt"}`; the worker answers on file descriptor
 * 3 with one JSON object per line, `{"key", "ok": true, "result"}` or
 * `{"key", "ok": false, "error"}`. stdout and stderr stay the user's, so a
 * stray print cannot corrupt a result. A worker that dies mid-item fails that
 * item and is started again for the next one.
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, createReadStream, openSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { describeExit, startShell, type ProcessStops, type ShellProcess, type ShellResult } from "../exec/shell";

export const WORKER_PROTOCOL = 1;

export interface WorkerOptions extends ProcessStops {
  script: string;
  cwd: string;
  /** Fixed for the worker's life (CUDA_VISIBLE_DEVICES of its slot included). */
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  onStart?: (pgid: number) => void;
  onLine?: (line: string) => void;
  /**
   * Results through a named pipe at this path instead of descriptor 3: a
   * container engine passes only stdin, stdout and stderr through, while a
   * pipe in a mounted directory crosses the boundary.
   */
  resultsFifo?: string;
}

export interface WorkerOutcome {
  ok: boolean;
  result?: unknown;
  error?: string;
  /** The worker's exit status when it died during the item. */
  exit?: number | null;
  /** Output of the worker while it ran the item. */
  tail: string;
  seconds: number;
}

interface Pending {
  key: string;
  started: number;
  resolve: (outcome: WorkerOutcome) => void;
}

const TAIL_LINES = 40;

export class Worker {
  private process: ShellProcess | undefined;
  private pending: Pending | undefined;
  private tail: string[] = [];
  /** Worker processes started (1 + restarts). */
  starts = 0;

  constructor(private readonly o: WorkerOptions) {}

  /** Runs one item on the worker, starting (or restarting) it first if need be. */
  run(key: string, item: unknown, attempt: number): Promise<WorkerOutcome> {
    const proc = this.process ?? this.start();
    this.tail = [];
    return new Promise<WorkerOutcome>((resolve) => {
      this.pending = { key, started: performance.now(), resolve };
      proc.child.stdin!.write(`${JSON.stringify({ key, item, attempt })}\n`);
    });
  }

  /** No more items: the worker sees end of input and exits by itself; a stop signal ends it sooner. */
  async close(): Promise<void> {
    const proc = this.process;
    if (!proc) return;
    proc.child.stdin!.end();
    await proc.done;
  }

  private start(): ShellProcess {
    this.starts++;
    const fifo = this.o.resultsFifo;
    if (fifo) {
      rmSync(fifo, { force: true });
      execFileSync("mkfifo", ["-m", "600", fifo]);
    }
    const proc = startShell({
      script: this.o.script,
      cwd: this.o.cwd,
      env: { ...this.o.env, SPOTJOB_WORKER_PROTOCOL: String(WORKER_PROTOCOL), ...(fifo ? { SPOTJOB_WORKER_RESULTS: fifo } : {}) },
      signal: this.o.signal,
      stopping: this.o.stopping,
      hurry: this.o.hurry,
      graceMs: this.o.graceMs,
      stdin: true,
      fd3: !fifo,
      onStart: this.o.onStart,
      onLine: (line) => {
        this.tail.push(line);
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        this.o.onLine?.(line);
      },
    });
    // A worker that exits closes its stdin; writing then must not crash the runtime.
    proc.child.stdin!.on("error", () => undefined);
    // Opening the pipe for reading waits for the worker to open it for writing.
    const results = createInterface({ input: fifo ? createReadStream(fifo) : (proc.child.stdio[3] as Readable) });
    results.on("line", (line) => this.answer(line));
    proc.done.then(
      (exit) => this.exited(proc, exit),
      (e: Error) => this.exited(proc, { code: null, signal: null, tail: e.message, seconds: 0 }),
    );
    this.process = proc;
    return proc;
  }

  private answer(line: string): void {
    const pending = this.pending;
    if (!pending || !line.trim()) return;
    let reply: { key?: unknown; ok?: unknown; result?: unknown; error?: unknown };
    try {
      reply = JSON.parse(line);
    } catch {
      this.settle({ ok: false, error: `the worker answered with a line that is not JSON: ${line.slice(0, 200)}` });
      return;
    }
    if (reply.key !== pending.key) {
      this.settle({ ok: false, error: `the worker answered for item ${JSON.stringify(reply.key)} while running ${JSON.stringify(pending.key)}` });
      return;
    }
    this.settle(reply.ok === true ? { ok: true, result: reply.result } : { ok: false, error: typeof reply.error === "string" ? reply.error : "the worker reported a failure" });
  }

  private exited(proc: ShellProcess, exit: ShellResult): void {
    if (this.process === proc) this.process = undefined;
    if (this.o.resultsFifo) {
      // A worker that died before opening the pipe leaves our read-open waiting: open and close its other end.
      try {
        closeSync(openSync(this.o.resultsFifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waiting
      }
    }
    if (this.pending) this.settle({ ok: false, exit: exit.code, error: `the worker died during the item (${describeExit(exit)}); it is started again for the next item` });
  }

  private settle(outcome: Omit<WorkerOutcome, "tail" | "seconds">): void {
    const pending = this.pending!;
    this.pending = undefined;
    pending.resolve({ ...outcome, tail: this.tail.join("\n"), seconds: (performance.now() - pending.started) / 1000 });
  }
}
