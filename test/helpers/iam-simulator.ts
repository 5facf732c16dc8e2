/**
 * IAM policy evaluation for tests, with @cloud-copilot/iam-simulate (a
 * devDependency, AGPL: tests only, never imported by the product): identity
 * policies with every condition operator, the way IAM evaluates them, instead
 * of a hand-written matcher.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { PolicyDocument } from "../../infra/aws/policy";

export const TEST_ACCOUNT = "123456789012";

export type ConditionContext = Record<string, string | string[]>;

export interface Decision {
  allowed: boolean;
  /** "Allowed", "ImplicitlyDenied", "ExplicitlyDenied", or the simulator's validation error. */
  result: string;
}

/** How IAM decides `action` on `resource` with `context` for a principal whose only policy is `document`. */
export async function evaluate(document: PolicyDocument, action: string, resource: string, context: ConditionContext = {}, accountId = TEST_ACCOUNT): Promise<Decision> {
  // A KMS key's own policy must allow too: the default one lets the account's IAM policies decide (what the job's keys need).
  const resourcePolicy = action.startsWith("kms:")
    ? { Version: "2012-10-17", Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" }] }
    : undefined;
  const response = await runSimulation(
    {
      identityPolicies: [{ name: "policy", policy: document as unknown as Record<string, unknown> }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy,
      request: { action, principal: `arn:aws:iam::${accountId}:role/spotjob-under-test`, resource: { resource, accountId }, contextVariables: context },
    } as Parameters<typeof runSimulation>[0],
    {},
  );
  if (response.resultType === "error") return { allowed: false, result: `simulation error: ${JSON.stringify(response.errors)}` };
  return { allowed: response.overallResult === "Allowed", result: String(response.overallResult) };
}

/** Whether `document` allows `action` on `resource` in `context`. A request the simulator rejects as invalid is an error, not a "no". */
export async function allows(document: PolicyDocument, action: string, resource: string, context: ConditionContext = {}): Promise<boolean> {
  const d = await evaluate(document, action, resource, context);
  if (d.result.startsWith("simulation error")) throw new Error(`${action} on ${resource}: ${d.result}`);
  return d.allowed;
}
