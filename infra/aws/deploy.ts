/**
 * The AWS deployer: one stack is one region (the chosen offer's, or a reused
 * bucket's), with every `aws:*` setting of the stack reaching the provider.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { loadCatalog } from "../../core/catalog/catalog";
import { formatUsd } from "../../core/catalog/format";
import { formatHours } from "../../core/guards/cost";
import type { CloudSelection } from "../../core/offers/select";
import { secretGrants } from "../../core/jobspec/secrets";
import { CLOUD_OUTPUT_KEYS, cloudOutputs, deferredOutputs, summary, type Deferred, type DeployContext } from "../deploy/context";
import type { AwsOutputs, JobOutputs } from "../outputs";
import { AwsJob } from "./aws-job";
import { AWS_REGIONS, findBucketRegion } from "./bucket";
import { placeForBucket, type CloudPlan } from "./bucket-region";
import { awsNames } from "./names";
import { awsProviderArgs } from "./provider-args";

export function deployAws(ctx: DeployContext): (JobOutputs & AwsOutputs) | Deferred<JobOutputs & AwsOutputs> {
  const { plan } = ctx;
  if (plan.selection.local) throw new Error("deployAws: the plan is for this machine");
  const selection = plan.selection;
  return ctx.settings.existingBucket ? launchAwsInBucketRegion(ctx, { ...plan, selection }, ctx.settings.existingBucket) : { ...summary(ctx), ...launchAws(ctx, selection) };
}

function launchAws(ctx: DeployContext, selection: CloudSelection): Pick<JobOutputs, "store"> & AwsOutputs {
  if (!existsSync(ctx.runtimeBundle)) throw new pulumi.RunError(`spotjob: ${ctx.runtimeBundle} is missing: run \`npm run build\` (npm ci does it) before \`pulumi up\``);
  // One stack is one region (the chosen offer's); every other aws:* setting reaches the provider.
  const providerPlan = awsProviderArgs(ctx.awsSettings(), selection.chosen.region);
  for (const warning of providerPlan.warnings) pulumi.log.warn(`spotjob: ${warning}`);
  const provider = new aws.Provider("aws", providerPlan.args);
  logLiveSpotPrice(selection, provider);
  const { spec } = ctx.plan.loaded;
  const job = new AwsJob(
    spec.name,
    {
      spec,
      specDir: dirname(ctx.specFile),
      selection,
      stack: ctx.stack,
      runtimeBundle: ctx.runtimeBundle,
      secrets: secretGrants(spec),
      existingBucket: ctx.settings.existingBucket,
      deleteResultsOnDestroy: ctx.settings.deleteResultsOnDestroy,
      imageId: ctx.settings.imageId,
      subnetIds: ctx.settings.subnetIds,
    },
    { providers: { aws: provider } },
  );
  return cloudOutputs(ctx, job);
}

/** The dry run shows the market's price now when credentials allow, the catalog's otherwise. */
function logLiveSpotPrice(selection: CloudSelection, provider: aws.Provider): void {
  if (selection.market !== "spot") return;
  const { instanceType, region } = selection.chosen;
  aws.ec2
    .getSpotPrice({ instanceType, filters: [{ name: "product-description", values: ["Linux/UNIX"] }] }, { provider })
    .then(
      (live) => pulumi.log.info(`spotjob: live spot price of ${instanceType} in ${live.availabilityZone ?? region}: ${formatUsd(Number(live.spotPrice))}/h (catalog ${formatUsd(selection.pricePerHour)}/h)`),
      () => pulumi.log.info(`spotjob: no live spot price for ${instanceType} (no credentials or no offer); using the catalog's ${formatUsd(selection.pricePerHour)}/h`),
    );
}

/**
 * AWS with `spotjob:bucket`: the job runs in the bucket's region, looked up
 * now. The spec's open choice follows the bucket (offers chosen again there);
 * a region the spec pins elsewhere, or a GPU the bucket's region lacks, fails
 * the preview naming both regions and the ways out.
 */
function launchAwsInBucketRegion(ctx: DeployContext, first: CloudPlan, bucket: string): Deferred<JobOutputs & AwsOutputs> {
  const { spec } = ctx.plan.loaded;
  const options = { catalogFile: ctx.settings.catalogFile };
  const feasible = first.selection.feasible.map((o) => o.region);
  const catalogued = loadCatalog("aws", options.catalogFile ?? (process.env.SPOTJOB_CATALOG || undefined)).offers.flatMap((o) => Object.keys(o.regions));
  // Looked up from the job's first choice; a lookup in another region names it explicitly.
  const lookup = new aws.Provider("aws-bucket-lookup", awsProviderArgs(ctx.awsSettings(), first.selection.chosen.region).args);
  const launched = findBucketRegion(bucket, [first.selection.chosen.region, ...feasible, ...catalogued, ...AWS_REGIONS], lookup).then((region) => {
    const placed = placeForBucket(first, bucket, region, awsNames(spec.name, ctx.stack).prefix, options);
    if (!placed.ok) throw new pulumi.RunError(`spotjob: ${placed.message}`);
    const { selection: s, guards } = placed.plan;
    if (placed.movedFrom) {
      pulumi.log.info(
        `spotjob: spotjob:bucket ${bucket} is in ${region}: ${spec.name} runs there, on ${s.chosen.instanceType} (${s.market}) at ${formatUsd(s.pricePerHour)}/h, instead of ${placed.movedFrom}` +
          (guards.runtimeCapMinutes !== null ? `; budget ${formatUsd(spec.cost.max_total_budget)} = ${formatHours(guards.runtimeCapMinutes / 60)}` : ""),
      );
    }
    return { ...summary(ctx, placed.plan), ...launchAws(ctx, s) };
  });
  return deferredOutputs(launched, CLOUD_OUTPUT_KEYS);
}
