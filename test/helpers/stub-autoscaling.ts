/**
 * An Auto Scaling client that answers from memory, in the shapes AWS documents
 * for DescribeAutoScalingGroups and DescribeScalingActivities: moto 5.2.1
 * answers DescribeScalingActivities with an empty list whatever happened, so a
 * failed launch (quota, AMI, disk, permission) can only be staged this way.
 */
import { DescribeAutoScalingGroupsCommand, DescribeScalingActivitiesCommand, SetDesiredCapacityCommand, type Activity, type AutoScalingClient } from "@aws-sdk/client-auto-scaling";

export interface StubGroup {
  name: string;
  desired: number;
  instanceTypes: string[];
  market: "spot" | "on-demand";
  activities: Activity[];
}

/** A failed launch as a scaling activity, the way AWS writes it (Description carries the StatusMessage after "Status Reason:"). */
export function failedLaunch(group: string, at: Date, statusMessage: string, statusCode: "Failed" | "Cancelled" = "Failed"): Activity {
  return {
    ActivityId: `act-${group}-${at.getTime()}`,
    AutoScalingGroupName: group,
    Description: `Launching a new EC2 instance.  Status Reason: ${statusMessage}`,
    Cause: `At ${at.toISOString().replace(/\.\d+Z$/, "Z")} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 0 to 1.`,
    StartTime: at,
    EndTime: new Date(at.getTime() + 2_000),
    StatusCode: statusCode,
    StatusMessage: statusMessage,
    Progress: 100,
    Details: '{"Subnet ID":"subnet-0123","Availability Zone":"us-east-1a"}',
  };
}

export function stubAutoScaling(groups: StubGroup[], region = "us-east-1"): { client: AutoScalingClient; calls: string[] } {
  const calls: string[] = [];
  const find = (name: string | undefined) => groups.find((g) => g.name === name);
  const send = async (command: unknown) => {
    if (command instanceof DescribeAutoScalingGroupsCommand) {
      calls.push("DescribeAutoScalingGroups");
      return {
        AutoScalingGroups: groups
          .filter((g) => command.input.AutoScalingGroupNames?.includes(g.name))
          .map((g) => ({
            AutoScalingGroupName: g.name,
            DesiredCapacity: g.desired,
            MinSize: 0,
            MaxSize: 1,
            Instances: [],
            MixedInstancesPolicy: {
              LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: "lt-0123", Version: "$Latest" }, Overrides: g.instanceTypes.map((InstanceType) => ({ InstanceType })) },
              InstancesDistribution:
                g.market === "spot"
                  ? { OnDemandBaseCapacity: 0, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: "price-capacity-optimized" }
                  : { OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 100, OnDemandAllocationStrategy: "prioritized" },
            },
          })),
      };
    }
    if (command instanceof DescribeScalingActivitiesCommand) {
      calls.push(`DescribeScalingActivities ${command.input.AutoScalingGroupName}`);
      const g = find(command.input.AutoScalingGroupName);
      // Newest first, as AWS returns them.
      return { Activities: [...(g?.activities ?? [])].sort((a, b) => b.StartTime!.getTime() - a.StartTime!.getTime()).slice(0, command.input.MaxRecords ?? 100) };
    }
    if (command instanceof SetDesiredCapacityCommand) {
      calls.push(`SetDesiredCapacity ${command.input.AutoScalingGroupName}=${command.input.DesiredCapacity}`);
      const g = find(command.input.AutoScalingGroupName);
      if (!g) throw new Error(`AutoScalingGroup name not found - ${command.input.AutoScalingGroupName}`);
      g.desired = command.input.DesiredCapacity!;
      return {};
    }
    throw new Error(`stub: unexpected ${(command as object).constructor.name}`);
  };
  return { client: { send, config: { region: async () => region } } as unknown as AutoScalingClient, calls };
}
