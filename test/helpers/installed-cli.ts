/**
 * The CLI as `npm install` leaves it in a project, for tests that start it
 * the way people do (bin/spotjob.js, node_modules/.bin/spotjob, npx), and job
 * folders that use it. Everything lives in temporary directories; the bundles
 * are the run's shared build (test/global-setup.ts), linked, never dist/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATUS_KEY, type JobStatus } from "../../runtime/status";
import { bundles } from "./shared";

const root = join(__dirname, "../..");

/** A project folder with spotjob installed in node_modules/ (bin/spotjob.js, package.json, dist/ linked to `dist`). */
export function installSpotjob(dist = join(bundles().packageDir, "dist")): { project: string; bin: string } {
  const project = mkdtempSync(join(tmpdir(), "spotjob-installed-"));
  const pkg = join(project, "node_modules", "spotjob");
  mkdirSync(join(pkg, "bin"), { recursive: true });
  copyFileSync(join(root, "package.json"), join(pkg, "package.json"));
  copyFileSync(join(root, "bin", "spotjob.js"), join(pkg, "bin", "spotjob.js"));
  symlinkSync(dist, join(pkg, "dist"), "dir");
  mkdirSync(join(project, "node_modules", ".bin"));
  symlinkSync("../spotjob/bin/spotjob.js", join(project, "node_modules", ".bin", "spotjob"));
  return { project, bin: join(pkg, "bin", "spotjob.js") };
}

export interface JobFolder {
  dir: string;
  spec: string;
  /** The job's store (a directory), given to `run` with --store. */
  store: string;
  state: string;
  status(): JobStatus | undefined;
  /** Everything the run logs hold in the store. */
  logs(): string;
}

/**
 * A job folder inside `project` (its own package.json and node_modules link, so that npx finds spotjob there),
 * whose job runs `run`.
 */
export function jobFolder(project: string, run: string): JobFolder {
  const dir = mkdtempSync(join(project, "job-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "a-job", private: true }));
  symlinkSync(join(project, "node_modules"), join(dir, "node_modules"), "dir");
  const spec = join(dir, "job.yaml");
  writeFileSync(spec, ["version: 1", "provider: local", "name: signal-test", "run: |", ...run.split("\n").map((l) => `  ${l}`), ""].join("\n"));
  const store = join(dir, "store");
  const status = () => (existsSync(join(store, STATUS_KEY)) ? (JSON.parse(readFileSync(join(store, STATUS_KEY), "utf8")) as JobStatus) : undefined);
  const logs = () => {
    const dirLogs = join(store, "logs");
    if (!existsSync(dirLogs)) return "";
    return readdirSync(dirLogs)
      .map((f) => readFileSync(join(dirLogs, f), "utf8"))
      .join("");
  };
  return { dir, spec, store, state: join(dir, "state"), status, logs };
}

export interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `command` in `cwd`, output (stdout and stderr) collected; `group`: in a process group of its own, as a terminal starts a job. */
export function startProcess(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, group = false): Started {
  const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"], detached: group });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}
