/**
 * Job output for a person: item output prefixed with its key, and a progress
 * bar (done/total, rate, ETA) that stays on the last line of a terminal.
 * Off a terminal (logs, CI) progress is a plain line per finished item.
 */
import { markSignalsReady, releaseHeldSignals } from "./early-signals";
import type { JobEvents } from "./job";

export function consoleEvents(stream: NodeJS.WriteStream = process.stderr, out: NodeJS.WriteStream = process.stdout): JobEvents {
  for (const s of [stream, out]) survivesClosing(s);
  const tty = Boolean(stream.isTTY) && process.env.TERM !== "dumb";
  // The rate counts from the first progress report: waiting for a lease or setup is not work.
  let started = 0;
  let firstDone: number | undefined;
  let bar = "";
  const clear = () => {
    if (tty && bar) stream.write("\r\u001b[2K");
  };
  const redraw = () => {
    if (tty && bar) stream.write(bar);
  };
  const say = (target: NodeJS.WriteStream, text: string) => {
    clear();
    target.write(`${text}\n`);
    redraw();
  };
  return {
    line: (source, line) => say(out, `[${source}] ${line}`),
    info: (message) => say(stream, `spotjob: ${message}`),
    warn: (message) => say(stream, `spotjob: warning: ${message}`),
    // The run is over: the bar's last state stays as a line of its own, so nothing is left half a line long where the
    // shell prints its prompt (a Ctrl-C included).
    end: () => {
      if (tty && bar) {
        clear();
        stream.write(`${bar}\n`);
      }
      bar = "";
    },
    progress: ({ done, failed, retried, total }) => {
      if (firstDone === undefined) {
        firstDone = done;
        started = Date.now();
      }
      const elapsed = (Date.now() - started) / 1000;
      const rate = elapsed > 0 ? (done - firstDone) / elapsed : 0;
      const eta = rate > 0 ? formatSeconds((total - done) / rate) : "?";
      const width = 24;
      const filled = total ? Math.round((done / total) * width) : width;
      const text = `${done}/${total} items${failed ? `, ${failed} failed` : ""}${retried ? `, ${retried} retried` : ""}  ${rate.toFixed(2)}/s  ETA ${eta}`;
      if (tty) {
        clear();
        bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`;
        redraw();
      } else {
        stream.write(`spotjob: ${text}\n`);
      }
    },
  };
}

const survivors = new WeakSet<NodeJS.WriteStream>();

/**
 * A console that goes away (`spotjob run job.yaml | head -1`, a closed
 * terminal) must not end the job: its writes then fail (EPIPE, EIO), and an
 * unhandled stream error would kill the process. What it misses is in the run
 * log, in the store.
 */
function survivesClosing(stream: NodeJS.WriteStream): void {
  if (survivors.has(stream)) return;
  survivors.add(stream);
  stream.on("error", () => undefined);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/**
 * Under npm (npx, npm exec, npm run) where the shell hands its place to this
 * process (bash, zsh: macOS's sh), npm relays the terminal's Ctrl-C to it
 * after the terminal has sent it: one Ctrl-C arrives twice. The copy follows
 * within moments; a person's second Ctrl-C comes later.
 */
const RELAY_MS = 1000;

/**
 * The first SIGINT/SIGTERM stops the job gracefully (in-flight items are
 * stopped and run again on resume); a second one kills what runs, a third
 * exits at once. Takes the signals over from the entry point's early hold.
 */
export function stopOnSignals(onFirst: (signal: NodeJS.Signals) => void, log: (message: string) => void, onSecond?: (signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const relayed = process.env.npm_lifecycle_event !== undefined;
  let last: { signal: NodeJS.Signals; at: number } | undefined;
  const handler = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (relayed && last?.signal === signal && now - last.at < RELAY_MS) return;
    last = { signal, at: now };
    count++;
    if (count === 1) {
      log(`${signal}: stopping; finished items are saved, run the same command again to resume`);
      onFirst(signal);
    } else if (count === 2 && onSecond) {
      log(`${signal} again: killing the job's processes now; saving progress before exiting`);
      onSecond(signal);
    } else {
      log(`${signal} again: exiting now`);
      process.exit(130);
    }
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  // Only now: a signal caught but not yet dispatched belongs to Node's watcher for it, which closes (and drops the
  // signal) once the signal has no listener at all.
  releaseHeldSignals();
  markSignalsReady("handled");
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
