/**
 * The supervisor as an AWS Lambda handler: the same bundle as the runtime
 * (`runtime.handler`), run every minute by a schedule. Everything it needs
 * comes from one environment variable written by the Pulumi program,
 * SPOTJOB_SUPERVISOR (JSON, see core/wire/supervisor-config.ts); it holds no secret.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { supervisorConfigFromEnv } from "../../core/wire/supervisor-config";
import { recordAwsCalls } from "../cloud/aws/call-log";
import { openStore } from "../store/open";
import type { SupervisorDecision } from "./decide";
import { superviseOnce } from "./supervise";

/** One supervisor run; what it decided goes to the function's log (and, as events, to the store). */
export async function handler(): Promise<{ scale: Record<string, number>; events: string[]; spentUsd: number }> {
  const config = supervisorConfigFromEnv();
  const decision: SupervisorDecision = await superviseOnce({ store: openStore(config.store), spot: config.spot, onDemand: config.onDemand, policy: config.policy }, recordAwsCalls(new AutoScalingClient({})));
  const summary = { scale: decision.scale, events: decision.events, spentUsd: decision.state.spentUsd };
  console.log(JSON.stringify({ spotjob: "supervisor", ...summary }));
  return summary;
}
