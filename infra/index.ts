/**
 * The spotjob Pulumi program: one stack is one job. This is the only place
 * config is read; everything below takes typed arguments.
 *
 *   pulumi config set spotjob:job jobs/demo_local.yaml
 *   pulumi preview   # the dry run: chosen instance, price, guards
 *   pulumi up        # launch
 *   pulumi destroy   # tear down (results are kept)
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { formatUsd } from "../core/catalog/format";
import { formatHours } from "../core/guards/cost";
import type { CloudSelection, Selection } from "../core/offers/select";
import type { GuardReport } from "../core/guards/cost";
import { loadCatalog } from "../core/catalog/catalog";
import { planFile } from "../core/plan/plan";
import { formatDiagnostic } from "../core/jobspec/diagnostics";
import { secretGrants } from "../core/jobspec/secrets";
import { AwsJob } from "./aws/aws-job";
import { AWS_REGIONS, findBucketRegion } from "./aws/bucket";
import { placeForBucket, type CloudPlan } from "./aws/bucket-region";
import { awsNames } from "./aws/names";
import { awsProviderArgs, type AwsStackSettings } from "./aws/provider-args";
import { localJobHome, machineStateDir } from "../runtime/local-home";
import { LocalJob } from "./local/local-job";
import type { AwsOutputs, JobOutputs, LocalOutputs, StackOutputs } from "./outputs";

const projectRoot = resolve(__dirname, "..");
const config = new pulumi.Config("spotjob");
const specFile = resolve(projectRoot, config.require("job"));
const catalogFile = config.get("catalog") || undefined;
const storeOverride = config.get("store") || undefined;
/** AWS: reuse an existing bucket (an earlier stack's results) instead of creating one. */
const existingBucket = config.get("bucket") || undefined;
/** AWS: delete the bucket and its results on `pulumi destroy` (default: keep them). */
const deleteResultsOnDestroy = config.getBoolean("deleteResultsOnDestroy") ?? false;
/** AWS: an AMI id or `resolve:ssm:` parameter instead of the Deep Learning Base AMI. */
const imageId = config.get("ami") || undefined;
/** AWS: subnets to launch in instead of the default VPC's. */
const subnetIds = config.getObject<string[]>("subnets");
const runtimeBundle = join(projectRoot, "dist", "runtime.cjs");

const plan = planFile(specFile, { catalogFile: catalogFile && resolve(projectRoot, catalogFile) });
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

function launchLocal(): Pick<JobOutputs, "store"> & LocalOutputs {
  const home = localJobHome(projectRoot, spec.name);
  const storeUrl = storeOverride ?? home.store;
  const job = new LocalJob(spec.name, {
    jobName: spec.name,
    specFile,
    specHash: createHash("sha256").update(source ?? "").digest("hex"),
    storeUrl,
    stateDir: machineStateDir(home, storeUrl),
    runtimeBundle,
  });
  return { store: job.storeUrl, log: job.logFile, started: job.started };
}

function launchAws(selection: CloudSelection): Pick<JobOutputs, "store"> & AwsOutputs {
  if (!existsSync(runtimeBundle)) throw new pulumi.RunError(`spotjob: ${runtimeBundle} is missing: run \`npm run build\` (npm ci does it) before \`pulumi up\``);
  // One stack is one region (the chosen offer's); every other aws:* setting reaches the provider.
  const providerPlan = awsProviderArgs(awsStackSettings(), selection.chosen.region);
  for (const warning of providerPlan.warnings) pulumi.log.warn(`spotjob: ${warning}`);
  const provider = new aws.Provider("aws", providerPlan.args);
  logLiveSpotPrice(selection, provider);
  const job = new AwsJob(
    spec.name,
    {
      spec,
      specDir: dirname(specFile),
      selection,
      stack: pulumi.getStack(),
      runtimeBundle,
      secrets: secretGrants(spec),
      existingBucket,
      deleteResultsOnDestroy,
      imageId,
      subnetIds,
    },
    { providers: { aws: provider } },
  );
  const storeArg = job.store.apply((url) => `--store ${url}`);
  return {
    store: job.store,
    bucket: job.bucket,
    prefix: job.prefix,
    groups: job.groups,
    supervisor: job.supervisor,
    uploads: job.uploads,
    watch: pulumi.interpolate`npx spotjob status ${config.require("job")} ${storeArg}   |   npx spotjob logs ${config.require("job")} ${storeArg}`,
  };
}

/** The stack's `aws:*` settings, read through the provider package's own typed getters (JSON lists and objects parsed). */
function awsStackSettings(): AwsStackSettings {
  const getters = aws.config as unknown as Record<string, unknown>;
  const known = Object.keys(getters).filter((key) => typeof getters[key] !== "function");
  const values = Object.fromEntries(known.map((key) => [key, getters[key]]).filter(([, value]) => value !== undefined));
  const setKeys = Object.keys(pulumi.runtime.allConfig()).filter((key) => key.startsWith("aws:"));
  return { values, known, setKeys };
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

function notYet(provider: string): never {
  throw new pulumi.RunError(
    `spotjob: the ${provider} stack is not available in this release. \`npx spotjob plan ${config.require("job")}\` shows what it would run on and cost; ` +
      `\`npx spotjob run ${config.require("job")}\` runs it on this machine.`,
  );
}

/** What every stack exports about where the job runs and what it costs. */
function summary(p: { selection: Selection; guards: GuardReport }): Omit<JobOutputs, "store"> {
  const s = p.selection;
  return {
    job: spec.name,
    provider: spec.provider,
    chosen: s.local ? "this machine" : `${s.chosen.instanceType} (${s.chosen.region}, ${s.market})`,
    pricePerHour: s.pricePerHour,
    runtimeCapMinutes: p.guards.runtimeCapMinutes,
  };
}

/** Outputs known once a promise settles (a failed one fails the preview with its message). */
type Deferred<T> = { [K in keyof T]-?: pulumi.Output<pulumi.Unwrap<T[K]>> };

/**
 * AWS with `spotjob:bucket`: the job runs in the bucket's region, looked up
 * now. The spec's open choice follows the bucket (offers chosen again there);
 * a region the spec pins elsewhere, or a GPU the bucket's region lacks, fails
 * the preview naming both regions and the ways out.
 */
function launchAwsInBucketRegion(first: CloudPlan, bucket: string): Deferred<JobOutputs & AwsOutputs> {
  const options = { catalogFile: catalogFile && resolve(projectRoot, catalogFile) };
  const feasible = first.selection.feasible.map((o) => o.region);
  const catalogued = loadCatalog("aws", options.catalogFile ?? (process.env.SPOTJOB_CATALOG || undefined)).offers.flatMap((o) => Object.keys(o.regions));
  // Looked up from the job's first choice; a lookup in another region names it explicitly.
  const lookup = new aws.Provider("aws-bucket-lookup", awsProviderArgs(awsStackSettings(), first.selection.chosen.region).args);
  const launched = findBucketRegion(bucket, [first.selection.chosen.region, ...feasible, ...catalogued, ...AWS_REGIONS], lookup).then((region) => {
    const placed = placeForBucket(first, bucket, region, awsNames(spec.name, pulumi.getStack()).prefix, options);
    if (!placed.ok) throw new pulumi.RunError(`spotjob: ${placed.message}`);
    const { selection: s, guards } = placed.plan;
    if (placed.movedFrom) {
      pulumi.log.info(
        `spotjob: spotjob:bucket ${bucket} is in ${region}: ${spec.name} runs there, on ${s.chosen.instanceType} (${s.market}) at ${formatUsd(s.pricePerHour)}/h, instead of ${placed.movedFrom}` +
          (guards.runtimeCapMinutes !== null ? `; budget ${formatUsd(spec.cost.max_total_budget)} = ${formatHours(guards.runtimeCapMinutes / 60)}` : ""),
      );
    }
    return { ...summary(placed.plan), ...launchAws(s) };
  });
  const out = <K extends keyof (JobOutputs & AwsOutputs)>(key: K) => {
    const output = pulumi.output(launched.then((o) => o[key])) as Deferred<JobOutputs & AwsOutputs>[K];
    // A refusal fails the preview once, through the exported value, not again as an unhandled rejection of each output's bookkeeping.
    const internal = output as unknown as { isKnown?: unknown; isSecret?: unknown };
    for (const p of [internal.isKnown, internal.isSecret]) if (p instanceof Promise) p.catch(() => undefined);
    return output;
  };
  return {
    job: out("job"),
    provider: out("provider"),
    chosen: out("chosen"),
    pricePerHour: out("pricePerHour"),
    runtimeCapMinutes: out("runtimeCapMinutes"),
    store: out("store"),
    bucket: out("bucket"),
    prefix: out("prefix"),
    groups: out("groups"),
    supervisor: out("supervisor"),
    uploads: out("uploads"),
    watch: out("watch"),
  };
}

const outputs: StackOutputs | Deferred<JobOutputs & AwsOutputs> = selection.local
  ? { ...summary(plan), ...launchLocal() }
  : selection.cloud !== "aws"
    ? notYet(spec.provider)
    : existingBucket
      ? launchAwsInBucketRegion({ ...plan, selection }, existingBucket)
      : { ...summary(plan), ...launchAws(selection) };
// The stack's outputs are this object's keys: only the ones the provider has.
export = outputs;
