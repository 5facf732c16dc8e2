/**
 * The supervisor as an AWS Lambda handler: the same bundle as the runtime
 * (`runtime.handler`), run every minute by a schedule. Everything it needs
 * comes from one environment variable written by the Pulumi program,
 * SPOTJOB_SUPERVISOR (JSON, see `SupervisorConfig`); it holds no secret.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { z } from "zod";
import { recordAwsCalls } from "../cloud/aws-call-log";
import { openStore } from "../store/open";
import type { SupervisorDecision } from "./decide";
import { superviseOnce } from "./supervise";

const Group = z.strictObject({ name: z.string().min(1), pricePerHour: z.number().nonnegative() });

export const SupervisorConfig = z.strictObject({
  /** The job's store: s3://bucket/prefix. */
  store: z.string().startsWith("s3://"),
  spot: Group,
  onDemand: Group.optional(),
  policy: z.strictObject({
    maxRuntimeMinutes: z.number().positive().nullable(),
    budgetUsd: z.number().nonnegative(),
    spotFallback: z.boolean(),
    fallbackAfterMinutes: z.number().nonnegative(),
    autostopMinutes: z.number().nonnegative(),
  }),
});
export type SupervisorConfig = z.infer<typeof SupervisorConfig>;

export const SUPERVISOR_ENV = "SPOTJOB_SUPERVISOR";

export function supervisorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SupervisorConfig {
  const raw = env[SUPERVISOR_ENV];
  if (!raw) throw new Error(`${SUPERVISOR_ENV} is not set: this function is configured by the spotjob Pulumi program`);
  const parsed = SupervisorConfig.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`${SUPERVISOR_ENV} is not a valid supervisor configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

/** One supervisor run; what it decided goes to the function's log (and, as events, to the store). */
export async function handler(): Promise<{ scale: Record<string, number>; events: string[]; spentUsd: number }> {
  const config = supervisorConfigFromEnv();
  const decision: SupervisorDecision = await superviseOnce({ store: openStore(config.store), spot: config.spot, onDemand: config.onDemand, policy: config.policy }, recordAwsCalls(new AutoScalingClient({})));
  const summary = { scale: decision.scale, events: decision.events, spentUsd: decision.state.spentUsd };
  console.log(JSON.stringify({ spotjob: "supervisor", ...summary }));
  return summary;
}
