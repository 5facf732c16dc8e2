/**
 * One run of the supervisor, on any cloud: read the job's status and its
 * groups, decide (decide.ts, pure), apply the new sizes through the cloud's
 * capacity control, and keep the supervisor's state and what it did in the
 * store (`supervisor/state.json`, `supervisor/events/<time>.json`). The
 * scheduled function (a Lambda on AWS, a Cloud Run job on GCP) calls this
 * every minute through run.ts; tests call it directly (supervise.ts is the
 * same with an Auto Scaling client).
 *
 * The cloud part is `CapacityControl`, one per cloud: aws/capacity.ts (Auto
 * Scaling) and gcp/capacity.ts (Compute Engine managed instance groups).
 */
import { readCancel } from "../cancel";
import { readStatus, SUPERVISOR_STATE_KEY } from "../status";
import type { Store } from "../store/store";
import { decide, type GroupView, type SupervisorDecision, type SupervisorPolicy, type SupervisorState } from "./decide";

export { SUPERVISOR_STATE_KEY } from "../status";

/** A group as the configuration names it: an Auto Scaling group name, or a managed instance group path. */
export interface SupervisedGroup {
  name: string;
  pricePerHour: number;
}

export interface SupervisedJob {
  store: Store;
  spot: SupervisedGroup;
  onDemand?: SupervisedGroup;
  policy: SupervisorPolicy;
}

/** What the supervisor needs from a cloud: how the job's groups stand, and a way to resize one. */
export interface CapacityControl {
  /**
   * Each group's size, instances and newest launch attempt (with why it failed, when it did). `now` is the run's clock,
   * for a cloud that cannot date an attempt (GCP dates it when seen).
   */
  groupViews(groups: { spot: SupervisedGroup; onDemand?: SupervisedGroup }, now: number): Promise<{ spot: GroupView; onDemand?: GroupView }>;
  /** Sets a group's desired size (target size); returns once the cloud has accepted it. */
  setSize(name: string, size: number): Promise<void>;
  /** The region the groups live in, for the fix of a quota failure; undefined when unknown. */
  region(groups: { spot: SupervisedGroup }): Promise<string | undefined>;
}

export async function superviseWith(job: SupervisedJob, control: CapacityControl, now = Date.now()): Promise<SupervisorDecision> {
  const [status, saved, groups, cancel] = await Promise.all([readStatus(job.store), job.store.get(SUPERVISOR_STATE_KEY), control.groupViews(job, now), readCancel(job.store)]);
  const state: SupervisorState = saved ? (JSON.parse(saved.body.toString()) as SupervisorState) : { spentUsd: 0 };
  const region = await control.region(job).catch(() => undefined);
  const decision = decide({ now, status, spot: groups.spot, onDemand: groups.onDemand, policy: job.policy, state, region, cancel });
  for (const [name, desired] of Object.entries(decision.scale)) await control.setSize(name, desired);
  // What it did is recorded before the state that says it was done.
  if (decision.events.length || Object.keys(decision.scale).length) {
    const record = { at: new Date(now).toISOString(), events: decision.events, scale: decision.scale, spent_usd: decision.state.spentUsd, ...(decision.state.launchFailure ? { launch_failure: decision.state.launchFailure } : {}) };
    await job.store.put(`supervisor/events/${record.at}.json`, JSON.stringify(record));
  }
  await job.store.put(SUPERVISOR_STATE_KEY, JSON.stringify(decision.state));
  return decision;
}
