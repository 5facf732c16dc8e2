/**
 * The runtime bundle run as a real process (for tests and benchmarks that
 * stop it with signals and measure it), and large incompressible files for
 * it to checkpoint.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export interface RuntimeExit {
  code: number | null;
  output: string;
  /** Peak RSS of the runtime process (VmHWM), MB. */
  peakMb: number;
}

let peakRecorder: string | undefined;
/** A module loaded into the runtime with --require: writes its peak RSS (VmHWM, kB) where $SPOTJOB_TEST_PEAK_RSS says, at exit. */
function peakRecorderModule(): string {
  if (!peakRecorder) {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-peak-"));
    // The benchmarks run outside the tests' per-run TMPDIR: leave nothing behind there either.
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    peakRecorder = join(dir, "peak.cjs");
    writeFileSync(
      peakRecorder,
      `process.on("exit", () => { const m = /VmHWM:\\s+(\\d+) kB/.exec(require("fs").readFileSync("/proc/self/status", "utf8")); if (m && process.env.SPOTJOB_TEST_PEAK_RSS) require("fs").writeFileSync(process.env.SPOTJOB_TEST_PEAK_RSS, m[1]); });\n`,
    );
  }
  return peakRecorder;
}

/** `runtime run` of `spec` against `store`, optionally under a wrapper command (setpriv...); output collected, peak RSS recorded. */
export function spawnRuntime(runtime: string, spec: string, store: string, state: string, env: NodeJS.ProcessEnv = {}, wrap: string[] = []): { child: ChildProcess; done: Promise<RuntimeExit>; output: () => string } {
  const peakFile = join(mkdtempSync(join(tmpdir(), "spotjob-peak-")), "kb");
  const argv = [process.execPath, "--require", peakRecorderModule(), runtime, "run", "--spec", spec, "--store", store, "--state", state];
  const [command, ...args] = [...wrap, ...argv];
  const child = spawn(command, args, { env: { ...process.env, ...env, SPOTJOB_TEST_PEAK_RSS: peakFile }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const done = new Promise<RuntimeExit>((resolve) =>
    child.on("close", (code) => {
      const peakMb = existsSync(peakFile) ? Number(readFileSync(peakFile, "utf8")) / 1024 : NaN;
      rmSync(dirname(peakFile), { recursive: true, force: true });
      resolve({ code, output, peakMb });
    }),
  );
  return { child, done, output: () => output };
}

/**
 * `bytes` of data that does not compress and no two 4 KiB blocks of which are
 * alike: 4 MiB of seeded pseudo-random bytes, repeated with a counter stamped
 * into every 4 KiB. Written from one 4 MiB buffer.
 */
export function writeIncompressible(file: string, bytes: number, seed = 42): void {
  const block = Buffer.alloc(4 * 1024 * 1024);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < block.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block.writeUInt32LE(x >>> 0, i);
  }
  const fd = openSync(file, "w");
  try {
    for (let at = 0, n = 0; at < bytes; at += block.length, n++) {
      for (let b = 0; b < block.length; b += 4096) block.writeUInt32LE((n * 1024 + b / 4096) >>> 0, b);
      writeSync(fd, block, 0, Math.min(block.length, bytes - at));
    }
  } finally {
    closeSync(fd);
  }
}
