/**
 * The GCP deployer: one stack is one region (the chosen offer's) in one
 * project. Resources use the default gcp provider, which reads every `gcp:*`
 * setting of the stack itself (an explicit provider would take only the
 * arguments given: see infra/aws/provider-args.ts), and each names its
 * project and region explicitly.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { secretReferences } from "../../core/jobspec/secrets";
import type { CloudSelection } from "../../core/offers/select";
import { CLOUD_OUTPUT_KEYS, cloudOutputs, deferredOutputs, summary, type Deferred, type DeployContext, type JobSettings } from "../deploy/context";
import type { GcpOutputs, JobOutputs } from "../outputs";
import { existingBucketProblem } from "./bucket";
import { MAX_PREEMPTION_NOTICE_SECONDS, type GroupPlan } from "./capacity-plan";
import { GcpJob } from "./gcp-job";
import { cloudQuotaId, gpuQuotaMetric, quotaIn, quotaWarning, type QuotaReading } from "./quota";

/** The `spotjob:*` setting that asks GCP for a preemption notice ahead of the soft-off, in seconds (Preview). */
export const PREEMPTION_NOTICE_SETTING = "gcpPreemptionNoticeSeconds";

/** `spotjob:gcpPreemptionNoticeSeconds`, checked: a whole number of seconds from 1 to 120, or absent. */
export function preemptionNotice(settings: JobSettings): number | undefined {
  const value = settings.gcpPreemptionNoticeSeconds;
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PREEMPTION_NOTICE_SECONDS) {
    throw new pulumi.RunError(
      `spotjob:${PREEMPTION_NOTICE_SETTING} is ${value}: GCP gives a preemption notice of 1 to ${MAX_PREEMPTION_NOTICE_SECONDS} whole seconds; ` +
        `\`pulumi config set spotjob:${PREEMPTION_NOTICE_SETTING} 120\`, or \`pulumi config rm spotjob:${PREEMPTION_NOTICE_SETTING}\` for none`,
    );
  }
  return value;
}

type Outputs = JobOutputs & GcpOutputs;

export function deployGcp(ctx: DeployContext): Outputs | Deferred<Outputs> {
  const bucket = ctx.settings.existingBucket;
  return bucket ? launchInExistingBucket(ctx, bucket) : launchGcp(ctx);
}

function launchGcp(ctx: DeployContext): Outputs {
  const { plan } = ctx;
  if (plan.selection.local) throw new Error("deployGcp: the plan is for this machine");
  const selection: CloudSelection = plan.selection;
  if (!existsSync(ctx.runtimeBundle)) throw new pulumi.RunError(`spotjob: ${ctx.runtimeBundle} is missing: run \`npm run build\` (npm ci does it) before \`pulumi up\``);
  const { spec } = plan.loaded;
  const stack = ctx.gcpSettings();
  const region = selection.chosen.region;
  if (stack.region && stack.region !== region) {
    pulumi.log.warn(`spotjob: the job runs in ${region}, where its offer is, not in the stack's gcp:region ${stack.region}; to run in ${stack.region}, set \`region: ${stack.region}\` in the job spec`);
  }
  const subnets = ctx.settings.subnetIds ?? [];
  if (subnets.length > 1) throw new pulumi.RunError(`spotjob:subnets names ${subnets.length} subnetworks; a GCP job's VMs use one: \`pulumi config set --path 'spotjob:subnets[0]' <subnetwork in ${region}>\` and remove the others`);
  const notice = preemptionNotice(ctx.settings);
  const project = stack.project
    ? pulumi.output(stack.project)
    : gcp.organizations.getClientConfigOutput({}).project.apply((p) => {
        if (!p) throw new pulumi.RunError("spotjob: no GCP project: `pulumi config set gcp:project <project-id>` (the project the job's VMs, bucket and accounts go in)");
        return p;
      });

  const job = new GcpJob(spec.name, {
    spec,
    specDir: dirname(ctx.specFile),
    selection,
    stack: ctx.stack,
    project,
    runtimeBundle: ctx.runtimeBundle,
    secrets: secretReferences(spec)
      .filter((r) => r.kind === "gcpsm")
      .map((r) => r.ref),
    existingBucket: ctx.settings.existingBucket,
    deleteResultsOnDestroy: ctx.settings.deleteResultsOnDestroy,
    image: ctx.settings.imageId,
    subnetwork: subnets[0],
    preemptionNoticeSeconds: notice,
  });
  if (pulumi.runtime.isDryRun()) {
    warnOnGpuQuota(project, region, "a spot VM", job.plans.primary);
    if (job.plans.onDemand) warnOnGpuQuota(project, region, "an on-demand VM (the fallback)", job.plans.onDemand);
  }
  return { ...summary(ctx), ...cloudOutputs(ctx, job) };
}

/**
 * GCP with `spotjob:bucket`: the bucket is looked up now, and one the job's
 * grants cannot be bound on (no uniform bucket-level access), or that cannot
 * be read, fails the preview once, naming it and the way out, before any
 * resource is registered.
 */
function launchInExistingBucket(ctx: DeployContext, bucket: string): Deferred<Outputs> {
  const launched = gcp.storage.getBucket({ name: bucket }).then(
    (found) => {
      const problem = existingBucketProblem(bucket, found);
      if (problem) throw new pulumi.RunError(problem);
      return launchGcp(ctx);
    },
    (e: unknown) => {
      const words = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim().slice(0, 400);
      throw new pulumi.RunError(`spotjob:bucket ${bucket} cannot be read: ${words}. Check the name (\`gcloud storage ls gs://${bucket}\`) and the stack's credentials, or \`pulumi config rm spotjob:bucket\` for a new bucket`);
    },
  );
  return deferredOutputs(launched, CLOUD_OUTPUT_KEYS);
}

/**
 * The dry run reads the group's GPU quotas when the credentials allow
 * (Cloud Quotas API) and warns when none allows one VM: a new project has
 * none, and without it the group retries creation forever. A read that fails
 * is said at info level: preview goes on.
 */
function warnOnGpuQuota(project: pulumi.Output<string>, region: string, what: string, plan: GroupPlan): void {
  const metrics = plan.acceleratorTypes.map((t) => gpuQuotaMetric(t, plan.market)).filter((m): m is string => m !== undefined);
  if (metrics.length === 0) return;
  project.apply(async (p) => {
    const read = async (metric: string): Promise<QuotaReading> => {
      try {
        const info = await gcp.cloudquota.getSQuotaInfo({ parent: `projects/${p}`, service: "compute.googleapis.com", quotaId: cloudQuotaId(metric) });
        return { metric, value: quotaIn(info, region) };
      } catch (e) {
        const why = ((e instanceof Error && e.message) || String(e ?? "")).split("\n")[0].slice(0, 200) || "no answer";
        pulumi.log.info(`spotjob: could not read the GCP quota ${metric} in ${region} (${why}); preview goes on without it`);
        return { metric, value: undefined };
      }
    };
    const readings = await Promise.all(metrics.map(read));
    const warning = quotaWarning({ region, gpus: plan.gpus, what }, readings, p);
    if (warning) pulumi.log.warn(warning);
    return p;
  });
}
