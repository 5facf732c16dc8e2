/**
 * Runs one shell block (setup, run, or a sweep item's command) in
 * `bash -euo pipefail`, in its own process group so that a stop reaches the
 * whole tree, streaming its output line by line and keeping a tail for the
 * journal. The exit status is always reported, never swallowed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { StringDecoder } from "node:string_decoder";
import { setTimeout as wait } from "node:timers/promises";

/** How a script is stopped: every process of a job takes the same four. */
export interface ProcessStops {
  /** Aborted: the stop reaches the script (SIGTERM to its group). */
  signal?: AbortSignal;
  /**
   * The stop once decided, before it reaches `signal` (the job first copies its snapshot). Must lead to
   * `signal`. A script killed by a stop signal we did not send waits for it: see `ourStopFollows`.
   */
  stopping?: AbortSignal;
  /** After an abort, SIGTERM first; SIGKILL after this grace period (default 20 s, inside GCP's 30 s notice). */
  graceMs?: number;
  /** Aborted by a second stop signal: SIGKILL now, without waiting out the grace period. */
  hurry?: AbortSignal;
}

export interface ShellTask extends ProcessStops {
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Each complete output line (stdout and stderr, in arrival order). */
  onLine?: (line: string) => void;
  /** Called with the process group id once the process runs. */
  onStart?: (pgid: number) => void;
  /** How long a script killed by a stop signal we did not send waits for our stop to be decided (default STRAY_STOP_GRACE_MS). */
  strayStopGraceMs?: number;
  /** Open a pipe to the script's stdin (otherwise /dev/null). */
  stdin?: boolean;
  /** Open a pipe on the script's file descriptor 3, for machine-readable output. */
  fd3?: boolean;
}

/** A started script: its process, and its result once it and its output have ended. */
export interface ShellProcess {
  child: ChildProcess;
  done: Promise<ShellResult>;
}

export interface ShellResult {
  /** Exit status; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last lines of output (for failure records). */
  tail: string;
  seconds: number;
}

const TAIL_LINES = 40;
export const DEFAULT_GRACE_MS = 20_000;
/** Signals a terminal (Ctrl-C, Ctrl-\, hang-up) or a user sends a whole process group to stop it. */
const STOP_SIGNALS: ReadonlySet<string> = new Set(["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]);
/** The same keypress reaches us within milliseconds: two seconds is ample, and short for a real failure to wait. */
export const STRAY_STOP_GRACE_MS = 2_000;

export function runShell(task: ShellTask): Promise<ShellResult> {
  return startShell(task).done;
}

export function startShell(task: ShellTask): ShellProcess {
  const started = performance.now();
  const child = spawn("bash", ["-euo", "pipefail", "-c", task.script], {
    cwd: task.cwd,
    env: task.env,
    stdio: [task.stdin ? "pipe" : "ignore", "pipe", "pipe", ...(task.fd3 ? (["pipe"] as const) : [])],
    detached: true, // its own process group: signals reach grandchildren too
  });
  const done = new Promise<ShellResult>((resolve, reject) => {
    const tail: string[] = [];
    const emit = (line: string) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      task.onLine?.(line);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      const decoder = new StringDecoder("utf8");
      let pending = "";
      stream.on("data", (chunk: Buffer) => {
        pending += decoder.write(chunk);
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          emit(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
      });
      stream.on("end", () => {
        pending += decoder.end();
        if (pending) emit(pending);
      });
    }
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      signalGroup(child.pid, "SIGTERM");
      killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), task.graceMs ?? DEFAULT_GRACE_MS);
    };
    const kill = () => signalGroup(child.pid, "SIGKILL");
    if (task.signal?.aborted) stop();
    else task.signal?.addEventListener("abort", stop, { once: true });
    if (task.hurry?.aborted) kill();
    else task.hurry?.addEventListener("abort", kill, { once: true });
    child.on("spawn", () => task.onStart?.(child.pid!));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killTimer);
      task.signal?.removeEventListener("abort", stop);
      task.hurry?.removeEventListener("abort", kill);
      // Anything the script left running in its group goes with it.
      signalGroup(child.pid, "SIGKILL");
      const result = { code, signal, tail: tail.join("\n"), seconds: (performance.now() - started) / 1000 };
      if (signal && STOP_SIGNALS.has(signal)) void ourStopFollows(task).then(() => resolve(result));
      else resolve(result);
    });
  });
  return { child, done };
}

/**
 * Node starts a script in a process group of its own by fork, then setsid in the child: a Ctrl-C typed in
 * between reaches the script as well as us, and kills it before our stop has reached it. When our own
 * stop is decided within the grace, the result waits until that stop has reached `signal`, so the caller
 * sees a script it stopped, not one that failed.
 */
async function ourStopFollows(task: ShellTask): Promise<void> {
  if (!task.signal || task.signal.aborted) return;
  const decided = await wait(task.strayStopGraceMs ?? STRAY_STOP_GRACE_MS, false, { signal: task.stopping ?? task.signal }).catch(() => true);
  if (decided && !task.signal.aborted) await once(task.signal, "abort");
}

export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** "exit 3", "killed by SIGTERM": how a result reads in messages. */
export function describeExit(result: Pick<ShellResult, "code" | "signal">): string {
  return result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
}
