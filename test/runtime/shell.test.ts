/**
 * A job's script killed by a stop signal that we did not send. Node starts a
 * script in a group of its own by fork, then setsid in the child, so a Ctrl-C
 * typed in between reaches the script as well as the runtime: the script dies
 * first, and the runtime's own stop reaches `signal` only after the snapshot
 * copy. Such a death counts as stopped when our stop is decided within the
 * grace, and as the script's own otherwise. (End to end, through the runtime
 * and the CLI: test/cli/signals.test.ts.)
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startShell, type ShellTask } from "../../runtime/exec/shell";

const HOUR = 3_600_000;

function start(script: string, extra: Partial<ShellTask>) {
  return startShell({ script, cwd: mkdtempSync(join(tmpdir(), "spotjob-shell-")), env: process.env, ...extra });
}

describe("a script killed by a stop signal we did not send", () => {
  it.each(["INT", "TERM", "HUP", "QUIT"])("SIG%s, our stop decided after it died: the result comes once the stop has reached the script's signal", async (name) => {
    const [stopping, gate] = [new AbortController(), new AbortController()];
    // bash ignores SIGQUIT sent to itself: the script hands its place to sh, which does not (no core file either).
    const proc = start(`ulimit -c 0; exec sh -c 'kill -${name} $$'`, { signal: gate.signal, stopping: stopping.signal, strayStopGraceMs: HOUR });
    // The runtime decides its stop as the script dies, and passes it on later (after the snapshot copy).
    proc.child.once("exit", () => stopping.abort());
    proc.child.once("close", () => setImmediate(() => gate.abort()));
    const seen = await proc.done.then((result) => ({ signal: result.signal, stopReachedScripts: gate.signal.aborted }));
    expect(seen).toEqual({ signal: `SIG${name}`, stopReachedScripts: true });
  });

  it("no stop of ours within the grace: the script's own death, reported as it was", async () => {
    const gate = new AbortController();
    const result = await start("kill -INT $$", { signal: gate.signal, stopping: new AbortController().signal, strayStopGraceMs: 50 }).done;
    expect({ code: result.code, signal: result.signal, stopped: gate.signal.aborted }).toEqual({ code: null, signal: "SIGINT", stopped: false });
  });

  it("without `stopping`, the stop that reaches the script is the one it waits for", async () => {
    const gate = new AbortController();
    const proc = start("kill -INT $$", { signal: gate.signal, strayStopGraceMs: HOUR });
    proc.child.once("close", () => setImmediate(() => gate.abort()));
    const seen = await proc.done.then((result) => ({ signal: result.signal, stopped: gate.signal.aborted }));
    expect(seen).toEqual({ signal: "SIGINT", stopped: true });
  });

  // With an hour's grace, a result that waited would time the test out.
  it.each([
    ["its own exit status", "exit 3", { code: 3, signal: null }],
    ["SIGKILL (the OOM killer's, never a terminal's)", "kill -KILL $$", { code: null, signal: "SIGKILL" }],
  ])("a death by %s is reported at once", async (_, script, expected) => {
    const result = await start(script, { signal: new AbortController().signal, stopping: new AbortController().signal, strayStopGraceMs: HOUR }).done;
    expect({ code: result.code, signal: result.signal }).toEqual(expected);
  });

  it("a script run without a stop signal is reported at once", async () => {
    const result = await start("kill -INT $$", { strayStopGraceMs: HOUR }).done;
    expect(result.signal).toBe("SIGINT");
  });
});
