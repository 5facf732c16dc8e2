/**
 * What each of the job's managed instance groups launches, and how a VM of
 * it is scheduled: pure functions of the selection (core/offers/select.ts).
 *
 * Facts these encode:
 * - Spot VMs: `provisioningModel: SPOT` (with `preemptible: true`, which
 *   the API requires to agree with it), `instanceTerminationAction: DELETE`
 *   (STOP would keep the preempted VM's disk, billed, until someone deletes
 *   it), `automaticRestart: false`; a VM with GPUs must have
 *   `onHostMaintenance: TERMINATE` (it cannot live-migrate)
 *   (https://cloud.google.com/compute/docs/instances/spot#create,
 *   https://cloud.google.com/compute/docs/gpus/gpu-host-maintenance).
 * - `preemptionNoticeDuration` (Preview) moves the preemption flag up to
 *   120 s ahead of the soft-off (https://cloud.google.com/compute/docs/instances/spot#preemption-notice).
 * - A2, A3 and G2 machine types come with their GPUs; N1 takes them as guest
 *   accelerators in the template (https://cloud.google.com/compute/docs/gpus#gpu-models).
 * - A managed instance group's instance flexibility policy lists machine
 *   types the group may create instead of the template's, ranked
 *   (https://cloud.google.com/compute/docs/instance-groups/about-instance-flexibility):
 *   used where the group has several types that bring their own GPUs. A
 *   guest accelerator is part of the template, sized for one machine type,
 *   so a group with attached GPUs keeps to one type.
 */
import type { CloudSelection } from "../../core/offers/select";
import { byPrice, priceIn, type Market, type Offer } from "../../core/offers/offer";

export interface GroupPlan {
  market: Market;
  /** Machine types the group may create, cheapest first in its market; the template's is the first. */
  machineTypes: string[];
  /** The dearest of them in the market: what the supervisor charges the budget at. */
  maxPricePerHour: number;
  /** GPUs to attach as guest accelerators (N1 + T4/V100); absent when the machine type brings its own. */
  attach?: { type: string; count: number };
  /** Accelerator types of the machine types (for the quota check). */
  acceleratorTypes: string[];
  /** GPUs per VM. */
  gpus: number;
}

/** Whether an offer's GPUs are attached to its machine type rather than bundled with it. */
const attached = (o: Offer) => o.attachAccelerator === true;

/** The group of one market: the feasible offers in the chosen region (one stack is one region). */
export function groupPlan(selection: Pick<CloudSelection, "feasible" | "chosen">, market: Market): GroupPlan {
  const inRegion = selection.feasible.filter((o) => o.region === selection.chosen.region).sort(byPrice(market));
  const first = inRegion[0] ?? selection.chosen;
  // One template serves the group: attached GPUs fix the machine type (see above); bundled ones do not.
  const offers = attached(first) ? [first] : inRegion.filter((o) => !attached(o));
  const types = [...new Set(offers.map((o) => o.instanceType))];
  if (attached(first) && !first.acceleratorType) throw new Error(`the catalog gives ${first.instanceType} attached GPUs but no accelerator_type`);
  return {
    market,
    machineTypes: types,
    maxPricePerHour: Math.max(...offers.map((o) => priceIn(o, market))),
    ...(attached(first) ? { attach: { type: first.acceleratorType!, count: first.gpuCount } } : {}),
    acceleratorTypes: [...new Set(offers.map((o) => o.acceleratorType).filter((t): t is string => t !== undefined))],
    gpus: first.gpuCount,
  };
}

/**
 * The zones a group may create its VM in: the spec's `zones` when it names
 * them, else every zone of the region that is up. A zone without the machine
 * type costs nothing: with the target shape ANY_SINGLE_ZONE the group picks
 * the zone by hardware support and capacity when it grows from zero
 * (https://cloud.google.com/compute/docs/instance-groups/regional-mig-distribution-shape),
 * and the catalog's list of zones per type is approximate.
 */
export function groupZones(specZones: readonly string[] | undefined, regionZones: readonly string[]): string[] {
  return [...new Set(specZones?.length ? specZones : regionZones)].sort();
}

/** The instance flexibility policy of a group: every machine type, ranked cheapest first; none for a single type or attached GPUs. */
export function instanceFlexibility(plan: GroupPlan): { instanceSelections: { name: string; machineTypes: string[]; rank: number }[] } | undefined {
  if (plan.attach || plan.machineTypes.length < 2) return undefined;
  return { instanceSelections: plan.machineTypes.map((type, rank) => ({ name: `rank-${rank}-${type}`.slice(0, 63).replace(/-+$/, ""), machineTypes: [type], rank })) };
}

export interface Scheduling {
  provisioningModel: "SPOT" | "STANDARD";
  preemptible: boolean;
  automaticRestart: boolean;
  onHostMaintenance: "TERMINATE";
  instanceTerminationAction?: "DELETE";
  preemptionNoticeDuration?: { seconds: number };
}

/** The longest notice GCP gives (Preview). */
export const MAX_PREEMPTION_NOTICE_SECONDS = 120;

/**
 * How a VM of a group is scheduled. `preemptionNoticeSeconds` (spot only, an
 * opt-in: the setting is in Preview) asks GCP for the notice ahead of the soft-off.
 * No VM restarts in place: a VM that stops (a host event) is recreated by
 * its group (the default lifecycle action, REPAIR), from the template as it
 * is now, and the runtime resumes from the store.
 */
export function scheduling(market: Market, preemptionNoticeSeconds?: number): Scheduling {
  if (preemptionNoticeSeconds !== undefined && (!Number.isInteger(preemptionNoticeSeconds) || preemptionNoticeSeconds < 1 || preemptionNoticeSeconds > MAX_PREEMPTION_NOTICE_SECONDS)) {
    throw new Error(`the preemption notice must be a whole number of seconds from 1 to ${MAX_PREEMPTION_NOTICE_SECONDS}, not ${preemptionNoticeSeconds}`);
  }
  if (market === "on-demand") return { provisioningModel: "STANDARD", preemptible: false, automaticRestart: false, onHostMaintenance: "TERMINATE" };
  return {
    provisioningModel: "SPOT",
    preemptible: true,
    automaticRestart: false,
    onHostMaintenance: "TERMINATE",
    instanceTerminationAction: "DELETE",
    ...(preemptionNoticeSeconds !== undefined ? { preemptionNoticeDuration: { seconds: preemptionNoticeSeconds } } : {}),
  };
}
