/**
 * One supervisor run against an Auto Scaling client: the shared executor
 * (execute.ts) with the AWS capacity control (aws/capacity.ts). Tests call
 * this with moto or a stub client; the scheduled functions go through run.ts,
 * which picks the cloud's control from the store URL.
 */
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { autoScalingCapacity } from "./aws/capacity";
import type { SupervisorDecision } from "./decide";
import { superviseWith, type SupervisedJob } from "./execute";

export { SUPERVISOR_STATE_KEY, type SupervisedJob } from "./execute";

export function superviseOnce(job: SupervisedJob, client: AutoScalingClient, now = Date.now()): Promise<SupervisorDecision> {
  return superviseWith(job, autoScalingCapacity(client), now);
}
