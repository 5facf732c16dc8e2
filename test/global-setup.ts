/**
 * Once per run, for every test file: one temporary directory for the whole
 * run (TMPDIR, so every tmpdir() of the tests and of the processes they start
 * falls inside it), the bundles built into it (never dist/), moto_server and
 * fake-gcs-server started, and both handed to the files through
 * provide/inject (test/helpers/shared.ts). The teardown stops the emulators,
 * removes the run's directory whatever the tests left in it, and fails the
 * run naming any file the tests wrote into the repository.
 */
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node" with { "resolution-mode": "import" };
import { requireBinary, startFakeGcs, startMoto, type Emulator } from "./helpers/emulators";
import type { SharedBundles, SharedEmulator } from "./helpers/shared";

const root = join(__dirname, "..");

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const before = repoFiles();
  // Set before the emulators start and the workers fork, which inherit it. Tests that fail (or time out) before their
  // own clean-up would otherwise leave their directories behind run after run: 27 GB of 150 MB checkpoints, once.
  const runDir = mkdtempSync(join(tmpdir(), "spotjob-tests-"));
  // Others may pass through it, as through /tmp: tests that run a command as another user (`nobody`) share folders there.
  chmodSync(runDir, 0o755);
  process.env.TMPDIR = runDir;
  const packageDir = mkdtempSync(join(runDir, "package-"));
  const emulators: Emulator[] = [];
  try {
    const [built, moto, gcs] = await Promise.all([
      buildPackage(packageDir),
      requireBinary("moto_server") ? startMoto() : undefined,
      requireBinary("fake-gcs-server") ? startFakeGcs() : undefined,
    ]);
    for (const e of [moto, gcs]) if (e) emulators.push(e);
    const shared = (e?: Emulator): SharedEmulator | null => (e ? { endpoint: e.endpoint, pid: e.pid } : null);
    project.provide("bundles", built);
    project.provide("moto", shared(moto));
    project.provide("gcs", shared(gcs));
  } catch (e) {
    await Promise.all(emulators.map((x) => x.stop()));
    rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
  return async () => {
    await Promise.all(emulators.map((x) => x.stop()));
    rmSync(runDir, { recursive: true, force: true });
    const written = changes(before, repoFiles());
    if (!written.length) return;
    // vitest reports a teardown's error but does not fail the run for it.
    process.exitCode = 1;
    throw new Error(`the tests wrote into the repository (they must write only into temporary directories):\n  ${written.join("\n  ")}`);
  };
}

/** The package as `npm ci` leaves it, in `dir`: the product's bundles in dist/, bin/, package.json, node_modules. */
async function buildPackage(dir: string): Promise<SharedBundles> {
  const dist = join(dir, "dist");
  mkdirSync(dist);
  // The product's own bundle list and options; only the runtime stays unminified, for readable stack traces. Built
  // from the repository whatever the working directory (esbuild resolves `alias` from it).
  const { bundles: productBundles } = await import("../scripts/build.mjs");
  const { common } = await import("../scripts/esbuild-options.mjs");
  await Promise.all(productBundles(dist).map((b) => build({ ...common, ...b, absWorkingDir: root, ...(b.outfile?.endsWith("runtime.cjs") ? { minify: false } : {}) })));
  // `require("spotjob/runtime")` resolves through package.json's exports; the CLI's external @pulumi/* through node_modules.
  copyFileSync(join(root, "package.json"), join(dir, "package.json"));
  cpSync(join(root, "bin"), join(dir, "bin"), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  return { packageDir: dir, runtime: join(dist, "runtime.cjs"), cli: join(dist, "spotjob.cjs") };
}

/**
 * The repository's untracked and ignored files (node_modules aside), each with its size and modification time; empty
 * where git cannot list them (not a clone).
 */
function repoFiles(): Map<string, string> {
  const list = (...args: string[]) => execFileSync("git", ["ls-files", "-z", "--others", "--exclude-standard", ...args, "--", ".", ":!node_modules"], { cwd: root, encoding: "utf8", maxBuffer: 256 << 20 }).split("\0").filter(Boolean);
  let files: string[];
  try {
    // Untracked sources and docs are people's work in progress (and vitest's new snapshots), never a test's output.
    files = [...list().filter((f) => !/\.(ts|mts|mjs|md|snap)$/.test(f)), ...list("--ignored")];
  } catch {
    return new Map();
  }
  return new Map(
    files.map((f) => {
      try {
        const s = lstatSync(join(root, f));
        return [f, `${s.size} bytes, modified ${s.mtime.toISOString()}`];
      } catch {
        return [f, "gone"];
      }
    }),
  );
}

function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [f, s] of after) if (!before.has(f)) out.push(`${f} (new: ${s})`);
  else if (before.get(f) !== s) out.push(`${f} (changed: was ${before.get(f)}, now ${s})`);
  for (const f of before.keys()) if (!after.has(f)) out.push(`${f} (removed)`);
  return out.sort();
}
