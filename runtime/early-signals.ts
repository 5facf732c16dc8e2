/**
 * Signals from the first instant. Until a process has a handler, SIGINT and
 * SIGTERM end it at once (status 130/143), and loading the runtime takes a
 * while on a busy machine. So the entry points hold both signals before
 * anything else loads (hold-signals.ts: in the runtime's file even before V8
 * compiles the rest, see scripts/hold-then-compile.mjs; bin/spotjob.js before
 * it reads the CLI's bundle), and `stopOnSignals` takes them over when it
 * installs the job's handlers, before the job touches its store.
 *
 * A signal that comes while they are held comes before the job started:
 * nothing ran and nothing was written, so the process exits 75 (interrupted,
 * run again) and writes nothing. Node runs a handler only between tasks, so
 * one that comes while the process loads is handled once `launch` has taken
 * over, which looks for it before starting anything, to the same effect.
 * Once the job has started, a signal ends it INTERRUPTED (75), in its status.
 */
import { writeSync } from "node:fs";

/** Where the holding handler is kept: on `process`, so bin/spotjob.js (plain JS, outside the bundle) shares it. */
const HELD = Symbol.for("spotjob.held-signals");
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** RUNTIME_EXIT.interrupted, without loading the runtime to say so. */
const INTERRUPTED = 75;

type Holding = NodeJS.Process & { [HELD]?: (signal: NodeJS.Signals) => void };

export function holdSignals(): void {
  const p = process as Holding;
  if (p[HELD]) return;
  const held = (signal: NodeJS.Signals) => {
    say(`spotjob: ${signal} before the job started: nothing ran, nothing was written; run the same command again\n`);
    process.exit(INTERRUPTED);
  };
  p[HELD] = held;
  for (const s of SIGNALS) process.on(s, held);
  markSignalsReady("held");
}

/**
 * Removes the holding handlers, once the caller has installed its own: a
 * signal caught meanwhile, not yet dispatched, then goes to those.
 */
export function releaseHeldSignals(): void {
  const p = process as Holding;
  const held = p[HELD];
  if (!held) return;
  for (const s of SIGNALS) process.off(s, held);
  delete p[HELD];
}

/** With SPOTJOB_DEBUG_READY=1, says on stderr when signals are held and when the job's handlers have them (bench/bundle.mjs times it). */
export function markSignalsReady(stage: "held" | "handled"): void {
  if (process.env.SPOTJOB_DEBUG_READY === "1") say(`spotjob: debug: signals ${stage} at ${Math.round(performance.now())} ms\n`);
}

/** Straight to stderr: nothing else may be loaded yet, and a closed stderr is no reason to fail. */
function say(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // EPIPE, EAGAIN: the message is lost, the exit status still says it.
  }
}
