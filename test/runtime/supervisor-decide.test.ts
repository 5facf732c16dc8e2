/** The supervisor's decisions, as a table over the clock, the job's status, its groups and the money spent. */
import { describe, expect, it } from "vitest";
import { decide, LAUNCH_FAILURE_CONFIRM_MINUTES, type GroupView, type SupervisorInput, type SupervisorPolicy } from "../../runtime/supervisor/decide";
import type { LaunchAttempt } from "../../runtime/supervisor/launch-failure";
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

  describe("a cancel request", () => {
    const request = { requested_at: new Date(min(10)).toISOString(), by: "ana@laptop" };
    const fresh = (at: number) => ({ heartbeat_at: new Date(at).toISOString() });
    it.each([
      { name: "a live runtime gets the grace to save progress", now: min(11), status: status("RUNNING", fresh(min(11))), stops: false },
      { name: "a live runtime past the grace is scaled away", now: min(15.5), status: status("RUNNING", fresh(min(15.5))), stops: true },
      { name: "a runtime whose heartbeat stopped is not waited for", now: min(11), status: status("RUNNING", fresh(min(5))), stops: true },
      { name: "no runtime yet (the instance still booting): stopped at once", now: min(11), status: undefined, stops: true },
      { name: "an interrupted job (a spot notice) is not relaunched", now: min(11), status: status("INTERRUPTED", fresh(min(11))), stops: true },
    ])("$name", ({ now, status: s, stops }) => {
      const d = decide(input({ now, status: s, spot: spot(1, 1), cancel: request }));
      expect(d.scale).toEqual(stops ? { spot: 0 } : {});
      expect(d.state.stoppedFor).toBe(stops ? "cancelled by ana@laptop at 2026-11-24T12:10:00.000Z" : undefined);
      expect(d.events[0]).toMatch(stops ? /stopping the job: cancelled by ana@laptop/ : /waiting for the runtime to save progress and stop/);
    });
    it("a job the runtime recorded CANCELLED stops billing at once, without the idle minutes", () => {
      const d = decide(input({ now: min(11), status: status("CANCELLED", { stop_reason: "cancelled by ana@laptop at x" }), spot: spot(1, 1), onDemand: od(1, 1) }));
      expect(d.scale).toEqual({ spot: 0, ondemand: 0 });
      expect(d.state.stoppedFor).toBe("the job was cancelled (cancelled by ana@laptop at x)");
    });
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

const QUOTA = "You have requested more vCPU capacity than your current vCPU limit of 0 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit. Launching EC2 instance failed.";
const SPOT_QUOTA = "Max spot instance count exceeded. Launching EC2 instance failed.";
const NO_CAPACITY = "Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.";
const DISK = "Could not launch Spot Instances. InvalidBlockDeviceMapping - Volume of size 50GB is smaller than  snapshot 'snap-0b5c5ea11d58e1fec', expect size >= 100GB. Launching EC2 instance failed.";
const AMI = "The image id '[ami-0c55b159cbfafe1f0]' does not exist. Launching EC2 instance failed.";
const DENIED = "You are not authorized to perform this operation. Encoded authorization failure message: abc. Launching EC2 instance failed.";
/** A failed launch at minute m, in a run of failed launches since minute `since` (default: five minutes earlier). */
const failedAt = (m: number, message: string, since = m - 5): LaunchAttempt => ({ at: min(m), failed: true, activityId: `act-${m}`, message, failingSince: min(since) });
const gSpot = (desired: number, lastLaunch?: LaunchAttempt): GroupView => ({ ...spot(desired, 0), instanceTypes: ["g5.xlarge"], market: "spot", ...(lastLaunch ? { lastLaunch } : {}) });
const gOd = (desired: number, lastLaunch?: LaunchAttempt): GroupView => ({ ...od(desired, 0), instanceTypes: ["g5.xlarge"], market: "on-demand", ...(lastLaunch ? { lastLaunch } : {}) });

describe("supervisor decisions: launch failures are not missing capacity", () => {
  it.each([
    ["a zero spot vCPU quota", SPOT_QUOTA, "quota", /"All G and VT Spot Instance Requests" \(L-3819A6DF\) in us-east-1/],
    ["a root volume smaller than the image's snapshot", DISK, "disk", /set disk_size: 100/],
    ["an AMI that does not exist", AMI, "image", /spotjob:ami/],
    ["a missing permission", DENIED, "permission", /iam:PassRole/],
  ])("%s stops the fallback loop at once, scales every group to zero and records AWS's message and the fix", (_, message, kind, fix) => {
    const d = decide(input({ now: min(2), status: undefined, spot: gSpot(1, failedAt(1, message)), onDemand: gOd(0), region: "us-east-1" }));
    expect(d.scale).toEqual({ spot: 0 });
    expect(d.state.launchFailure).toMatchObject({ kind, message, group: "spot", at: new Date(min(1)).toISOString(), activityId: "act-1" });
    expect(d.state.launchFailure!.fix).toMatch(fix);
    expect(d.state.spotMissingSince).toBeUndefined();
    expect(d.events).toEqual([expect.stringMatching(new RegExp(`^launch failed in spot \\(${kind}, not missing capacity\\).*every group goes to zero, no fallback\\. Fix: `))]);
    // Later runs: no fallback, no repeated event, however long spot stays missing.
    const later = decide(input({ now: min(30), status: undefined, spot: gSpot(0, failedAt(1, message)), onDemand: gOd(0), state: d.state }));
    expect(later.scale).toEqual({});
    expect(later.events).toEqual([]);
    expect(later.state.launchFailure).toEqual(d.state.launchFailure);
  });

  it("missing spot capacity keeps today's behaviour: wait the window, then fall back", () => {
    const first = decide(input({ now: min(1), status: undefined, spot: gSpot(1, failedAt(1, NO_CAPACITY)) }));
    expect(first).toMatchObject({ scale: {}, events: [] });
    expect(first.state.launchFailure).toBeUndefined();
    const due = decide(input({ now: min(11), status: undefined, spot: gSpot(1, failedAt(10, NO_CAPACITY)), state: first.state }));
    expect(due.scale).toEqual({ ondemand: 1, spot: 0 });
  });

  it("the on-demand fallback failing on its quota stops the loop there, naming the on-demand quota", () => {
    const d = decide(input({ now: min(13), status: undefined, spot: gSpot(0, failedAt(5, NO_CAPACITY)), onDemand: gOd(1, failedAt(12, QUOTA)), state: { spentUsd: 0, spotMissingSince: min(1) } }));
    expect(d.scale).toEqual({ ondemand: 0 });
    expect(d.state.launchFailure).toMatchObject({ kind: "quota", group: "ondemand" });
    expect(d.state.launchFailure!.fix).toMatch(/"Running On-Demand G and VT instances" \(L-DB2E81BA\)/);
  });

  it("a failure older than the last launch, or in a group that wants no instance, is not acted on", () => {
    expect(decide(input({ status: undefined, spot: gSpot(1, { at: min(0), failed: false }) })).state.launchFailure).toBeUndefined();
    expect(decide(input({ status: undefined, spot: gSpot(0, failedAt(0, SPOT_QUOTA)) })).state.launchFailure).toBeUndefined();
  });

  it("once fixed and scaled up again by hand, the failure is history; a new failure is recorded again, the old one never", () => {
    const stopped = decide(input({ now: min(2), status: undefined, spot: gSpot(1, failedAt(1, SPOT_QUOTA)), onDemand: gOd(0) }));
    // Quota raised; `aws autoscaling set-desired-capacity ... 1`: the group wants an instance, the old activity is still the newest.
    const retried = decide(input({ now: min(40), status: undefined, spot: gSpot(1, failedAt(1, SPOT_QUOTA)), onDemand: gOd(0), state: stopped.state }));
    expect(retried.scale).toEqual({});
    expect(retried.state.launchFailure).toBeUndefined();
    expect(retried.events).toEqual([expect.stringMatching(/spot scaled up again after the quota failure/)]);
    const same = decide(input({ now: min(41), status: undefined, spot: gSpot(1, failedAt(1, SPOT_QUOTA)), onDemand: gOd(0), state: retried.state }));
    expect(same.scale).toEqual({});
    const again = decide(input({ now: min(42), status: undefined, spot: gSpot(1, failedAt(41, DISK)), onDemand: gOd(0), state: same.state }));
    expect(again.scale).toEqual({ spot: 0 });
    expect(again.state.launchFailure).toMatchObject({ kind: "disk" });
  });

  it(`a failure is confirmed only after launches kept failing for ${LAUNCH_FAILURE_CONFIRM_MINUTES} minutes; meanwhile there is no fallback either`, () => {
    const fallbackNow = { ...policy, fallbackAfterMinutes: 0 };
    const fresh = decide(input({ now: min(1), status: undefined, policy: fallbackNow, spot: gSpot(1, failedAt(1, SPOT_QUOTA, 1)), onDemand: gOd(0) }));
    expect(fresh).toMatchObject({ scale: {}, events: [] });
    expect(fresh.state).toMatchObject({ launchFailureSuspectSince: min(1) });
    expect(fresh.state.launchFailure).toBeUndefined();
    // Auto Scaling retries: a newer failed activity, same streak.
    const still = decide(input({ now: min(3), status: undefined, policy: fallbackNow, spot: gSpot(1, failedAt(3, SPOT_QUOTA, 1)), onDemand: gOd(0), state: fresh.state }));
    expect(still.scale).toEqual({});
    const confirmed = decide(input({ now: min(4), status: undefined, policy: fallbackNow, spot: gSpot(1, failedAt(4, SPOT_QUOTA, 1)), onDemand: gOd(0), state: still.state }));
    expect(confirmed.scale).toEqual({ spot: 0 });
    expect(confirmed.state.launchFailure).toMatchObject({ kind: "quota", at: new Date(min(4)).toISOString() });
    expect(confirmed.state.launchFailureSuspectSince).toBeUndefined();
  });

  it("a quota that refuses one launch for a moment (the preempted instance still counted) is not a stop", () => {
    const refused = decide(input({ now: min(1), status: undefined, spot: gSpot(1, failedAt(1, SPOT_QUOTA, 1)), onDemand: gOd(0) }));
    const launched = decide(input({ now: min(2), status: undefined, spot: { ...gSpot(1, { at: min(2), failed: false }), inService: 1, healthy: 1 }, onDemand: gOd(0), state: refused.state }));
    expect(launched.state.launchFailureSuspectSince).toBeUndefined();
    expect(launched.state.launchFailure).toBeUndefined();
    expect(launched.scale).toEqual({});
  });

  it("the runtime cap and the budget still come first", () => {
    const d = decide(input({ now: min(600), spot: gSpot(1, failedAt(599, SPOT_QUOTA)) }));
    expect(d.state.stoppedFor).toMatch(/max_runtime_minutes/);
    expect(d.state.launchFailure).toBeUndefined();
  });
});
