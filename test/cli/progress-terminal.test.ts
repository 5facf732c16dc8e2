/**
 * The progress bar as a person sees it, in a real pseudo-terminal: Ctrl-C
 * typed into the terminal leaves no bar half a line long under the prompt,
 * and the failed count never goes down while retries succeed.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInPty } from "../helpers/pty";
import { bundles } from "../helpers/shared";

const cli = bundles().cli;

function job(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "spotjob-pty-"));
  writeFileSync(join(dir, "job.yaml"), ["provider: local", "name: bar", ...lines, ""].join("\n"));
  return dir;
}

const env = { ...process.env, TERM: "xterm", NO_COLOR: "1", FORCE_COLOR: "0" };
/** What the terminal shows, line by line: a carriage return or an erase-line starts the line again. */
const screen = (output: string) =>
  output
    .split(/\r?\n/)
    .map((line) => line.split(/\r|\u001b\[2K/).at(-1) ?? "");

describe("the progress bar in a terminal", () => {
  it("Ctrl-C ends the bar's line: every message after it starts on a line of its own, and the prompt comes back on a clean line", () => {
    const dir = job([
      "sweep:",
      "  grid: {n: [0, 1, 2, 3, 4, 5]}",
      '  key: "n{n}"',
      "  command: |",
      "    if [ {n} -ge 2 ]; then sleep 600; fi",
      '    echo "{}" > "$SWEEP_RESULT"',
      "  parallel: 2",
    ]);
    const run = runInPty([process.execPath, cli, "run", "job.yaml"], { cwd: dir, env, steps: [{ until: "2/6 items", send: "\u0003" }], timeoutMs: 60_000 });
    expect(run.pending, run.output).toEqual([]);
    expect(run.exit, run.output).toBe(75);
    const lines = screen(run.output);
    // The output ends with a line break: nothing of the bar is left where the shell prints its prompt.
    expect(run.output.endsWith("\n"), JSON.stringify(run.output.slice(-200))).toBe(true);
    expect(lines.at(-1)).toBe("");
    const stopped = lines.find((l) => /INTERRUPTED/.test(l));
    expect(stopped, run.output).toMatch(/^spotjob: INTERRUPTED: stopped with 2\/6 items done/);
    // No line shows a bar with a message glued after it.
    expect(lines.filter((l) => /\] \d+\/6 items.*spotjob:/.test(l))).toEqual([]);
  }, 90_000);

  it("the failed count only grows: a retry that succeeds is counted as retried, not subtracted from failed", () => {
    const dir = job([
      "sweep:",
      "  grid: {n: [0, 1, 2, 3]}",
      '  key: "n{n}"',
      "  command: |",
      // n1 fails its first attempt and succeeds its second; n3 fails both.
      '    if [ {n} = 1 ] && [ ! -e n1-tried ]; then touch n1-tried; exit 3; fi',
      "    if [ {n} = 3 ]; then exit 4; fi",
      '    echo "{}" > "$SWEEP_RESULT"',
      "  parallel: 1",
      "  max_attempts: 2",
    ]);
    const run = runInPty([process.execPath, cli, "run", "job.yaml"], { cwd: dir, env, steps: [], timeoutMs: 60_000 });
    expect(run.exit, run.output).toBe(1);
    const failedCounts = [...run.output.matchAll(/\d+\/4 items(?:, (\d+) failed)?/g)].map((m) => Number(m[1] ?? 0));
    expect(failedCounts.length).toBeGreaterThan(3);
    for (let i = 1; i < failedCounts.length; i++) expect(failedCounts[i], `counts shown: ${failedCounts.join(" ")}`).toBeGreaterThanOrEqual(failedCounts[i - 1]);
    expect(failedCounts.at(-1)).toBe(1);
    expect(run.output).toMatch(/3\/4 items, 1 failed, 2 retried/);
    expect(run.output).toMatch(/1 of 4 items failed after 2 attempt\(s\): n3/);
  }, 90_000);
});
