/**
 * At the end of a job (succeeded or failed, not interrupted) the instance
 * scales its own Auto Scaling groups to zero, so nothing keeps billing even
 * before the supervisor's next run. The groups come from the instance
 * environment (SPOTJOB_AWS_GROUPS, set by the startup script); the instance role allows exactly this call
 * on exactly these groups.
 */
import { AutoScalingClient, SetDesiredCapacityCommand } from "@aws-sdk/client-auto-scaling";
import { recordAwsCalls } from "./call-log";

export async function scaleOwnGroupsToZero(groups: string[], log: (message: string) => void, client = recordAwsCalls(new AutoScalingClient({}))): Promise<void> {
  for (const name of groups) {
    try {
      await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: 0, HonorCooldown: false }));
      log(`scaled Auto Scaling group ${name} to zero: this job is over`);
    } catch (e) {
      // The supervisor scales it down on its next run; say so rather than fail the job's result.
      log(`could not scale ${name} to zero (${(e as Error).message}); the supervisor will`);
    }
  }
}
