/** Cost guards: limits against the chosen and fallback prices, with equality passing, and the runtime cap the budget implies. */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../core/catalog";
import { evaluateGuards, formatUsd, guardDiagnostics, type GuardReport } from "../../core/guards";
import { selectOffers } from "../../core/offers";
import { loadSpecFile, parseSpec, type LoadedSpec } from "../../core/jobspec/load";

function spec(yaml: string): LoadedSpec {
  const r = parseSpec(yaml, "x.yaml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.loaded;
}

function guards(loaded: LoadedSpec): GuardReport {
  const p = loaded.spec.provider;
  const s = selectOffers(loaded, p === "aws" || p === "gcp" ? loadCatalog(p) : undefined);
  if (!s.ok) throw new Error(JSON.stringify(s.errors));
  return evaluateGuards(loaded.spec, s);
}

/** GCP H100: spot $5.00/h, fallback on-demand $11.00/h; AWS H100: $6.90/h both (spot bounded by on-demand). */
const GCP_H100 = "provider: gcp\ngpu_type: H100\nrun: x\n";
const AWS_H100 = "provider: aws\ngpu_type: H100\nrun: x\n";
const FALLBACK = "use_spot: true\n";

describe("max_cost_per_hour", () => {
  // [name, spec, cost block, violated guards as "guard/target"]
  it.each<[string, string, string, string[]]>([
    ["both within", GCP_H100, "max_cost_per_hour: 25, max_total_budget: 100, spot_fallback: true", []],
    ["equal to the fallback price passes", GCP_H100, "max_cost_per_hour: 11, max_total_budget: 100, spot_fallback: true", []],
    ["a cent under the fallback price", GCP_H100, "max_cost_per_hour: 10.99, max_total_budget: 100, spot_fallback: true", ["max_cost_per_hour/fallback"]],
    ["equal to the spot price passes without fallback", GCP_H100, "max_cost_per_hour: 5, max_total_budget: 100", []],
    ["under the spot price", GCP_H100, "max_cost_per_hour: 4.99, max_total_budget: 100", ["max_cost_per_hour/chosen"]],
    ["under both", GCP_H100, "max_cost_per_hour: 2, max_total_budget: 100, spot_fallback: true", ["max_cost_per_hour/chosen", "max_cost_per_hour/fallback"]],
    ["estimated spot price counts at its bound", AWS_H100, "max_cost_per_hour: 6.89", ["max_cost_per_hour/chosen"]],
    ["estimated spot price equal to the limit", AWS_H100, "max_cost_per_hour: 6.9", []],
    ["zero limit", AWS_H100, "max_cost_per_hour: 0", ["max_cost_per_hour/chosen"]],
  ])("%s", (_name, base, cost, violated) => {
    const report = guards(spec(`${base}${FALLBACK}cost: {${cost}}\n`));
    expect(report.violated.map((g) => `${g.guard}/${g.target}`)).toEqual(violated);
  });

  it("says which offer, market and price broke the limit", () => {
    const report = guards(spec(`${AWS_H100}cost: {max_cost_per_hour: 5, spot_fallback: true}\n`));
    const fallback = report.violated.find((g) => g.target === "fallback")!;
    expect(fallback).toMatchObject({ limit: 5, actual: 6.9, ok: false, path: ["cost", "max_cost_per_hour"] });
    expect(fallback.message).toBe("max_cost_per_hour: fallback p5.4xlarge on-demand $6.90/h exceeds the limit $5.00/h");
    expect(fallback.hint).toContain("spot_fallback: false");
  });

  it("becomes a diagnostic at the limit's line", () => {
    const loaded = spec(`${GCP_H100}cost:\n  max_cost_per_hour: 4\n`);
    const [d] = guardDiagnostics(loaded, guards(loaded));
    expect(d).toMatchObject({ code: "guard_max_cost_per_hour", path: "cost.max_cost_per_hour", line: 5, severity: "error" });
    // The location names the field: the message does not repeat it.
    expect(d.message).toBe("spot a3-highgpu-1g $5.00/h exceeds the limit $4.00/h");
  });

  it("a limit the spec does not set is said to be the default", () => {
    const loaded = spec(GCP_H100);
    const [d] = guardDiagnostics(loaded, guards(loaded));
    expect(d.message).toBe("spot a3-highgpu-1g $5.00/h exceeds the limit $2.00/h (the default: cost.max_cost_per_hour is not set in this spec)");
  });
});

describe("max_total_budget and the runtime cap", () => {
  // [name, spec extra, violated, cap minutes, cap source]
  it.each<[string, string, string[], number | null, "spec" | "budget" | null]>([
    ["budget caps the runtime at the fallback price", "cost: {max_cost_per_hour: 25, max_total_budget: 110, spot_fallback: true}\n", [], 600, "budget"],
    ["without fallback, at the spot price", "cost: {max_cost_per_hour: 25, max_total_budget: 110}\n", [], 1320, "budget"],
    ["the cap rounds down to whole minutes", "cost: {max_cost_per_hour: 25, max_total_budget: 100, spot_fallback: true}\n", [], 545, "budget"],
    ["runtime exactly affordable at the fallback price", "max_runtime_minutes: 600\ncost: {max_cost_per_hour: 25, max_total_budget: 110, spot_fallback: true}\n", [], 600, "spec"],
    ["runtime a cent too dear at the fallback price", "max_runtime_minutes: 600\ncost: {max_cost_per_hour: 25, max_total_budget: 109.99, spot_fallback: true}\n", ["max_runtime_minutes/fallback"], 600, "spec"],
    ["the same runtime fits at the spot price", "max_runtime_minutes: 600\ncost: {max_cost_per_hour: 25, max_total_budget: 50}\n", [], 600, "spec"],
    ["runtime too long at the spot price", "max_runtime_minutes: 601\ncost: {max_cost_per_hour: 25, max_total_budget: 50}\n", ["max_runtime_minutes/chosen"], 601, "spec"],
    ["a zero budget buys nothing", "cost: {max_cost_per_hour: 25, max_total_budget: 0, spot_fallback: true}\n", ["max_total_budget/chosen", "max_total_budget/fallback"], 0, "budget"],
  ])("%s", (_name, extra, violated, cap, source) => {
    const report = guards(spec(`${GCP_H100}${extra}`));
    expect(report.violated.map((g) => `${g.guard}/${g.target}`)).toEqual(violated);
    expect(report.runtimeCapMinutes).toBe(cap);
    expect(report.runtimeCapSource).toBe(source);
  });

  it("shows the hours the budget buys at the chosen and fallback prices", () => {
    const report = guards(spec(`${GCP_H100}cost: {max_cost_per_hour: 25, max_total_budget: 110, spot_fallback: true}\n`));
    expect(report.budget).toEqual({ total: 110, hoursAtChosen: 22, hoursAtFallback: 10, highestPricePerHour: 11 });
    expect(report.guards.filter((g) => g.guard === "max_total_budget").map((g) => g.message)).toEqual([
      "max_total_budget: $110.00 buys 22.0 h of spot a3-highgpu-1g at $5.00/h",
      "max_total_budget: $110.00 buys 10.0 h of fallback a3-highgpu-1g on-demand at $11.00/h",
    ]);
  });

  it("explains a runtime the budget cannot pay for, with both ways out", () => {
    const report = guards(spec(`${GCP_H100}max_runtime_minutes: 600\ncost: {max_cost_per_hour: 25, max_total_budget: 100, spot_fallback: true}\n`));
    const [g] = report.violated;
    expect(g).toMatchObject({ guard: "max_runtime_minutes", target: "fallback", limit: 545, actual: 600, path: ["max_runtime_minutes"] });
    expect(g.message).toContain("can cost $110.00, more than max_total_budget $100.00");
    expect(g.hint).toBe("lower max_runtime_minutes to 545, or raise cost.max_total_budget to 110");
  });

  it("reference confinement_h100_gcp: within limits, capped by the budget at the fallback price", () => {
    const r = loadSpecFile(resolve(__dirname, "../../../shared/reference/jobs/confinement_h100_gcp.yaml"));
    if (!r.ok) throw new Error("expected ok");
    const report = guards(r.loaded);
    expect(report.violated).toEqual([]);
    expect(report.guards.map((g) => `${g.guard}/${g.target}`)).toEqual(["max_cost_per_hour/chosen", "max_cost_per_hour/fallback", "max_total_budget/chosen", "max_total_budget/fallback"]);
    expect(report.runtimeCapMinutes).toBe(654); // $120 at $11/h = 10.9 h
  });
});

describe("local runs", () => {
  it.each<[string, string, number | null, "spec" | null]>([
    ["no cap without max_runtime_minutes", "provider: local\nrun: x\ncost: {max_cost_per_hour: 0, max_total_budget: 0}\n", null, null],
    ["the spec's cap", "provider: local\nrun: x\nmax_runtime_minutes: 90\n", 90, "spec"],
  ])("%s; every guard passes at $0", (_name, yaml, cap, source) => {
    const report = guards(spec(yaml));
    expect(report.violated).toEqual([]);
    expect(report.guards.every((g) => g.ok)).toBe(true);
    expect(report.guards.find((g) => g.guard === "max_cost_per_hour")?.actual).toBe(0);
    expect(report.runtimeCapMinutes).toBe(cap);
    expect(report.runtimeCapSource).toBe(source);
    expect(report.budget.highestPricePerHour).toBe(0);
  });
});

it("formatUsd is re-exported for plan output", () => {
  expect(formatUsd(110)).toBe("$110.00");
});
