/**
 * Job output for a person: item output prefixed with its key, and a progress
 * bar (done/total, rate, ETA) that stays on the last line of a terminal.
 * Off a terminal (logs, CI) progress is a plain line per finished item.
 */
import type { JobEvents } from "./job";

export function consoleEvents(stream: NodeJS.WriteStream = process.stderr, out: NodeJS.WriteStream = process.stdout): JobEvents {
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
    progress: ({ done, failed, total }) => {
      if (firstDone === undefined) {
        firstDone = done;
        started = Date.now();
      }
      const elapsed = (Date.now() - started) / 1000;
      const rate = elapsed > 0 ? (done - firstDone) / elapsed : 0;
      const eta = rate > 0 ? formatSeconds((total - done) / rate) : "?";
      const width = 24;
      const filled = total ? Math.round((done / total) * width) : width;
      const text = `${done}/${total} items${failed ? `, ${failed} failed` : ""}  ${rate.toFixed(2)}/s  ETA ${eta}`;
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

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/**
 * The first SIGINT/SIGTERM stops the job gracefully (in-flight items are
 * stopped and run again on resume); a second one exits at once.
 */
export function stopOnSignals(onFirst: (signal: NodeJS.Signals) => void, log: (message: string) => void, onSecond?: (signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
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
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
