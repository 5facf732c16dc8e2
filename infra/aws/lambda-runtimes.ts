/**
 * The supervisor's Lambda runtime and AWS's dated deprecation schedule for
 * Node.js runtimes (lambda-runtimes.json). A function on a deprecated runtime
 * still runs, but from AWS's "block update" date every `pulumi up` that
 * touches it (any spec or budget edit changes its environment) fails.
 */
import schedule from "./lambda-runtimes.json";

/** The newest Node.js runtime Lambda and the provider (@pulumi/aws 7.x `aws.lambda.Runtime`) offer. */
export const SUPERVISOR_RUNTIME = "nodejs24.x";

export interface RuntimeDates {
  deprecation: string;
  blockFunctionCreate: string;
  blockFunctionUpdate: string;
}

export const LAMBDA_RUNTIME_SCHEDULE: { source: string; checked: string; runtimes: Record<string, RuntimeDates> } = schedule;

/** Where `runtime` stands on `today` (YYYY-MM-DD): unknown, supported, deprecated, or blocked for create/update. */
export function runtimeStanding(runtime: string, today: string, withinDays = 0): { state: "unknown" | "supported" | "deprecated" | "create-blocked" | "update-blocked"; dates?: RuntimeDates; message?: string } {
  const dates = LAMBDA_RUNTIME_SCHEDULE.runtimes[runtime];
  if (!dates) return { state: "unknown", message: `${runtime} is not in infra/aws/lambda-runtimes.json: add its dates from ${LAMBDA_RUNTIME_SCHEDULE.source}` };
  const horizon = new Date(Date.parse(`${today}T00:00:00Z`) + withinDays * 86_400_000).toISOString().slice(0, 10);
  if (horizon >= dates.blockFunctionUpdate) return { state: "update-blocked", dates, message: `AWS blocks updating ${runtime} functions from ${dates.blockFunctionUpdate}` };
  if (horizon >= dates.blockFunctionCreate) return { state: "create-blocked", dates, message: `AWS blocks creating ${runtime} functions from ${dates.blockFunctionCreate}` };
  if (horizon >= dates.deprecation) return { state: "deprecated", dates, message: `${runtime} is deprecated on Lambda from ${dates.deprecation}` };
  return { state: "supported", dates };
}
