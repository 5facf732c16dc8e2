/**
 * `spotjob status` derives liveness from the heartbeat: a job recorded as
 * running whose runtime was killed with SIGKILL (no chance to write a last
 * status) is LOST with the heartbeat's age and what to do, never RUNNING
 * forever. The table checks the rule; the end-to-end case kills a real runtime.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { formatStatus, statusCommand } from "../../cli/commands/status";
import { HEARTBEAT_STALE_SECONDS, liveState, type JobStatus } from "../../runtime/status";
import { bundles } from "../helpers/shared";
import { spawnRuntime } from "../helpers/runtime-process";
import { until } from "../helpers/wait";

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const NOW = Date.parse("2026-12-02T12:00:00.000Z");
const status = (state: JobStatus["state"], heartbeatSecondsAgo: number): JobStatus => ({
  job: "demo",
  state,
  holder: "host:1:2.abc",
  items: { done: 3, failed: 0, total: 8 },
  attempts: 2,
  started_at: "2026-12-02T10:00:00.000Z",
  heartbeat_at: new Date(NOW - heartbeatSecondsAgo * 1000).toISOString(),
  run_seconds: 4000,
});

describe("liveState", () => {
  it.each([
    ["RUNNING", 5, "RUNNING"],
    ["RUNNING", HEARTBEAT_STALE_SECONDS, "RUNNING"],
    ["RUNNING", HEARTBEAT_STALE_SECONDS + 1, "LOST"],
    ["SETTING_UP", 600, "LOST"],
    // A final or stopped state was written by the runtime itself on its way out: it stands however old.
    ["SUCCEEDED", 86_400, "SUCCEEDED"],
    ["FAILED", 86_400, "FAILED"],
    ["INTERRUPTED", 86_400, "INTERRUPTED"],
  ] as const)("%s with a heartbeat %i s old is %s", (recorded, age, expected) => {
    expect(liveState(status(recorded, age), NOW)).toEqual({ state: expected, heartbeatAgeSeconds: age });
  });

  it("the text says LOST, what it recorded, for how long, and what to do; and the running time in all", () => {
    const text = plain(formatStatus(status("RUNNING", 300), "/tmp/store", NOW));
    expect(text).toMatch(/^job {8}demo: LOST \(recorded RUNNING, but no heartbeat for 5 min: its runtime was killed, crashed or lost its machine; run it again to resume, nothing finished is lost\)$/m);
    expect(text).toMatch(/^attempts {3}2, 67 min running in all$/m);
    expect(plain(formatStatus(status("RUNNING", 10), "/tmp/store", NOW))).toMatch(/^job {8}demo: RUNNING$/m);
  });
});

describe("a runtime killed with SIGKILL", () => {
  const { runtime } = bundles();
  afterEach(() => vi.restoreAllMocks());

  it("leaves RUNNING in the store, which status reports as LOST once the heartbeat is stale (text and --json)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spotjob-lost-"));
    writeFileSync(join(dir, "job.yaml"), ["provider: local", "name: lost", `run: echo $$ > '${join(dir, "job.pid")}'; echo started; sleep 600`, ""].join("\n"));
    const storeDir = join(dir, "store");
    const run = spawnRuntime(runtime, join(dir, "job.yaml"), storeDir, join(dir, "machine"));
    const recorded = () => {
      try {
        return (JSON.parse(readFileSync(join(storeDir, "status.json"), "utf8")) as JobStatus).state;
      } catch {
        return undefined;
      }
    };
    await until("the job to start", () => run.output().includes("started") && recorded() === "RUNNING", 60_000, run.output);
    run.child.kill("SIGKILL");
    await run.done;
    // The orphaned job, in its own process group (a later run would reap it).
    process.kill(-Number(readFileSync(join(dir, "job.pid"), "utf8")), "SIGKILL");
    expect(recorded()).toBe("RUNNING");
    // Seen a little over a minute later: the clock moves, the store does not.
    const later = Date.now() + (HEARTBEAT_STALE_SECONDS + 30) * 1000;
    vi.spyOn(Date, "now").mockReturnValue(later);
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
    expect(await statusCommand(join(dir, "job.yaml"), { store: storeDir })).toBe(0);
    expect(plain(out)).toMatch(/lost: LOST \(recorded RUNNING, but no heartbeat for \d+ s/);
    out = "";
    expect(await statusCommand(join(dir, "job.yaml"), { store: storeDir, json: true })).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ state: "LOST", recorded_state: "RUNNING" });
    expect(JSON.parse(out).heartbeat_age_seconds).toBeGreaterThan(HEARTBEAT_STALE_SECONDS);
  }, 120_000);
});
