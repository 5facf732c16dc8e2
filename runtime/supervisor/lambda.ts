/**
 * The supervisor as an AWS Lambda handler: the same bundle as the runtime
 * (`runtime.handler`), run every minute by a schedule. Everything it needs
 * comes from one environment variable written by the Pulumi program,
 * SPOTJOB_SUPERVISOR (JSON, see core/wire/supervisor-config.ts); it holds no secret.
 */
import { superviseFromEnv, type SupervisorSummary } from "./run";

/** One supervisor run; what it decided goes to the function's log (and, as events, to the store). */
export async function handler(): Promise<SupervisorSummary> {
  const summary = await superviseFromEnv();
  console.log(JSON.stringify({ spotjob: "supervisor", ...summary }));
  return summary;
}
