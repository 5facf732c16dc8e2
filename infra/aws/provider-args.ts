/**
 * The explicit AWS provider's arguments from the stack's `aws:*` settings.
 * An explicit provider reads no stack configuration by itself (only the
 * default provider does), so every setting a user makes (`aws:profile`,
 * `aws:assumeRoles`, `aws:endpoints`, …) must be passed on, or it is
 * silently ignored. Pure: the entry file reads the config and hands it here.
 */
import type * as aws from "@pulumi/aws";
import { closest } from "../../core/jobspec/suggest";

export interface AwsProviderPlan {
  args: aws.ProviderArgs;
  warnings: string[];
}

export interface AwsStackSettings {
  /** The stack's `aws:*` values that are set, typed as the provider package declares them (key without `aws:`). */
  values: Record<string, unknown>;
  /** Every setting the provider package declares. */
  known: string[];
  /** Every `aws:*` key set on the stack, to catch ones the provider does not know. */
  setKeys: string[];
}

/** `region` is the job's (the chosen offer's): one stack is one region, whatever `aws:region` says. */
export function awsProviderArgs(stack: AwsStackSettings, region: string): AwsProviderPlan {
  const warnings: string[] = [];
  for (const key of stack.setKeys) {
    const name = key.replace(/^aws:/, "");
    if (stack.known.includes(name)) continue;
    // v7 replaced `assumeRole` with the list `assumeRoles`: the commonest stale setting.
    const suggestion = name === "assumeRole" ? "assumeRoles" : closest(name, stack.known);
    warnings.push(`\`${key}\` is not a setting of the aws provider and is ignored${suggestion ? `: did you mean \`aws:${suggestion}\`?` : ""}`);
  }
  const stackRegion = stack.values.region;
  if (typeof stackRegion === "string" && stackRegion !== "" && stackRegion !== region) {
    warnings.push(`the job runs in ${region}, where its offer is, not in the stack's aws:region ${stackRegion}; to run in ${stackRegion}, set \`region: ${stackRegion}\` in the job spec`);
  }
  return { args: { ...stack.values, region: region as aws.Region } as aws.ProviderArgs, warnings };
}
