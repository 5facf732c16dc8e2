/**
 * What the job runs on, for the status, from the metadata server
 * (https://cloud.google.com/compute/docs/metadata/default-metadata-values):
 * `instance/machine-type` (`projects/NUM/machineTypes/TYPE`), `instance/zone`
 * (`projects/NUM/zones/ZONE`), `instance/id`, and
 * `instance/scheduling/provisioning-model` (`SPOT` for a Spot VM; `STANDARD`,
 * `FLEX_START`, `RESERVATION_BOUND` are not preemptible). A server that does
 * not answer leaves what it could not read unknown: never a reason not to run.
 */
import type { InstanceInfo, Market } from "../host";
import { GceMetadata } from "./metadata";

/** The last part of a resource path: `projects/123/zones/us-central1-a` → `us-central1-a`. */
export function lastSegment(path: string): string {
  return path.trim().split("/").pop() ?? "";
}

/** The market of a provisioning model; an unknown or missing one is "unknown". */
export function marketOf(provisioningModel: string | undefined): Market {
  const model = provisioningModel?.trim().toUpperCase();
  if (model === "SPOT") return "spot";
  if (model === "STANDARD" || model === "FLEX_START" || model === "RESERVATION_BOUND") return "on-demand";
  return "unknown";
}

export async function gcpInstance(metadata = new GceMetadata()): Promise<InstanceInfo> {
  const read = (path: string) =>
    metadata
      .get(path)
      .then((v) => v?.value.trim() || undefined)
      .catch(() => undefined);
  const [id, machineType, zone, model] = await Promise.all([read("instance/id"), read("instance/machine-type"), read("instance/zone"), read("instance/scheduling/provisioning-model")]);
  return { type: machineType ? lastSegment(machineType) : "unknown", market: marketOf(model), ...(id ? { id } : {}), ...(zone ? { region: lastSegment(zone) } : {}) };
}
