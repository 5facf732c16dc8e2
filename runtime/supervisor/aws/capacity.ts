/**
 * The supervisor's capacity control on AWS: the job's Auto Scaling groups
 * (DescribeAutoScalingGroups), each group's newest launch from its scaling
 * activities (DescribeScalingActivities, classified by ../launch-failure.ts
 * so that a launch failure waiting cannot fix stops the job with its reason),
 * and SetDesiredCapacity.
 */
import { DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand, SetDesiredCapacityCommand, type AutoScalingClient, type AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import type { GroupView } from "../decide";
import { newestLaunch } from "../launch-failure";
import type { CapacityControl, SupervisedGroup } from "../execute";

/** Instances that bill: launched and not yet on their way out. */
const BILLING = new Set(["Pending", "Pending:Wait", "Pending:Proceed", "InService"]);

export function autoScalingCapacity(client: AutoScalingClient): CapacityControl {
  return {
    async groupViews(job) {
      const wanted = [job.spot, ...(job.onDemand ? [job.onDemand] : [])];
      const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: wanted.map((g) => g.name) }));
      const view = async (g: SupervisedGroup): Promise<GroupView> => {
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
    },
    async setSize(name, size) {
      await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: size, HonorCooldown: false }));
    },
    region: () => client.config.region(),
  };
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
