/**
 * One run of the supervisor: read the job's status and its groups, decide,
 * apply the new desired capacities through Auto Scaling, and keep the
 * supervisor's state and what it did in the store (`supervisor/state.json`,
 * `supervisor/events/<time>.json`). The scheduled function calls this every
 * minute; tests call it directly against moto. It also reads each group's
 * newest launch (DescribeScalingActivities) so that a launch failure waiting
 * cannot fix (quota, image, disk, permission) stops the job with its reason.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand, SetDesiredCapacityCommand, type AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import { readCancel } from "../cancel";
import { readStatus, SUPERVISOR_STATE_KEY } from "../status";
import type { Store } from "../store/store";
import { decide, type GroupView, type SupervisorDecision, type SupervisorPolicy, type SupervisorState } from "./decide";
import { newestLaunch } from "./launch-failure";

export { SUPERVISOR_STATE_KEY } from "../status";

export interface SupervisedJob {
  store: Store;
  spot: { name: string; pricePerHour: number };
  onDemand?: { name: string; pricePerHour: number };
  policy: SupervisorPolicy;
}

/** Instances that bill: launched and not yet on their way out. */
const BILLING = new Set(["Pending", "Pending:Wait", "Pending:Proceed", "InService"]);

async function groupViews(client: AutoScalingClient, job: SupervisedJob): Promise<{ spot: GroupView; onDemand?: GroupView }> {
  const wanted = [job.spot, ...(job.onDemand ? [job.onDemand] : [])];
  const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: wanted.map((g) => g.name) }));
  const view = async (g: { name: string; pricePerHour: number }): Promise<GroupView> => {
    const found = out.AutoScalingGroups?.find((a) => a.AutoScalingGroupName === g.name);
    if (!found) throw new Error(`Auto Scaling group ${g.name} does not exist`);
    const billing = (found.Instances ?? []).filter((i) => BILLING.has(String(i.LifecycleState)));
    // Why a group has no instance is only in its scaling activities (newest first); the last 20 cover the newest launch.
    const activities = await client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: g.name, MaxRecords: 20 }));
    const lastLaunch = newestLaunch(activities.Activities ?? []);
    return {
      name: g.name,
      desired: found.DesiredCapacity ?? 0,
      inService: billing.length,
      healthy: billing.filter((i) => i.HealthStatus !== "Unhealthy").length,
      pricePerHour: g.pricePerHour,
      instanceTypes: instanceTypesOf(found),
      market: marketOf(found),
      ...(lastLaunch ? { lastLaunch } : {}),
    };
  };
  return { spot: await view(job.spot), onDemand: job.onDemand ? await view(job.onDemand) : undefined };
}

function instanceTypesOf(group: AutoScalingGroup): string[] {
  const overrides = group.MixedInstancesPolicy?.LaunchTemplate?.Overrides ?? [];
  const types = overrides.map((o) => o.InstanceType).filter((t): t is string => !!t);
  return [...new Set(types.length ? types : (group.Instances ?? []).map((i) => i.InstanceType).filter((t): t is string => !!t))];
}

/** On-demand when the distribution asks for no spot above a base of at least one (the fallback group, or `use_spot: false`). */
function marketOf(group: AutoScalingGroup): "spot" | "on-demand" {
  const d = group.MixedInstancesPolicy?.InstancesDistribution;
  if (!d) return "on-demand";
  return (d.OnDemandBaseCapacity ?? 0) >= 1 || (d.OnDemandPercentageAboveBaseCapacity ?? 100) === 100 ? "on-demand" : "spot";
}

export async function superviseOnce(job: SupervisedJob, client: AutoScalingClient, now = Date.now()): Promise<SupervisorDecision> {
  const [status, saved, groups, cancel] = await Promise.all([readStatus(job.store), job.store.get(SUPERVISOR_STATE_KEY), groupViews(client, job), readCancel(job.store)]);
  const state: SupervisorState = saved ? (JSON.parse(saved.body.toString()) as SupervisorState) : { spentUsd: 0 };
  const region = await client.config.region().catch(() => undefined);
  const decision = decide({ now, status, spot: groups.spot, onDemand: groups.onDemand, policy: job.policy, state, region, cancel });
  for (const [name, desired] of Object.entries(decision.scale)) {
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: desired, HonorCooldown: false }));
  }
  // What it did is recorded before the state that says it was done.
  if (decision.events.length || Object.keys(decision.scale).length) {
    const record = { at: new Date(now).toISOString(), events: decision.events, scale: decision.scale, spent_usd: decision.state.spentUsd, ...(decision.state.launchFailure ? { launch_failure: decision.state.launchFailure } : {}) };
    await job.store.put(`supervisor/events/${record.at}.json`, JSON.stringify(record));
  }
  await job.store.put(SUPERVISOR_STATE_KEY, JSON.stringify(decision.state));
  return decision;
}
