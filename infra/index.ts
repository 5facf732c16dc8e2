/**
 * The spotjob Pulumi program: one stack is one job. This is the only place
 * config is read; everything below takes typed arguments.
 *
 *   pulumi config set spotjob:job jobs/demo_local.yaml
 *   pulumi preview   # the dry run: chosen instance, price, guards
 *   pulumi up        # launch
 *   pulumi destroy   # tear down (results are kept)
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { formatUsd } from "../core/catalog/format";
import { formatHours } from "../core/guards/cost";
import { planFile } from "../core/plan/plan";
import { formatDiagnostic } from "../core/jobspec/diagnostics";
import type { AwsStackSettings } from "./aws/provider-args";
import type { GcpStackSettings, JobSettings } from "./deploy/context";
import { deployJob } from "./deploy/dispatch";
import type { StackOutputs } from "./outputs";

const projectRoot = resolve(__dirname, "..");
const config = new pulumi.Config("spotjob");
const specFile = resolve(projectRoot, config.require("job"));
const catalogFile = config.get("catalog") || undefined;
const settings: JobSettings = {
  jobArg: config.require("job"),
  catalogFile: catalogFile && resolve(projectRoot, catalogFile),
  storeOverride: config.get("store") || undefined,
  existingBucket: config.get("bucket") || undefined,
  deleteResultsOnDestroy: config.getBoolean("deleteResultsOnDestroy") ?? false,
  imageId: config.get("image") || config.get("ami") || undefined,
  gcpPreemptionNoticeSeconds: config.getNumber("gcpPreemptionNoticeSeconds"),
  subnetIds: config.getObject<string[]>("subnets"),
};

const plan = planFile(specFile, { catalogFile: settings.catalogFile });
const source = existsSync(specFile) ? readFileSync(specFile, "utf8") : undefined;
for (const w of plan.warnings) pulumi.log.warn(formatDiagnostic(w, source));
if (plan.outcome !== "ok") {
  // Fails preview before any resource is planned: a bad spec or a violated guard launches nothing.
  throw new pulumi.RunError(`spotjob: ${specFile} cannot be launched:\n${plan.errors.map((d) => formatDiagnostic(d, source)).join("\n")}`);
}

const { spec } = plan.loaded;
const selection = plan.selection;
if (!selection.local) {
  pulumi.log.info(
    `spotjob: ${spec.name} on ${selection.chosen.instanceType} (${selection.chosen.region}, ${selection.market}) at ${selection.chosen.spotEstimated && selection.market === "spot" ? "≤" : ""}${formatUsd(selection.pricePerHour)}/h` +
      (selection.fallback ? `, fallback ${selection.fallback.instanceType} on-demand at ${formatUsd(selection.fallback.onDemandPerHour)}/h` : "") +
      (plan.guards.runtimeCapMinutes !== null ? `; budget ${formatUsd(spec.cost.max_total_budget)} = ${formatHours(plan.guards.runtimeCapMinutes / 60)}` : ""),
  );
}

/** The stack's `aws:*` settings, read through the provider package's own typed getters (JSON lists and objects parsed). */
function awsStackSettings(): AwsStackSettings {
  const getters = aws.config as unknown as Record<string, unknown>;
  const known = Object.keys(getters).filter((key) => typeof getters[key] !== "function");
  const values = Object.fromEntries(known.map((key) => [key, getters[key]]).filter(([, value]) => value !== undefined));
  const setKeys = Object.keys(pulumi.runtime.allConfig()).filter((key) => key.startsWith("aws:"));
  return { values, known, setKeys };
}

/** The stack's `gcp:project` and `gcp:region` (the provider reads them, and its other settings, itself). */
function gcpStackSettings(): GcpStackSettings {
  const gcp = new pulumi.Config("gcp");
  return { project: gcp.get("project") || undefined, region: gcp.get("region") || undefined };
}

const outputs = deployJob({
  projectRoot,
  specFile,
  source,
  plan,
  stack: pulumi.getStack(),
  runtimeBundle: join(projectRoot, "dist", "runtime.cjs"),
  settings,
  awsSettings: awsStackSettings,
  gcpSettings: gcpStackSettings,
}) as StackOutputs;
// The stack's outputs are this object's keys: only the ones the provider has.
export = outputs;
