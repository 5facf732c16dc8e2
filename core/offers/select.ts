/**
 * Offer selection: which instance type, in which region and market, a spec
 * runs on, and what it falls back to. Pure: the catalog is passed in, and
 * every refusal is a diagnostic located at the spec field to change.
 */
import type { Catalog } from "../catalog/catalog";
import { orList } from "../catalog/format";
import { formatGpuRequest, formFactorLabel, gpuMatches, parseGpuName, type GpuRequest } from "../catalog/gpu-names";
import type { Cloud } from "../catalog/schema";
import type { Diagnostic, PathPart } from "../jobspec/diagnostics";
import type { LoadedSpec } from "../jobspec/load";
import { cannotLaunch, provider } from "../providers/registry";
import { closest } from "../jobspec/suggest";
import { byPrice, describeOffers, gpuLabeller, offersOf, priceIn, type Market, type Offer } from "./offer";

/** A spec to select for: what `loadSpecFile` returns (`source` only improves where errors point). */
export type SelectionInput = Pick<LoadedSpec, "spec" | "diagnose"> & Partial<Pick<LoadedSpec, "source">>;

/** Where the job runs on a cloud, and at what price. */
export interface CloudSelection {
  ok: true;
  local: false;
  cloud: Cloud;
  /** The spec's `gpu_type`, normalised. */
  gpu: GpuRequest;
  market: Market;
  /** The cheapest feasible offer in `market`. */
  chosen: Offer;
  /** `chosen`'s price in `market`, USD per hour. */
  pricePerHour: number;
  /** With `use_spot` and `cost.spot_fallback`: the cheapest on-demand offer in the chosen region (one stack is one region); else null. */
  fallback: Offer | null;
  /** Every instance type feasible in the chosen region, cheapest first (the capacity group may use any of them). */
  capacityTypes: string[];
  /** Every feasible offer, cheapest first in `market`. */
  feasible: Offer[];
  /** Where the prices come from, for plan output. */
  catalog: { date: string; source: string; overrideFile?: string };
  /** Things worth saying that do not stop the launch. */
  warnings: Diagnostic[];
}

/** `provider: local`: this machine, no offers, no price. */
export interface LocalSelection {
  ok: true;
  local: true;
  pricePerHour: 0;
  warnings: Diagnostic[];
}

export type Selection = CloudSelection | LocalSelection;

export interface SelectionError {
  ok: false;
  errors: Diagnostic[];
}

/**
 * Chooses the offer a spec runs on. `catalog` must be the spec's provider's
 * catalog (unused, and may be undefined, for `provider: local`).
 *
 * Error codes (each at the field to change): `missing`, `unknown_gpu` /
 * `unknown_gpu_variant` (gpu_type), `gpu_not_offered` (gpu_type),
 * `unknown_instance_type` / `instance_type_mismatch` (instance_type),
 * `gpu_count_not_offered` (gpu_count), `region_not_offered` (region or
 * regions), `zone_not_offered` (zones), `unsupported_provider` (provider).
 */
export function selectOffers(input: SelectionInput, catalog: Catalog | undefined): Selection | SelectionError {
  const { spec } = input;
  // Fields the user left out have no place in the file: point next to a related one instead.
  const fail = (path: PathPart[], code: string, message: string, hint?: string, near?: PathPart[]): SelectionError => {
    const d = input.diagnose(path, code, message, hint);
    if (near && input.source && !input.source.doc.hasIn(path)) {
      const pos = input.source.locate(near);
      return { ok: false, errors: [{ ...d, line: pos.line, column: pos.column }] };
    }
    return { ok: false, errors: [d] };
  };

  const target = provider(spec.provider);
  if (target.launch === "this-machine") return { ok: true, local: true, pricePerHour: 0, warnings: [] };
  if (!target.cloud) {
    const { message, hint } = cannotLaunch(spec.provider);
    return fail(["provider"], "unsupported_provider", message, hint);
  }
  if (!catalog || catalog.cloud !== target.cloud) {
    throw new Error(`selectOffers: expected the ${target.cloud} catalog, got ${catalog ? catalog.cloud : "none"}`);
  }
  const cloud = catalog.cloud;
  const market: Market = spec.use_spot ? "spot" : "on-demand";
  const all = offersOf(catalog);
  const label = gpuLabeller(all);
  const list = (offers: readonly Offer[]) => describeOffers(offers, market, label);

  // 1. The GPU model.
  if (!spec.gpu_type) return fail(["gpu_type"], "missing", `is required with provider ${cloud}`, 'add e.g. `gpu_type: "L4"`', ["provider"]);
  const name = parseGpuName(spec.gpu_type);
  if (!name.ok) {
    const hint = name.suggestion ? `did you mean \`${name.suggestion}\`? ${cloud} offers ${offeredModels(all).join(", ")}` : `${cloud} offers ${offeredModels(all).join(", ")}`;
    return fail(["gpu_type"], name.code, name.message, hint);
  }
  const gpu = name.request;
  const wanted = formatGpuRequest(gpu);
  const withGpu = all.filter((o) => gpuMatches(gpu, o));
  if (withGpu.length === 0) {
    const sameModel = all.filter((o) => o.gpu === gpu.model);
    if (sameModel.length) {
      const variants = [...new Set(sameModel.map((o) => `${o.gpu}-${o.gpuMemoryGb}GB${o.formFactor ? ` ${formFactorLabel(o.formFactor)}` : ""}`))];
      return fail(["gpu_type"], "gpu_not_offered", `${cloud} does not sell ${wanted}; its ${gpu.model} is ${variants.join(" or ")}: ${list(sameModel)}`, `write \`gpu_type: "${gpu.model}"\` to accept any ${gpu.model}`);
    }
    const models = offeredModels(all);
    const guess = closest(gpu.model, models);
    return fail(
      ["gpu_type"],
      "gpu_not_offered",
      `${cloud} does not offer ${wanted}; it offers ${models.join(", ")}`,
      guess ? `did you mean \`${guess}\`? Otherwise pick another GPU or provider` : "pick one of these GPUs, or another provider",
    );
  }

  // 2. A forced instance type must exist and carry exactly this request.
  let candidates = withGpu;
  if (spec.instance_type) {
    const type = spec.instance_type;
    const entry = all.find((o) => o.instanceType === type);
    if (!entry) {
      const types = [...new Set(all.map((o) => o.instanceType))];
      const guess = closestName(type, types);
      return fail(["instance_type"], "unknown_instance_type", `the ${cloud} catalog has no instance type ${type}`, guess ? `did you mean \`${guess}\`?` : `types with ${wanted}: ${list(withGpu)}`);
    }
    if (!gpuMatches(gpu, entry)) {
      return fail(["instance_type"], "instance_type_mismatch", `${type} has ${label(entry)}, not ${wanted}`, `instance types with ${wanted}: ${list(withGpu)}; or change gpu_type`);
    }
    if (entry.gpuCount !== spec.gpu_count) {
      const sameCount = withGpu.filter((o) => o.gpuCount === spec.gpu_count);
      const alt = sameCount.length ? `, or use ${list(sameCount)}` : "";
      return fail(["instance_type"], "instance_type_mismatch", `${type} has ${label(entry)}, but gpu_count is ${spec.gpu_count}`, `set gpu_count: ${entry.gpuCount}${alt}`);
    }
    candidates = withGpu.filter((o) => o.instanceType === type);
  }

  // 3. GPUs per instance: clouds sell fixed sizes.
  const sized = candidates.filter((o) => o.gpuCount === spec.gpu_count);
  if (sized.length === 0) {
    const counts = [...new Set(candidates.map((o) => o.gpuCount))].sort((a, b) => a - b);
    const suggested = counts.find((c) => c > spec.gpu_count) ?? counts[counts.length - 1];
    return fail(
      ["gpu_count"],
      "gpu_count_not_offered",
      `${cloud} sells ${wanted} as ${orList(counts.map(String))} per instance, not ${spec.gpu_count}: ${list(candidates)}`,
      `set gpu_count: ${suggested}`,
      ["gpu_type"],
    );
  }

  // 4. Regions.
  const regionPath: PathPart[] = spec.regions ? ["regions"] : ["region"];
  const allowed = spec.regions ?? (spec.region ? [spec.region] : undefined);
  const inRegion = allowed ? sized.filter((o) => allowed.includes(o.region)) : sized;
  if (inRegion.length === 0) {
    const regions = [...new Set(sized.map((o) => o.region))].sort();
    const known = [...new Set(all.map((o) => o.region))];
    const typo = allowed!.map((r) => (known.includes(r) ? undefined : closestName(r, known))).find((g) => g !== undefined);
    const where = allowed!.length === 1 ? `in ${allowed![0]}` : `in any of ${allowed!.join(", ")}`;
    const fix = spec.regions ? `add one of them to regions` : `set region: "${regions[0]}", or "" for the cheapest`;
    return fail(regionPath, "region_not_offered", `${cloud} has no ${spec.gpu_count}×${wanted} offer ${where}; it has them in ${regions.join(", ")}`, typo ? `did you mean \`${typo}\`?` : fix);
  }

  // 5. Zones: an offer stays if its region has a listed zone, and keeps only those.
  let feasible = inRegion;
  if (spec.zones) {
    const zones = spec.zones;
    feasible = inRegion.flatMap((o) => {
      const kept = o.zones.filter((z) => zones.includes(z));
      return kept.length ? [{ ...o, zones: kept }] : [];
    });
    if (feasible.length === 0) {
      const available = [...new Set(inRegion.flatMap((o) => o.zones))].sort();
      return fail(["zones"], "zone_not_offered", `no ${spec.gpu_count}×${wanted} offer in zone ${orList(zones)}; ${cloud} has them in ${available.join(", ")}`, `list one of those zones, or remove \`zones\``);
    }
  }

  feasible = [...feasible].sort(byPrice(market));
  const chosen = feasible[0];
  const sameRegion = feasible.filter((o) => o.region === chosen.region);
  const fallback = spec.use_spot && spec.cost.spot_fallback ? ([...sameRegion].sort(byPrice("on-demand"))[0] ?? null) : null;

  const warnings: Diagnostic[] = [];
  if (market === "on-demand" && chosen.onDemandNote) warnings.push(input.diagnose(["use_spot"], "on_demand_caveat", `${chosen.instanceType} on-demand: ${chosen.onDemandNote}`, undefined, "warning"));
  if (fallback?.onDemandNote) {
    warnings.push(input.diagnose(["cost", "spot_fallback"], "on_demand_caveat", `fallback ${fallback.instanceType} on-demand: ${fallback.onDemandNote}`, undefined, "warning"));
  }

  return {
    ok: true,
    local: false,
    cloud,
    gpu,
    market,
    chosen,
    pricePerHour: priceIn(chosen, market),
    fallback,
    capacityTypes: [...new Set(sameRegion.map((o) => o.instanceType))],
    feasible,
    catalog: { date: catalog.date, source: catalog.source, overrideFile: catalog.overrideFile },
    warnings,
  };
}

/** `closest` reads `-` as `_` (it was made for spec keys); cloud names are full of dashes. */
function closestName(word: string, names: readonly string[]): string | undefined {
  const guess = closest(word, names.map((n) => n.replace(/-/g, "_")));
  return guess && names.find((n) => n.replace(/-/g, "_") === guess);
}

/** Models a cloud sells, in catalog order. */
function offeredModels(all: readonly Offer[]): string[] {
  return [...new Set(all.map((o) => o.gpu))];
}
