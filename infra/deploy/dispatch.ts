/**
 * The one place the Pulumi program maps a job to its deployer: the provider
 * registry says how the job launches, and each launch target has exactly
 * one deployer (the map is exhaustive over the registry's clouds).
 */
import * as pulumi from "@pulumi/pulumi";
import { provider, type CloudId } from "../../core/providers/registry";
import { deployAws } from "../aws/deploy";
import { deployGcp } from "../gcp/deploy";
import { deployLocal } from "../local/deploy";
import type { DeployContext, Deployer } from "./context";

const CLOUD_DEPLOYERS: { readonly [C in CloudId]: Deployer } = {
  aws: deployAws,
  gcp: deployGcp,
};

export function deployJob(ctx: DeployContext): object {
  const entry = provider(ctx.plan.loaded.spec.provider);
  if (entry.launch === "this-machine") return deployLocal(ctx);
  if (entry.launch === "none" || !entry.cloud) return notYet(ctx);
  return CLOUD_DEPLOYERS[entry.cloud](ctx);
}

function notYet(ctx: DeployContext): never {
  throw new pulumi.RunError(
    `spotjob: the ${ctx.plan.loaded.spec.provider} stack is not available in this release. \`npx spotjob plan ${ctx.settings.jobArg}\` shows what it would run on and cost; ` +
      `\`npx spotjob run ${ctx.settings.jobArg}\` runs it on this machine.`,
  );
}
