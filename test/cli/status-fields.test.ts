/** What `spotjob status` shows besides the state: the instance, time per market, and cost so far against the budget. */
import { describe, expect, it } from "vitest";
import { costOf, formatStatus } from "../../cli/commands/status";
import type { JobStatus } from "../../runtime/status";
import { StatusWriter } from "../../runtime/status";
import { MemoryStore } from "../helpers/memory-store";

const now = Date.parse("2026-12-02T12:00:00Z");
const base: JobStatus = { job: "j", state: "RUNNING", holder: "h", items: { done: 1, failed: 0, total: 4 }, attempts: 2, started_at: "2026-12-02T10:00:00.000Z", heartbeat_at: "2026-12-02T11:59:50.000Z", run_seconds: 5400 };

describe("status fields", () => {
  it.each([
    { name: "on this machine nothing is billed", status: { ...base, instance: { type: "laptop", market: "local" as const } }, spent: undefined, budget: 20, cost: { spent_usd: 0, budget_usd: 20, left_usd: 20, source: "this machine" } },
    { name: "a cloud job's spend is the supervisor's", status: { ...base, instance: { type: "g5.xlarge", market: "spot" as const } }, spent: 3.456, budget: 20, cost: { spent_usd: 3.46, budget_usd: 20, left_usd: 16.54, source: "supervisor" } },
    { name: "a cloud job before the supervisor's first run has spent nothing yet", status: { ...base, instance: { type: "g5.xlarge", market: "on-demand" as const } }, spent: undefined, budget: 20, cost: { spent_usd: 0, budget_usd: 20, left_usd: 20, source: "supervisor" } },
    { name: "spend past the budget leaves nothing, never a negative", status: { ...base, instance: { type: "g5.xlarge", market: "spot" as const } }, spent: 25, budget: 20, cost: { spent_usd: 25, budget_usd: 20, left_usd: 0, source: "supervisor" } },
    { name: "a status from before instances were recorded, with no supervisor: this machine", status: base, spent: undefined, budget: 5, cost: { spent_usd: 0, budget_usd: 5, left_usd: 5, source: "this machine" } },
  ])("$name", ({ status, spent, budget, cost }) => {
    expect(costOf(status, spent, budget)).toEqual(cost);
  });

  it("shows the instance, the time on each market and the cost in words", () => {
    const s: JobStatus = { ...base, instance: { type: "g5.xlarge", market: "spot", id: "i-0abc", region: "us-east-1" }, market_seconds: { spot: 4000, "on-demand": 1400 } };
    const text = formatStatus(s, "s3://b/jobs/j", now, undefined, costOf(s, 3.2, 20));
    expect(text).toContain("instance   g5.xlarge, spot (i-0abc, us-east-1)\n");
    expect(text).toContain("time       67 min on spot, 23 min on on-demand\n");
    expect(text).toContain("cost       $3.20 so far (the supervisor's count); budget $20.00, $16.80 left\n");
    const local: JobStatus = { ...base, instance: { type: "laptop", market: "local" }, market_seconds: { local: 90 } };
    const here = formatStatus(local, "/x", now, undefined, costOf(local, undefined, 20));
    expect(here).toContain("instance   this machine (laptop)\n");
    expect(here).toContain("time       90 s on this machine\n");
    expect(here).toContain("cost       $0.00 (runs on this machine: nothing billed); budget $20.00, $20.00 left\n");
  });

  it("the status writer adds this attempt's time to its market, keeping earlier attempts' on other markets", async () => {
    const store = new MemoryStore();
    const writer = new StatusWriter(store, { ...base, instance: { type: "m5.large", market: "on-demand" }, market_seconds: { spot: 100 }, run_seconds: 100 });
    await writer.update({});
    const written = JSON.parse((await store.get("status.json"))!.body.toString()) as JobStatus;
    expect(written.market_seconds).toEqual({ spot: 100, "on-demand": 0 });
    expect(written.instance).toEqual({ type: "m5.large", market: "on-demand" });
  });
});
