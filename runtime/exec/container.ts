/**
 * `container_image`: setup, run, sweep commands and workers execute inside
 * the image with a container engine (docker or podman), GPUs passed through
 * and the job's directories mounted at the same paths, so every path the
 * runtime hands out means the same inside and out.
 *
 * Pure rendering: the script travels as one shell-quoted argument, and
 * environment values never appear on the command line (`-e NAME` takes the
 * value from the engine client's own environment), so no secret shows in
 * `ps` or in a log.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { shellQuote } from "../../core/jobspec/sweep";

export type ContainerEngine = "docker" | "podman";

export interface ContainerOptions {
  engine: ContainerEngine;
  image: string;
  /** Working directory, mounted and used as the container's cwd. */
  cwd: string;
  /** Further directories mounted read-write at the same path (state, snapshot). */
  mounts: string[];
  /** Names of the environment variables to pass through. */
  envNames: string[];
  /** Pass GPUs through (`--gpus all`; podman: CDI `nvidia.com/gpu=all`). */
  gpus: boolean;
}

/**
 * The first engine that answers: on PATH is not enough (a docker CLI whose
 * daemon is not running cannot run anything). `skipped` says why others
 * were passed over, for the message.
 */
export function detectEngine(): { engine?: ContainerEngine; skipped: string[] } {
  const skipped: string[] = [];
  for (const engine of ["docker", "podman"] as const) {
    if (!spawnSync("bash", ["-c", `command -v ${engine}`], { encoding: "utf8" }).stdout.trim()) continue;
    const probe = spawnSync(engine, ["info"], { encoding: "utf8", timeout: 15_000 });
    if (probe.status === 0) return { engine, skipped };
    skipped.push(`${engine} is installed but does not answer (${(probe.stderr || probe.error?.message || "").trim().split("\n").pop()})`);
  }
  return { skipped };
}

/** The host command that runs `script` in the image, in `bash -euo pipefail`. */
export function wrapInContainer(script: string, o: ContainerOptions): string {
  const mounts = [...new Set([o.cwd, ...o.mounts])].sort();
  const args = [
    o.engine,
    "run",
    "--rm",
    "-i",
    "--init", // a real PID 1: the stop signal reaches the job and zombies are reaped
    "--network=host",
    ...(o.gpus ? (o.engine === "docker" ? ["--gpus", "all"] : ["--device", "nvidia.com/gpu=all"]) : []),
    ...mounts.flatMap((dir) => ["-v", `${dir}:${dir}`]),
    "-w",
    o.cwd,
    ...[...new Set(o.envNames)].sort().flatMap((name) => ["-e", name]),
    o.image,
    "bash",
    "-euo",
    "pipefail",
    "-c",
    script,
  ];
  return `exec ${args.map(shellQuote).join(" ")}`;
}

/** The command that pulls the image once per machine. */
export function pullCommand(engine: ContainerEngine, image: string): string {
  return `${engine} pull ${shellQuote(image)}`;
}

/** Variables a containerised command gets, besides the spec's `envs`. */
const RUNTIME_VARIABLES = [
  "SWEEP_SNAPSHOT_DIR",
  "SPOTJOB_CHECKPOINT_DIR",
  "SWEEP_ITEM",
  "SWEEP_KEY",
  "SWEEP_RESULT",
  "SWEEP_RESULTS",
  "SWEEP_ATTEMPT",
  "SWEEP_RESUME_FROM",
  "CUDA_VISIBLE_DEVICES",
  "PYTHONPATH",
  "SPOTJOB_JOB",
  "SPOTJOB_STORE",
  "SPOTJOB_WORKER_PROTOCOL",
  "SPOTJOB_WORKER_SLOT",
  "SPOTJOB_WORKER_RESULTS",
];

export interface PrepareContainerOptions {
  image: string | undefined;
  /** On a cloud instance a missing engine is an error; on this machine, a warning. */
  onCloud: boolean;
  workDir: string;
  mounts: string[];
  specEnvNames: string[];
  gpus: boolean;
  stateDir: string;
  warn: (message: string) => void;
  /** The engine to use; default: the first found on PATH (null: none). */
  engine?: ContainerEngine | null;
  /** Runs the pull (output streamed); resolves to its exit status. */
  pull: (command: string) => Promise<number | null>;
}

export type PreparedContainer = { wrap?: (script: string) => string } | { error: string };

/** Finds the engine and pulls the image once per machine; says how scripts are to be wrapped. */
export async function prepareContainer(o: PrepareContainerOptions): Promise<PreparedContainer> {
  if (!o.image) return {};
  const found = o.engine === undefined ? detectEngine() : { engine: o.engine ?? undefined, skipped: [] };
  const engine = found.engine;
  if (!engine) {
    const why = found.skipped.length ? ` (${found.skipped.join("; ")})` : "";
    if (o.onCloud) return { error: `container_image ${o.image} needs docker or podman on the instance, and neither is working${why}` };
    o.warn(`container_image ${o.image}: no working container engine (docker, podman) on this machine${why}; running on the host instead`);
    return {};
  }
  const marker = `${o.stateDir}/image-${createHash("sha256").update(`${engine} ${o.image}`).digest("hex").slice(0, 16)}.pulled`;
  if (!existsSync(marker)) {
    const code = await o.pull(pullCommand(engine, o.image));
    if (code !== 0) return { error: `could not pull container_image ${o.image} with ${engine} (exit ${code})` };
    writeFileSync(marker, o.image);
  }
  const options: ContainerOptions = { engine, image: o.image, cwd: o.workDir, mounts: o.mounts, envNames: [...o.specEnvNames, ...RUNTIME_VARIABLES], gpus: o.gpus };
  return { wrap: (script) => wrapInContainer(script, options) };
}
