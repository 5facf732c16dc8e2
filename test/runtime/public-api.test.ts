/**
 * `ResumableSweep` as a TypeScript program uses it: `spotjob/runtime`, from
 * the built package, resuming on a "new machine" from the durable copy alone.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// The program below uses the package as users do; its types resolve too (package.json "exports").
import type { ResumableSweep } from "spotjob/runtime";
import { bundles } from "../helpers/shared";

export type PublicSweepApi = Pick<ResumableSweep<unknown>, "completed" | "pending" | "record" | "close">;

// The package as installed, built once for the run: the program resolves `spotjob/runtime` through its exports.
const { packageDir } = bundles();

const program = `
const { ResumableSweep } = require("spotjob/runtime");
const [dir, machine, crashAfter] = process.argv.slice(1);
(async () => {
  const items = Array.from({ length: 20 }, (_, i) => ({ lr: i / 100, seed: i % 3 }));
  const sweep = await ResumableSweep.open({ items, key: "{lr}-{seed}", checkpointPath: dir + "/" + machine + "/journal.jsonl", resumeFrom: dir + "/durable" });
  let n = 0;
  for (const item of sweep.pending) {
    if (n++ === Number(crashAfter)) process.exit(9); // no close(): as a preemption would
    await sweep.record(item, { loss: item.lr * 2 });
  }
  await sweep.close();
  console.log(JSON.stringify({ ran: n, completed: sweep.completed.length, pending: sweep.pending.length }));
})();
`;

describe("spotjob/runtime", () => {
  it("resumes a sweep on another machine from the durable copy, after an exit without close()", () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-api-"));
    const run = (machine: string, crashAfter: number) => {
      try {
        return execFileSync(process.execPath, ["-e", program, dir, machine, String(crashAfter)], { cwd: packageDir, encoding: "utf8" });
      } catch (e) {
        return `exit ${(e as { status: number }).status}`;
      }
    };
    expect(run("machine-a", 7)).toBe("exit 9");
    rmSync(join(dir, "machine-a"), { recursive: true }); // the first machine is gone
    // Machine b runs only the 13 items machine a had not recorded.
    const resumed: { ran: number; completed: number; pending: number } = JSON.parse(run("machine-b", -1));
    expect(resumed).toEqual({ ran: 13, completed: 20, pending: 0 });
  });
});
