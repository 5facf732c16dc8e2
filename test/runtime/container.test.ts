/**
 * container_image: the engine command is rendered as a pure function
 * (snapshots, and bash itself splitting it to prove the quoting), and the
 * runtime's choices when no engine is installed. No container engine exists
 * on the machines these tests run on, so the container itself is not run.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareContainer, wrapInContainer, type ContainerOptions } from "../../runtime/exec/container";
import { bundles } from "../helpers/shared";

const base: ContainerOptions = { engine: "docker", image: "nvcr.io/nvidia/pytorch:24.08-py3", cwd: "/work/job", mounts: ["/var/lib/spotjob/job"], envNames: ["SWEEP_ITEM", "WANDB_API_KEY"], gpus: true };

/** The argv the engine would receive, as bash splits the rendered command. */
function argv(command: string): string[] {
  const out = execFileSync("bash", ["-c", command.replace(/^exec /, "exec printf '%s\\0' ")], { encoding: "utf8" });
  return out.split("\0").slice(0, -1);
}

describe("wrapInContainer", () => {
  it.each([
    ["docker with GPUs", base],
    ["podman without GPUs", { ...base, engine: "podman" as const, gpus: false }],
  ])("%s", (_, options) => {
    expect(wrapInContainer("python3 train.py --lr 0.1", options)).toMatchSnapshot();
  });

  it("passes the script as one argument, verbatim, and environment values never", () => {
    const script = `echo "it's $(id -u)"; rm -rf '/tmp/x y'\nprintf '%s' "$WANDB_API_KEY"`;
    const args = argv(wrapInContainer(script, base));
    expect(args[0]).toBe("docker");
    expect(args.slice(-5)).toEqual(["bash", "-euo", "pipefail", "-c", script]);
    expect(args).toContain("--gpus");
    // Same path inside and out; variables by name only.
    expect(args.join(" ")).toContain("-v /var/lib/spotjob/job:/var/lib/spotjob/job -v /work/job:/work/job -w /work/job");
    expect(args.filter((_, i) => args[i - 1] === "-e")).toEqual(["SWEEP_ITEM", "WANDB_API_KEY"]);
  });
});

describe("prepareContainer", () => {
  const common = { image: "pytorch:latest", workDir: "/w", mounts: [], specEnvNames: [], gpus: false, pull: async () => 0 };
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), "spotjob-container-"));
  });

  it("no image: scripts run as they are", async () => {
    expect(await prepareContainer({ ...common, image: undefined, onCloud: true, stateDir, warn: () => undefined })).toEqual({});
  });

  it("no engine on this machine: a warning, and the job runs on the host", async () => {
    const warnings: string[] = [];
    expect(await prepareContainer({ ...common, engine: null, onCloud: false, stateDir, warn: (w) => warnings.push(w) })).toEqual({});
    expect(warnings).toEqual(["container_image pytorch:latest: no working container engine (docker, podman) on this machine; running on the host instead"]);
  });

  it("no engine on a cloud instance: an error at boot", async () => {
    expect(await prepareContainer({ ...common, engine: null, onCloud: true, stateDir, warn: () => undefined })).toEqual({
      error: "container_image pytorch:latest needs docker or podman on the instance, and neither is working",
    });
  });

  it("pulls once per machine, and a failed pull is an error", async () => {
    const pulls: string[] = [];
    const pull = async (command: string) => (pulls.push(command), 0);
    const first = await prepareContainer({ ...common, engine: "docker", onCloud: true, stateDir, warn: () => undefined, pull });
    await prepareContainer({ ...common, engine: "docker", onCloud: true, stateDir, warn: () => undefined, pull });
    expect(pulls).toEqual(["docker pull pytorch:latest"]);
    expect("wrap" in first && first.wrap!("true")).toMatch(/^exec docker run --rm -i --init/);
    expect(await prepareContainer({ ...common, image: "missing:tag", engine: "podman", onCloud: true, stateDir, warn: () => undefined, pull: async () => 125 })).toEqual({
      error: "could not pull container_image missing:tag with podman (exit 125)",
    });
  });
});

describe("spotjob run with container_image and no working engine", () => {
  it("warns, saying why, and runs the job on the host", () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-container-run-"));
    writeFileSync(join(dir, "job.yaml"), 'provider: local\nname: boxed\ncontainer_image: "python:3.12-slim"\nrun: echo ran on the host\n');
    // A PATH with bash and a docker CLI whose daemon is not running, whatever this machine has.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(execFileSync("bash", ["-c", "command -v bash"], { encoding: "utf8" }).trim(), join(bin, "bash"));
    writeFileSync(join(bin, "docker"), "#!/bin/bash\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n", { mode: 0o755 });
    const run = spawnSync(process.execPath, [bundles().cli, "run", "job.yaml"], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: bin, NO_COLOR: "1" } });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr + run.stdout).toMatch(
      /container_image python:3\.12-slim: no working container engine \(docker, podman\) on this machine \(docker is installed but does not answer \(Cannot connect to the Docker daemon.*\)\); running on the host instead/,
    );
    expect(run.stdout + run.stderr).toMatch(/ran on the host/);
  }, 60_000);
});
