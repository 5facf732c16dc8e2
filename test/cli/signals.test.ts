/**
 * Signals from the first instant (issue #12): `run`, the runtime's and the
 * CLI's, stops cleanly on SIGINT or SIGTERM (exit 75, "interrupted; run
 * again") from its first line on, never with 130/143, and never leaves a
 * half-written status. A signal that finds nothing started writes nothing; one
 * that finds the job started ends it INTERRUPTED (75) in its status.
 * SPOTJOB_DEBUG_READY=1 makes a process say when it holds signals.
 */
import { build } from "esbuild";
import { realpathSync, writeFileSync, mkdtempSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { installSpotjob, jobFolder, startProcess, type JobFolder, type Started } from "../helpers/installed-cli";
import { seededRandom, testSeed, withSeed } from "../helpers/random";
import { bundles } from "../helpers/shared";
import { until } from "../helpers/wait";

const root = join(__dirname, "../..");
const SLEEPS = "sleep 60";
const READY = { SPOTJOB_DEBUG_READY: "1" };

let installed: { project: string; bin: string };
beforeAll(() => {
  installed = installSpotjob();
});

type Target = "runtime" | "CLI";

/** `run` of `job` by the runtime bundle, or by the CLI as installed (bin/spotjob.js). */
function startRun(target: Target, job: JobFolder, env: NodeJS.ProcessEnv = {}): Started {
  const argv = target === "runtime" ? [bundles().runtime, "run", "--spec", job.spec, "--store", job.store, "--state", job.state] : [installed.bin, "run", job.spec, "--store", job.store];
  return startProcess(process.execPath, argv, job.dir, env);
}

/** A stop that left the job clean: INTERRUPTED with 75 in its status, or nothing written and the process saying so. */
function expectCleanStop(job: JobFolder, output: string): void {
  const status = job.status();
  if (status) expect({ state: status.state, exit_code: status.exit_code }, output).toEqual({ state: "INTERRUPTED", exit_code: 75 });
  else expect(output).toMatch(/before the job started: nothing ran, nothing was written/);
}

describe.each<Target>(["runtime", "CLI"])("the %s's run", (target) => {
  it.each<NodeJS.Signals>(["SIGTERM", "SIGINT"])("exits 75 on a %s sent the moment it holds signals", async (signal) => {
    const job = jobFolder(installed.project, SLEEPS);
    const run = startRun(target, job, READY);
    await until("signals held", () => run.output().includes("signals held"), 60_000, run.output);
    run.child.kill(signal);
    const exit = await run.exited;
    expect(exit, run.output()).toEqual({ code: 75, signal: null });
    expectCleanStop(job, run.output());
  });

  it("at random early instants: 75 and a clean store, or (before its first line ran) Node's own death by the signal with nothing written", async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    await withSeed(seed, async () => {
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i++) {
        const signal: NodeJS.Signals = random() < 0.5 ? "SIGTERM" : "SIGINT";
        // From right after spawn to past the job's start (a third of a second here, a second on a loaded 2-core machine).
        const delayMs = i === 0 ? 0 : Math.floor(random() * 1200);
        const job = jobFolder(installed.project, SLEEPS);
        const run = startRun(target, job, READY);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        run.child.kill(signal);
        const exit = await run.exited;
        const what = `run ${i}: ${signal} ${delayMs} ms after spawn: ${exit.code ?? exit.signal}\n${run.output()}`;
        if (exit.signal !== null) {
          // Only before the process held signals: Node had not yet run its first line (bootstrap, reading the bundle).
          expect(exit.signal, what).toBe(signal);
          expect(run.output(), what).not.toContain("signals held");
          expect(job.status(), what).toBeUndefined();
          outcomes.push("before its first line");
        } else {
          expect(exit.code, what).toBe(75);
          expectCleanStop(job, run.output());
          outcomes.push(job.status() ? "INTERRUPTED" : "nothing started");
        }
      }
      expect(outcomes.filter((o) => o !== "before its first line").length).toBeGreaterThan(0);
    });
  }, 240_000);
});

describe("a Ctrl-C that reaches a job's process as it starts", () => {
  // Node starts a job's process in a group of its own (fork, then setsid in the child); a Ctrl-C typed in
  // between reaches the process as well as spotjob. Here the process sends itself and spotjob (its parent)
  // that SIGINT, itself last, so it dies of a stop that spotjob has not yet passed on.
  it.each<Target>(["runtime", "CLI"])("the %s's run ends INTERRUPTED (75), not FAILED", async (target) => {
    const job = jobFolder(installed.project, 'kill -INT "$PPID" "$$"\nsleep 60');
    const run = startRun(target, job);
    const exit = await run.exited;
    expect({ exit, state: job.status()?.state, exit_code: job.status()?.exit_code }, run.output()).toEqual({ exit: { code: 75, signal: null }, state: "INTERRUPTED", exit_code: 75 });
  });
});

describe("a signal while signals are held", () => {
  it("exits 75 at once, saying nothing ran, writing nothing (the bundle's hold)", async () => {
    // The hold as the entry points install it, with an event loop that turns (there the job's handlers never come).
    const dir = mkdtempSync(join(tmpdir(), "spotjob-hold-"));
    const entry = join(dir, "hold.ts");
    writeFileSync(entry, `import { holdSignals } from ${JSON.stringify(join(root, "runtime/early-signals"))};\nholdSignals();\nsetInterval(() => undefined, 1000);\n`);
    const { common } = await import("../../scripts/esbuild-options.mjs");
    await build({ ...common, entryPoints: [entry], outfile: join(dir, "hold.cjs") });
    const held = startProcess(process.execPath, [join(dir, "hold.cjs")], dir, READY);
    await until("signals held", () => held.output().includes("signals held"), 30_000, held.output);
    held.child.kill("SIGTERM");
    expect(await held.exited).toEqual({ code: 75, signal: null });
    expect(held.output()).toMatch(/SIGTERM before the job started: nothing ran, nothing was written; run the same command again/);
  });

  it("exits 75 at once from bin/spotjob.js, before the bundle has loaded", async () => {
    // A stand-in bundle that never hands over: only the bin's hold is there when the signal comes.
    const dist = mkdtempSync(join(tmpdir(), "spotjob-stand-in-"));
    writeFileSync(join(dist, "spotjob.cjs"), 'process.stderr.write("stand-in loaded\\n");\nsetInterval(() => undefined, 1000);\n');
    const { project, bin } = installSpotjob(dist);
    const run = startProcess(process.execPath, [bin, "run", "job.yaml"], project, READY);
    await until("the stand-in bundle", () => run.output().includes("stand-in loaded"), 30_000, run.output);
    expect(run.output()).toContain("signals held");
    run.child.kill("SIGINT");
    expect(await run.exited).toEqual({ code: 75, signal: null });
    expect(run.output()).toMatch(/SIGINT before the job started: nothing ran, nothing was written/);
  });
});

/** npx on PATH, as a person's shell finds it. */
function npx(): string | undefined {
  for (const d of (process.env.PATH ?? "").split(":")) if (d && existsSync(join(d, "npx"))) return join(d, "npx");
  return undefined;
}

/** A job that says, with a file in its folder, when its process runs. */
const SAYS_RUNNING = "touch running\nsleep 60";

/**
 * Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group
 * (npm, its shell, spotjob), once the job's process runs (in a session of its
 * own, where a terminal's signals do not reach).
 */
async function ctrlC(command: string, args: string[], job: JobFolder): Promise<{ exit: Awaited<Started["exited"]>; output: string }> {
  // npm's cache and logs go to a temporary folder too; nothing is fetched (spotjob is installed).
  const home = mkdtempSync(join(tmpdir(), "spotjob-npm-"));
  mkdirSync(join(home, "cache"));
  const env = { npm_config_cache: join(home, "cache"), npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", npm_config_offline: "true" };
  const run = startProcess(command, args, job.dir, env, true);
  await until("the job's process to run", () => existsSync(join(job.dir, "running")), 90_000, run.output);
  process.kill(-run.child.pid!, "SIGINT");
  return { exit: await run.exited, output: run.output() };
}

describe.runIf(npx())("Ctrl-C under npm", () => {
  it("node_modules/.bin/spotjob run (the README's form): exits 75, one stop", async () => {
    const job = jobFolder(installed.project, SAYS_RUNNING);
    const { exit, output } = await ctrlC(join(job.dir, "node_modules/.bin/spotjob"), ["run", "job.yaml", "--store", job.store], job);
    expect(exit, output).toEqual({ code: 75, signal: null });
    expect(output.match(/SIGINT/g), output).toHaveLength(1);
    expectCleanStop(job, output);
  }, 120_000);

  it("npx with a shell that hands its place to spotjob (bash; macOS's sh): exits 75; npm's relayed copy of the Ctrl-C is not a second one", async () => {
    // The copy sometimes merges with the terminal's SIGINT in the kernel before spotjob runs: a few tries.
    for (let i = 0; i < 3; i++) {
      const job = jobFolder(installed.project, SAYS_RUNNING);
      const { exit, output } = await ctrlC(npx()!, ["--script-shell=bash", "spotjob", "run", "job.yaml", "--store", job.store], job);
      expect(exit, output).toEqual({ code: 75, signal: null });
      expect(output, output).not.toMatch(/SIGINT again/);
      expectCleanStop(job, output);
    }
  }, 240_000);

  it("npx with npm's default shell: spotjob stops once and records 75; npx says 75 unless that shell is dash", async () => {
    const job = jobFolder(installed.project, SAYS_RUNNING);
    const { exit, output } = await ctrlC(npx()!, ["spotjob", "run", "job.yaml", "--store", job.store], job);
    expect(output, output).not.toMatch(/SIGINT again/);
    expectCleanStop(job, output);
    expect(job.status()?.exit_code).toBe(75);
    // dash (Debian's /bin/sh), which npm runs spotjob under, gets the terminal's SIGINT too: it waits for spotjob
    // (75), then kills itself with SIGINT, and npm, seeing its shell die so, kills itself likewise (130 in a shell).
    if (realpathSync("/bin/sh").endsWith("dash")) expect([exit.code, exit.signal], output).toEqual([null, "SIGINT"]);
    else expect(exit, output).toEqual({ code: 75, signal: null });
  }, 120_000);
});
