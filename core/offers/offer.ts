/**
 * An offer: one instance type in one region, with its prices. The catalog
 * lists types with per-region prices; selection works on this flat form.
 */
import { formatUsd } from "../catalog/format";
import type { Catalog } from "../catalog/catalog";
import type { FormFactor, GpuModel } from "../catalog/gpu-names";
import type { Cloud } from "../catalog/schema";

export type Market = "spot" | "on-demand";

export interface Offer {
  cloud: Cloud;
  instanceType: string;
  region: string;
  /** Zones of the region that carry the type (narrowed to the spec's `zones` once selected). */
  zones: string[];
  gpu: GpuModel;
  gpuCount: number;
  /** Per GPU. */
  gpuMemoryGb: number;
  formFactor?: FormFactor;
  /** GCP accelerator type, e.g. `nvidia-h100-80gb`. */
  acceleratorType?: string;
  /** GCP: attach the GPU as a guest accelerator (N1 + T4). */
  attachAccelerator?: boolean;
  vcpus: number;
  memoryGb: number;
  /** Typical spot price; the on-demand price when none is recorded (see `spotEstimated`). */
  spotPerHour: number;
  /**
   * True when the catalog has no spot price: AWS's default spot maximum is the
   * on-demand price, so that is the most spot can cost.
   */
  spotEstimated: boolean;
  onDemandPerHour: number;
  notes?: string;
  /** A caveat about buying this type on-demand (e.g. sold as spot only). */
  onDemandNote?: string;
}

/** Every (instance type, region) pair of a catalog, in catalog order. */
export function offersOf(catalog: Catalog): Offer[] {
  const out: Offer[] = [];
  for (const entry of catalog.offers) {
    for (const [region, prices] of Object.entries(entry.regions)) {
      out.push({
        cloud: catalog.cloud,
        instanceType: entry.instance_type,
        region,
        zones: [...prices.zones],
        gpu: entry.gpu,
        gpuCount: entry.gpu_count,
        gpuMemoryGb: entry.gpu_memory_gb,
        formFactor: entry.form_factor,
        acceleratorType: entry.accelerator_type,
        attachAccelerator: entry.attach_accelerator,
        vcpus: entry.vcpus,
        memoryGb: entry.memory_gb,
        spotPerHour: prices.spot ?? prices.on_demand,
        spotEstimated: prices.spot === null,
        onDemandPerHour: prices.on_demand,
        notes: entry.notes,
        onDemandNote: entry.on_demand_note,
      });
    }
  }
  return out;
}

/** The hourly price of an offer in a market. */
export function priceIn(offer: Offer, market: Market): number {
  return market === "spot" ? offer.spotPerHour : offer.onDemandPerHour;
}

/** Cheapest first; equal prices by instance type, then region, so that the choice is stable. */
export function byPrice(market: Market): (a: Offer, b: Offer) => number {
  return (a, b) => priceIn(a, market) - priceIn(b, market) || compare(a.instanceType, b.instanceType) || compare(a.region, b.region);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * How offers' GPUs are named in messages: `8×A100-40GB` where the cloud sells
 * the model in more than one memory size, else just `1×H100`.
 */
export function gpuLabeller(all: readonly Offer[]): (o: Offer) => string {
  const sizes = new Map<string, Set<number>>();
  for (const o of all) sizes.set(o.gpu, (sizes.get(o.gpu) ?? new Set()).add(o.gpuMemoryGb));
  return (o) => `${o.gpuCount}×${o.gpu}${(sizes.get(o.gpu)?.size ?? 0) > 1 ? `-${o.gpuMemoryGb}GB` : ""}`;
}

/**
 * `p4d.24xlarge (8×A100-40GB, $8.00/h spot)`, one per instance type at its
 * cheapest region: the nearest offers, for error messages.
 */
export function describeOffers(offers: readonly Offer[], market: Market, label: (o: Offer) => string, limit = 6): string {
  const cheapest = new Map<string, Offer>();
  for (const o of [...offers].sort(byPrice(market))) if (!cheapest.has(o.instanceType)) cheapest.set(o.instanceType, o);
  const items = [...cheapest.values()].map((o) => `${o.instanceType} (${label(o)}, ${formatUsd(priceIn(o, market))}/h ${market}${market === "spot" && o.spotEstimated ? " at most" : ""})`);
  return items.length > limit ? `${items.slice(0, limit).join(", ")} and ${items.length - limit} more` : items.join(", ");
}
