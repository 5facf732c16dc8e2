/** The supervisor's decisions, as a table over the clock, the job's status, its groups and the money spent. */
import { describe, expect, it } from "vitest";
import { decide, type GroupView, type SupervisorInput, type SupervisorPolicy } from "../../runtime/supervisor/decide";
import type { JobStatus } from "../../runtime/status";

const T0 = Date.parse("2026-11-24T12:00:00Z");
const min = (m: number) => T0 + m * 60_000;
const policy: SupervisorPolicy = { maxRuntimeMinutes: 600, budgetUsd: 100, spotFallback: true, fallbackAfterMinutes: 10, autostopMinutes: 15 };
const status = (state: JobStatus["state"], extra: Partial<JobStatus> = {}): JobStatus => ({
  job: "j",
  state,
  holder: "h",
  items: { done: 0, failed: 0, total: 0 },
  attempts: 1,
  started_at: new Date(T0).toISOString(),
  heartbeat_at: new Date(T0).toISOString(),
  ...extra,
});
const spot = (desired: number, inService: number, healthy = inService): GroupView => ({ name: "spot", desired, inService, healthy, pricePerHour: 2 });
const od = (desired: number, inService: number): GroupView => ({ name: "ondemand", desired, inService, healthy: inService, pricePerHour: 6 });
const input = (over: Partial<SupervisorInput>): SupervisorInput => ({ now: min(1), status: status("RUNNING"), spot: spot(1, 1), onDemand: od(0, 0), policy, state: { spentUsd: 0 }, ...over });

describe("supervisor decisions", () => {
  it("leaves a healthy spot job alone", () => {
    expect(decide(input({}))).toMatchObject({ scale: {}, events: [] });
  });

  it("starts the on-demand fallback only after spot has been missing for the whole window", () => {
    const first = decide(input({ now: min(1), spot: spot(1, 0) }));
    expect(first.scale).toEqual({});
    expect(first.state.spotMissingSince).toBe(min(1));
    const early = decide(input({ now: min(10), spot: spot(1, 0), state: first.state }));
    expect(early.scale).toEqual({});
    const due = decide(input({ now: min(11), spot: spot(1, 0), state: early.state }));
    expect(due.scale).toEqual({ ondemand: 1, spot: 0 });
    expect(due.events).toEqual(["no healthy spot instance for 10 minute(s): starting the on-demand fallback, scaling spot to zero"]);
  });

  it("an unhealthy spot instance counts as missing capacity but is charged while it bills", () => {
    const first = decide(input({ now: min(1), spot: spot(1, 1, 0) }));
    expect(first.state.spotMissingSince).toBe(min(1));
    const due = decide(input({ now: min(11), spot: spot(1, 1, 0), state: first.state }));
    expect(due.scale).toEqual({ ondemand: 1, spot: 0 });
    expect(due.state.spentUsd).toBeCloseTo((10 / 60) * 2, 6);
  });

  it("a spot instance that comes back resets the window", () => {
    const missing = decide(input({ now: min(1), spot: spot(1, 0) }));
    const back = decide(input({ now: min(5), spot: spot(1, 1), state: missing.state }));
    expect(back.state.spotMissingSince).toBeUndefined();
    const missingAgain = decide(input({ now: min(12), spot: spot(1, 0), state: back.state }));
    expect(missingAgain.scale).toEqual({});
  });

  it("never leaves two instances billing for one job", () => {
    const both = decide(input({ spot: spot(1, 1), onDemand: od(1, 1) }));
    expect(both.scale).toEqual({ spot: 0 });
  });

  it("no fallback when the spec does not ask for one", () => {
    const d = decide(input({ now: min(60), spot: spot(1, 0), policy: { ...policy, spotFallback: false }, state: { spentUsd: 0, spotMissingSince: min(0) } }));
    expect(d.scale).toEqual({});
  });

  it.each([
    ["max runtime reached, even with a stale heartbeat", input({ now: min(600), status: status("RUNNING") }), /max_runtime_minutes \(600\) reached/],
    ["budget spent", input({ state: { spentUsd: 100 } }), /max_total_budget \(\$100\.00\) spent \(\$100\.00\)/],
    [
      "the job succeeded and the idle minutes passed",
      input({ now: min(40), status: status("SUCCEEDED", { finished_at: new Date(min(25)).toISOString() }) }),
      /the job succeeded and 15 idle minute\(s\) passed/,
    ],
    ["the job failed and the idle minutes passed", input({ now: min(40), status: status("FAILED", { finished_at: new Date(min(20)).toISOString() }) }), /the job failed/],
  ])("stops everything when %s", (_, given, reason) => {
    const d = decide({ ...given, onDemand: od(1, 1) });
    expect(d.scale).toEqual({ spot: 0, ondemand: 0 });
    expect(d.events).toHaveLength(1);
    expect(d.events[0]).toMatch(reason);
    expect(d.state.stoppedFor).toBeDefined();
  });

  it("waits out the idle minutes after the job ends", () => {
    const d = decide(input({ now: min(30), status: status("SUCCEEDED", { finished_at: new Date(min(20)).toISOString() }) }));
    expect(d.scale).toEqual({});
  });

  it("once stopped, nothing scales up again and the event is not repeated", () => {
    const stopped = decide(input({ now: min(600) }));
    const later = decide(input({ now: min(601), spot: spot(1, 0), onDemand: od(0, 0), state: stopped.state }));
    expect(later.scale).toEqual({ spot: 0 });
    expect(later.events).toEqual([]);
  });

  it("charges instance time since the last run at each group's price", () => {
    const d = decide(input({ now: min(30), spot: spot(1, 1), onDemand: od(1, 1), state: { spentUsd: 1, lastRunAt: min(0) } }));
    // 30 minutes of one spot ($2/h) and one on-demand ($6/h) instance.
    expect(d.state.spentUsd).toBeCloseTo(1 + 1 + 3, 6);
    expect(d.state.lastRunAt).toBe(min(30));
  });

  it("the budget stops the job as soon as the charge crosses it", () => {
    const d = decide(input({ now: min(60), spot: spot(1, 1), onDemand: od(0, 0), state: { spentUsd: 98.5, lastRunAt: min(0) } }));
    expect(d.scale).toEqual({ spot: 0 });
    expect(d.events[0]).toMatch(/max_total_budget/);
  });
});
