/**
 * The supervisor's configuration: written by the Pulumi program into the
 * scheduled function's environment (SPOTJOB_SUPERVISOR, JSON), read by the
 * handler. The same shape on every cloud; the store URL says which. It holds
 * no secret.
 */
import { z } from "zod";
import type { JobSpec } from "../jobspec/schema";
import { parseStoreUrl } from "./store-url";

const Group = z.strictObject({
  /** An Auto Scaling group name, or a managed instance group path (projects/P/regions/R/instanceGroupManagers/N). */
  name: z.string().min(1),
  pricePerHour: z.number().nonnegative(),
});

export const SupervisorConfig = z.strictObject({
  /** The job's store: s3://bucket/prefix or gs://bucket/prefix. */
  store: z.string().refine((url) => parseStoreUrl(url).kind === "object", "must be an s3:// or gs:// URL naming a bucket"),
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

/** The spec's limits, as the supervisor enforces them on every cloud; `spotFallback`: the stack has an on-demand standby. */
export function supervisorPolicy(
  spec: Pick<JobSpec, "max_runtime_minutes" | "spot_fallback_after_minutes"> & { cost: Pick<JobSpec["cost"], "max_total_budget" | "autostop_minutes"> },
  spotFallback: boolean,
): SupervisorConfig["policy"] {
  return {
    maxRuntimeMinutes: spec.max_runtime_minutes ?? null,
    budgetUsd: spec.cost.max_total_budget,
    spotFallback,
    fallbackAfterMinutes: spec.spot_fallback_after_minutes,
    autostopMinutes: spec.cost.autostop_minutes,
  };
}

export function formatSupervisorConfig(config: SupervisorConfig): string {
  return JSON.stringify(SupervisorConfig.parse(config));
}

export function supervisorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SupervisorConfig {
  const raw = env[SUPERVISOR_ENV];
  if (!raw) throw new Error(`${SUPERVISOR_ENV} is not set: this function is configured by the spotjob Pulumi program`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${SUPERVISOR_ENV} is not JSON (${(e as Error).message}): this function is configured by the spotjob Pulumi program`);
  }
  const parsed = SupervisorConfig.safeParse(json);
  if (!parsed.success) throw new Error(`${SUPERVISOR_ENV} is not a valid supervisor configuration: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
}
