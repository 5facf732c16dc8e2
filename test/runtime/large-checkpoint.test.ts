/**
 * Checkpoints the runtime cannot read: a file the runtime cannot read is an
 * error in the log and the status, never silence. (Checkpoints of any size
 * with bounded memory, a file over 2 GiB and a large checkpoint stopped and
 * restarted on every store, are in large-checkpoint.soak.test.ts.)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SnapshotManifest } from "../../runtime/snapshot/mirror";
import { bundles } from "../helpers/shared";
import { spawnRuntime } from "../helpers/runtime-process";
import { until } from "../helpers/wait";

const { runtime } = bundles();

describe("a file the runtime cannot read", () => {
  // Root reads any file; without CAP_DAC_OVERRIDE (setpriv drops it) it is refused like any user.
  const asRoot = process.getuid?.() === 0;
  const setpriv = spawnSync("bash", ["-c", "command -v setpriv"], { encoding: "utf8" }).stdout.trim();
  const wrap = asRoot ? [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"] : [];
  it.runIf(!asRoot || setpriv !== "")("is an error in the log and in the status naming the file; a named pipe is reported, not skipped in silence", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-unreadable-"));
    writeFileSync(
      join(dir, "job.yaml"),
      ["provider: local", "name: unreadable", "run: |", '  echo "weights" > "$SWEEP_SNAPSHOT_DIR/model.pt"', '  chmod 000 "$SWEEP_SNAPSHOT_DIR/model.pt"', '  mkfifo "$SWEEP_SNAPSHOT_DIR/pipe"', '  echo "{}" > "$SWEEP_SNAPSHOT_DIR/progress.json"', ""].join("\n"),
    );
    const run = spawnRuntime(runtime, join(dir, "job.yaml"), join(dir, "store"), join(dir, "machine"), {}, wrap);
    const { code, output } = await run.done;
    expect(code, output).toBe(1);
    expect(output).toMatch(/snapshot file model\.pt: cannot be read \(EACCES: permission denied.*\); it is not in the store: make it readable/);
    expect(output).toMatch(/snapshot file pipe: is a named pipe: only regular files are mirrored/);
    const status = JSON.parse(readFileSync(join(dir, "store", "status.json"), "utf8")) as { state: string; last_error?: string };
    expect(status.state).toBe("FAILED");
    expect(status.last_error).toMatch(/snapshot file model\.pt could not be saved to .*: cannot be read \(EACCES/);
    // What could be read is in the store.
    const manifest = JSON.parse(readFileSync(join(dir, "store", "snapshot", "manifest.json"), "utf8")) as SnapshotManifest;
    expect(Object.keys(manifest.files)).toEqual(["progress.json"]);
  }, 60_000);

  it.runIf(!asRoot || setpriv !== "")("on a stopped job, is in the status beside its state, which stays INTERRUPTED", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-unreadable-stop-"));
    writeFileSync(
      join(dir, "job.yaml"),
      ["provider: local", "name: unreadable-stop", "run: |", '  echo "weights" > "$SWEEP_SNAPSHOT_DIR/model.pt"', '  chmod 000 "$SWEEP_SNAPSHOT_DIR/model.pt"', "  echo written", "  sleep 600", ""].join("\n"),
    );
    const run = spawnRuntime(runtime, join(dir, "job.yaml"), join(dir, "store"), join(dir, "machine"), {}, wrap);
    await until("the file to be written", () => run.output().includes("written"), 600_000, run.output);
    run.child.kill("SIGTERM");
    const { code, output } = await run.done;
    expect(code, output).toBe(75);
    expect(output).toMatch(/snapshot file model\.pt: cannot be read \(EACCES/);
    const status = JSON.parse(readFileSync(join(dir, "store", "status.json"), "utf8")) as { state: string; last_error?: string };
    expect(status.state).toBe("INTERRUPTED");
    expect(status.last_error).toMatch(/could not save the snapshot directory: snapshot file model\.pt could not be saved to .*: cannot be read \(EACCES/);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
