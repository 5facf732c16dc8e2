/**
 * A record of every AWS call the runtime makes, for proving the IAM policies
 * against what the code really does (test/infra/aws-policy-calls.test.ts).
 * Off unless SPOTJOB_AWS_CALL_LOG names a file when a client is made; then
 * each call appends one JSON line: the service, the command, the region and
 * the few input fields that decide which IAM action, resource and condition
 * context it needs (bucket, key, prefix, group, parameter, secret id). Never
 * a body, never an output: no object content and no secret value is written.
 */
import { appendFileSync } from "node:fs";

export const AWS_CALL_LOG_ENV = "SPOTJOB_AWS_CALL_LOG";

/** One recorded call. */
export interface AwsCallRecord {
  /** The client, without "Client": "S3", "AutoScaling", "SSM", "SecretsManager". */
  service: string;
  /** The command, without "Command": "GetObject", "SetDesiredCapacity". */
  command: string;
  region?: string;
  input: Record<string, unknown>;
}

/** The input fields recorded: names of resources and the flags that change the permission needed. Nothing else. */
const RECORDED_INPUT = ["Bucket", "Key", "Prefix", "AutoScalingGroupName", "AutoScalingGroupNames", "Name", "Names", "SecretId", "WithDecryption", "KeyId", "LogGroupName", "LogStreamName"] as const;

interface MiddlewareClient {
  middlewareStack: { add(middleware: unknown, options: { step: "initialize"; name: string }): void };
  config: { region?: unknown };
}

/** Adds the call log to an AWS SDK v3 client when SPOTJOB_AWS_CALL_LOG is set; returns the client. */
export function recordAwsCalls<C>(client: C, env: NodeJS.ProcessEnv = process.env): C {
  const file = env[AWS_CALL_LOG_ENV];
  if (!file) return client;
  const c = client as unknown as MiddlewareClient;
  c.middlewareStack.add(
    (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      const input: Record<string, unknown> = {};
      for (const field of RECORDED_INPUT) if (args.input?.[field] !== undefined) input[field] = args.input[field];
      let region: string | undefined;
      try {
        const r = c.config.region;
        region = typeof r === "function" ? await (r as () => Promise<string>)() : (r as string | undefined);
      } catch {
        region = undefined;
      }
      const record: AwsCallRecord = { service: (context.clientName ?? "").replace(/Client$/, ""), command: (context.commandName ?? "").replace(/Command$/, ""), region, input };
      try {
        appendFileSync(file, JSON.stringify(record) + "\n");
      } catch {
        // A log that cannot be written must never fail the call it describes.
      }
      return next(args);
    },
    { step: "initialize", name: "spotjobAwsCallLog" },
  );
  return client;
}
