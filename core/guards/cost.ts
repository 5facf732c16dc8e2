/**
 * Cost guards: the spec's money limits checked against the selected offers
 * before anything is launched, and the runtime cap the budget implies.
 */
import { formatUsd } from "../catalog/format";
import type { Offer } from "../offers/offer";
import type { Selection } from "../offers/select";
import type { Diagnostic, PathPart } from "../jobspec/diagnostics";
import type { LoadedSpec, ResolvedSpec } from "../jobspec/load";

export type GuardName = "max_cost_per_hour" | "max_total_budget" | "max_runtime_minutes";
export type GuardTarget = "chosen" | "fallback";

/**
 * One check. `limit` and `actual` per guard:
 * - `max_cost_per_hour`: the limit and the target's hourly price (USD/h);
 *   violated when the price is greater (equal passes).
 * - `max_total_budget`: the budget (USD) and the hours it buys at the
 *   target's price; informational, violated only when it buys less than a minute.
 * - `max_runtime_minutes` (only when the spec sets it; target = the dearer of
 *   chosen and fallback): the minutes the budget buys at that price and the
 *   spec's `max_runtime_minutes`; violated when running that long could cost
 *   more than the budget.
 */
export interface Guard {
  guard: GuardName;
  target: GuardTarget;
  limit: number;
  actual: number;
  ok: boolean;
  message: string;
  /** How to fix a violation. */
  hint?: string;
  /** The spec field the limit comes from. */
  path: PathPart[];
}

export interface BudgetView {
  /** `cost.max_total_budget`, USD. */
  total: number;
  /** Hours the budget buys at the chosen offer's price; null when it is free (local). */
  hoursAtChosen: number | null;
  /** Hours it buys at the fallback's on-demand price; null without a fallback. */
  hoursAtFallback: number | null;
  /** The highest price the job can run at (USD/h): max(chosen, fallback); 0 for local. */
  highestPricePerHour: number;
}

export interface GuardReport {
  guards: Guard[];
  violated: Guard[];
  budget: BudgetView;
  /** Hard cap on the job's wall time; null when nothing caps it (local without `max_runtime_minutes`). */
  runtimeCapMinutes: number | null;
  /** Where the cap comes from: the spec's `max_runtime_minutes`, or the hours the budget buys at the highest price. */
  runtimeCapSource: "spec" | "budget" | null;
}

/** Prices are decimals in dollars: compare to the cent's billionth, not to the last bit. */
const EPSILON = 1e-9;

/** Checks the spec's cost limits against a selection. Pure. */
export function evaluateGuards(spec: ResolvedSpec, selection: Selection): GuardReport {
  const { max_cost_per_hour: maxPerHour, max_total_budget: budget } = spec.cost;
  const runtime = spec.max_runtime_minutes;

  if (selection.local) {
    const guards: Guard[] = [
      { guard: "max_cost_per_hour", target: "chosen", limit: maxPerHour, actual: 0, ok: true, message: `max_cost_per_hour: a local run costs ${formatUsd(0)}/h`, path: ["cost", "max_cost_per_hour"] },
    ];
    if (runtime !== undefined) {
      guards.push({ guard: "max_runtime_minutes", target: "chosen", limit: runtime, actual: runtime, ok: true, message: `max_runtime_minutes: ${runtime} min, at no cost`, path: ["max_runtime_minutes"] });
    }
    return {
      guards,
      violated: [],
      budget: { total: budget, hoursAtChosen: null, hoursAtFallback: null, highestPricePerHour: 0 },
      runtimeCapMinutes: runtime ?? null,
      runtimeCapSource: runtime !== undefined ? "spec" : null,
    };
  }

  const targets: Target[] = [{ target: "chosen", offer: selection.chosen, price: selection.pricePerHour, market: selection.market }];
  if (selection.fallback) targets.push({ target: "fallback", offer: selection.fallback, price: selection.fallback.onDemandPerHour, market: "on-demand" });
  const dearest = targets.reduce((a, b) => (b.price > a.price ? b : a));

  const guards: Guard[] = [];
  for (const t of targets) {
    const ok = t.price <= maxPerHour + EPSILON;
    guards.push({
      guard: "max_cost_per_hour",
      target: t.target,
      limit: maxPerHour,
      actual: t.price,
      ok,
      message: ok
        ? `max_cost_per_hour: ${describe(t)} ${formatUsd(t.price)}/h is within the limit ${formatUsd(maxPerHour)}/h`
        : `max_cost_per_hour: ${describe(t)} ${formatUsd(t.price)}/h exceeds the limit ${formatUsd(maxPerHour)}/h`,
      hint: ok ? undefined : costHint(t, spec),
      path: ["cost", "max_cost_per_hour"],
    });
  }
  for (const t of targets) {
    const hours = budget / t.price;
    const ok = hours * 60 >= 1 - EPSILON;
    guards.push({
      guard: "max_total_budget",
      target: t.target,
      limit: budget,
      actual: hours,
      ok,
      message: ok
        ? `max_total_budget: ${formatUsd(budget)} buys ${formatHours(hours)} of ${describe(t)} at ${formatUsd(t.price)}/h`
        : `max_total_budget: ${formatUsd(budget)} buys less than a minute of ${describe(t)} at ${formatUsd(t.price)}/h`,
      hint: ok ? undefined : `raise cost.max_total_budget`,
      path: ["cost", "max_total_budget"],
    });
  }

  // Whole minutes, rounded down, so that the cap never spends more than the budget.
  const budgetMinutes = Math.floor((budget / dearest.price) * 60 + EPSILON);
  if (runtime !== undefined) {
    const worst = (runtime / 60) * dearest.price;
    const ok = worst <= budget + EPSILON;
    guards.push({
      guard: "max_runtime_minutes",
      target: dearest.target,
      limit: budgetMinutes,
      actual: runtime,
      ok,
      message: ok
        ? `max_runtime_minutes: ${runtime} min at up to ${formatUsd(dearest.price)}/h (${describe(dearest)}) costs at most ${formatUsd(worst)}, within max_total_budget ${formatUsd(budget)}`
        : `max_runtime_minutes: ${runtime} min at up to ${formatUsd(dearest.price)}/h (${describe(dearest)}) can cost ${formatUsd(worst)}, more than max_total_budget ${formatUsd(budget)}, which buys ${budgetMinutes} min`,
      hint: ok ? undefined : `lower max_runtime_minutes to ${budgetMinutes}, or raise cost.max_total_budget to ${Math.ceil(worst * 100) / 100}`,
      path: ["max_runtime_minutes"],
    });
  }

  return {
    guards,
    violated: guards.filter((g) => !g.ok),
    budget: {
      total: budget,
      hoursAtChosen: budget / selection.pricePerHour,
      hoursAtFallback: selection.fallback ? budget / selection.fallback.onDemandPerHour : null,
      highestPricePerHour: dearest.price,
    },
    runtimeCapMinutes: runtime ?? budgetMinutes,
    runtimeCapSource: runtime !== undefined ? "spec" : "budget",
  };
}

/** Violated guards as diagnostics located at the spec field of each limit. */
/**
 * Violated guards as located errors. The location names the field, so the
 * message does not again; a limit the spec does not set is said to be the
 * default, so nobody hunts for a number that is not in their file.
 */
export function guardDiagnostics(loaded: Pick<LoadedSpec, "diagnose" | "source">, report: GuardReport): Diagnostic[] {
  return report.violated.map((g) => {
    const message = g.message.replace(new RegExp(`^${g.guard}: `), "");
    const defaulted = !loaded.source.doc.hasIn(g.path);
    return loaded.diagnose(g.path, `guard_${g.guard}`, defaulted ? `${message} (the default: ${g.path.join(".")} is not set in this spec)` : message, g.hint);
  });
}

interface Target {
  target: GuardTarget;
  offer: Offer;
  price: number;
  market: "spot" | "on-demand";
}

/** `spot p5.4xlarge (at most: no typical spot price)`, `fallback a3-highgpu-1g on-demand`. */
function describe(t: Target): string {
  const estimated = t.market === "spot" && t.offer.spotEstimated ? " (spot price bounded by on-demand)" : "";
  return t.target === "fallback" ? `fallback ${t.offer.instanceType} on-demand` : `${t.market} ${t.offer.instanceType}${estimated}`;
}

function costHint(t: Target, spec: ResolvedSpec): string {
  const raise = `raise cost.max_cost_per_hour to ${t.price}`;
  if (t.target === "fallback") return `${raise}, or set cost.spot_fallback: false`;
  return spec.use_spot ? `${raise}, or choose a cheaper gpu_type` : `${raise}, set use_spot: true, or choose a cheaper gpu_type`;
}

/** `17.3 h`, `45 min`: rounded down, so a budget never looks larger than it is. */
export function formatHours(hours: number): string {
  return hours >= 1 ? `${(Math.floor(hours * 10) / 10).toFixed(1)} h` : `${Math.floor(hours * 60)} min`;
}
