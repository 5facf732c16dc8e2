/**
 * GPU quotas on GCP: one per GPU model and per market, per region, and zero
 * in a new project. Pure: which quota a job needs, how the Cloud Quotas API
 * names it, what a quota info says for a region, and what preview says.
 *
 * Facts these encode:
 * - The Compute Engine metric of a GPU model is `NVIDIA_<MODEL>_GPUS`, and
 *   spot (and preemptible) VMs count against `PREEMPTIBLE_NVIDIA_<MODEL>_GPUS`
 *   instead (https://cloud.google.com/compute/resource-usage#gpu_quota;
 *   the metric names are the Compute API's `Quota.metric` values,
 *   https://cloud.google.com/compute/docs/reference/rest/v1/regions#Quota).
 *   The H100 sold as `nvidia-h100-80gb` is metered as NVIDIA_H100_GPUS (no
 *   80GB), the 80 GB A100 as NVIDIA_A100_80GB_GPUS.
 * - The Cloud Quotas API names the same quota `<METRIC with - for _>-per-project-region`
 *   (`PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region`), and answers a
 *   QuotaInfo whose `dimensionsInfos` list values by dimension (`region`), or
 *   one undimensioned value with the locations it applies to
 *   (https://cloud.google.com/docs/quotas/reference/rest/v1/projects.locations.services.quotaInfos).
 */
import type { Market } from "../../core/offers/offer";

/** Compute Engine GPU metrics by accelerator type (the catalog's `accelerator_type`). */
const MODEL_METRICS: Record<string, string> = {
  "nvidia-tesla-t4": "NVIDIA_T4_GPUS",
  "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
  "nvidia-tesla-p100": "NVIDIA_P100_GPUS",
  "nvidia-tesla-p4": "NVIDIA_P4_GPUS",
  "nvidia-l4": "NVIDIA_L4_GPUS",
  "nvidia-tesla-a100": "NVIDIA_A100_GPUS",
  "nvidia-a100-80gb": "NVIDIA_A100_80GB_GPUS",
  "nvidia-h100-80gb": "NVIDIA_H100_GPUS",
  "nvidia-h100-mega-80gb": "NVIDIA_H100_MEGA_GPUS",
  "nvidia-h200-141gb": "NVIDIA_H200_GPUS",
  "nvidia-b200": "NVIDIA_B200_GPUS",
};

/**
 * The Compute Engine quota metric an offer's GPUs count against in a market,
 * or undefined for an accelerator type not known here (no warning is better
 * than a wrong one).
 */
export function gpuQuotaMetric(acceleratorType: string | undefined, market: Market): string | undefined {
  const metric = acceleratorType ? MODEL_METRICS[acceleratorType] : undefined;
  if (!metric) return undefined;
  return market === "spot" ? `PREEMPTIBLE_${metric}` : metric;
}

/** The Cloud Quotas API's id of a per-region Compute Engine metric. */
export function cloudQuotaId(metric: string): string {
  return `${metric.replace(/_/g, "-")}-per-project-region`;
}

/** A QuotaInfo as the provider's `cloudquota.getSQuotaInfo` returns it (the parts read here). */
export interface QuotaInfoView {
  dimensionsInfos?: { applicableLocations?: string[]; details?: { value?: string }[]; dimensions?: Record<string, string> }[];
}

/**
 * The quota's value in `region`: a value for that region first, else an
 * undimensioned value that applies there. `Infinity` for an unlimited one (a
 * negative value); undefined when the info says nothing about the region.
 */
export function quotaIn(info: QuotaInfoView, region: string): number | undefined {
  const infos = info.dimensionsInfos ?? [];
  const entry =
    infos.find((d) => d.dimensions?.region === region) ?? infos.find((d) => !d.dimensions?.region && (d.applicableLocations ?? []).some((l) => l === region || l === "global"));
  const raw = entry?.details?.[0]?.value;
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) return undefined;
  return value < 0 ? Infinity : value;
}

export interface QuotaNeed {
  region: string;
  /** GPUs one VM of the group uses. */
  gpus: number;
  /** One VM of the group, as a user reads it: "a spot VM", "an on-demand VM (the fallback)". */
  what: string;
}

/** A quota the group's VMs count against (one per GPU model its machine types carry), and its value if it could be read. */
export interface QuotaReading {
  metric: string;
  value: number | undefined;
}

/**
 * What preview says about a group's GPU quotas: a warning when none of them
 * allows one VM (a group may launch any of its machine types), nothing when
 * one does or when one could not be read (no warning is better than a wrong one).
 */
export function quotaWarning(need: QuotaNeed, readings: readonly QuotaReading[], project: string): string | undefined {
  if (readings.length === 0 || readings.some((r) => r.value === undefined || r.value >= need.gpus)) return undefined;
  const where = `https://console.cloud.google.com/iam-admin/quotas?project=${encodeURIComponent(project)}`;
  const quotas = readings.map((r) => `${r.metric} is ${r.value}`).join(", ");
  const metrics = readings.map((r) => `compute.googleapis.com/${r.metric.toLowerCase()}`).join(" or ");
  return (
    `spotjob: GPU quota in ${need.region} for project ${project}: ${quotas}, and ${need.what} needs ${need.gpus} GPU${need.gpus === 1 ? "" : "s"}: ` +
    `no VM can start until it is raised. Request at least ${need.gpus} at ${where} (filter by the metric ${metrics} and the region ${need.region})`
  );
}
