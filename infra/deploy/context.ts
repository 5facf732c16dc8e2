/**
 * What a deployer gets: the job's plan and the stack's settings, all read
 * by the entry file (infra/index.ts, the only place config is read).
 */
import type { CloudSelection } from "../../core/offers/select";
import type { Plan } from "../../core/plan/plan";
import type { CloudOutputs, JobOutputs } from "../outputs";
import type { AwsStackSettings } from "../aws/provider-args";
import * as pulumi from "@pulumi/pulumi";

export type ReadyPlan = Extract<Plan, { outcome: "ok" }>;

/** `spotjob:*` settings every deployer may read. */
export interface JobSettings {
  /** The spec file as the stack names it (`spotjob:job`), for the commands the outputs suggest. */
  jobArg: string;
  catalogFile?: string;
  /** `spotjob:store`: a local job's store instead of `.spotjob/<job>/`. */
  storeOverride?: string;
  /** `spotjob:bucket`: an existing bucket (an earlier stack's results) instead of a new one. */
  existingBucket?: string;
  /** `spotjob:deleteResultsOnDestroy`: delete the bucket and its results on `pulumi destroy` (default: keep them). */
  deleteResultsOnDestroy: boolean;
  /** `spotjob:image` (or `spotjob:ami`): a machine image instead of the Deep Learning image. */
  imageId?: string;
  /** `spotjob:gcpPreemptionNoticeSeconds`: ask GCP for a preemption notice this long before the soft-off (Preview). */
  gcpPreemptionNoticeSeconds?: number;
  /** `spotjob:subnets`: subnets (AWS) or a subnetwork (GCP) instead of the default network's. */
  subnetIds?: string[];
}

export interface DeployContext {
  projectRoot: string;
  /** Absolute path of the spec file and its text. */
  specFile: string;
  source?: string;
  plan: ReadyPlan;
  stack: string;
  /** The bundled runtime (dist/runtime.cjs). */
  runtimeBundle: string;
  settings: JobSettings;
  /** The stack's `aws:*` settings, read on demand. */
  awsSettings: () => AwsStackSettings;
  /** The stack's `gcp:*` settings, read on demand. */
  gcpSettings: () => GcpStackSettings;
}

/** The stack's `gcp:*` settings the program uses (the provider takes the rest itself). */
export interface GcpStackSettings {
  project?: string;
  region?: string;
}

/** Outputs known once a promise settles (a failed one fails the preview with its message). */
export type Deferred<T> = { [K in keyof T]-?: pulumi.Output<pulumi.Unwrap<T[K]>> };

/** What a cloud job component exposes for the stack's outputs. */
export interface CloudJobView {
  store: pulumi.Output<string>;
  bucket: pulumi.Output<string>;
  prefix: string;
  groups: pulumi.Output<string[]>;
  supervisor: pulumi.Output<string>;
  uploads: pulumi.Output<string[]>;
}

/** A cloud stack's outputs (bar the summary), with the commands that follow the job. */
export function cloudOutputs(ctx: Pick<DeployContext, "settings">, job: CloudJobView): Pick<JobOutputs, "store"> & CloudOutputs {
  const storeArg = job.store.apply((url) => `--store ${url}`);
  const spec = ctx.settings.jobArg;
  return {
    store: job.store,
    bucket: job.bucket,
    prefix: job.prefix,
    groups: job.groups,
    supervisor: job.supervisor,
    uploads: job.uploads,
    watch: pulumi.interpolate`npx spotjob status ${spec} ${storeArg}   |   npx spotjob logs ${spec} ${storeArg}`,
  };
}

/** The keys every cloud stack exports. */
export const CLOUD_OUTPUT_KEYS = ["job", "provider", "chosen", "pricePerHour", "runtimeCapMinutes", "store", "bucket", "prefix", "groups", "supervisor", "uploads", "watch"] as const;

/** Each of `keys` as an output of what `launched` resolves to: a refusal fails the preview once, with its message. */
export function deferredOutputs<T extends object>(launched: Promise<T>, keys: readonly (keyof T)[]): Deferred<T> {
  const out = (key: keyof T) => {
    const output = pulumi.output(launched.then((o) => o[key]));
    // Once, through the exported value: not again as an unhandled rejection of each output's bookkeeping.
    const internal = output as unknown as { isKnown?: unknown; isSecret?: unknown };
    for (const p of [internal.isKnown, internal.isSecret]) if (p instanceof Promise) p.catch(() => undefined);
    return output;
  };
  return Object.fromEntries(keys.map((key) => [key, out(key)])) as Deferred<T>;
}

/** A deployer: one provider's resources for a job, and the stack's outputs. */
export type Deployer = (ctx: DeployContext) => object;

/** What every stack exports about where the job runs and what it costs. */
export function summary(ctx: Pick<DeployContext, "plan">, p: { selection: ReadyPlan["selection"]; guards: ReadyPlan["guards"] } = ctx.plan): Omit<JobOutputs, "store"> {
  const s = p.selection;
  const { spec } = ctx.plan.loaded;
  return {
    job: spec.name,
    provider: spec.provider,
    chosen: s.local ? "this machine" : `${s.chosen.instanceType} (${s.chosen.region}, ${s.market})`,
    pricePerHour: s.pricePerHour,
    runtimeCapMinutes: p.guards.runtimeCapMinutes,
  };
}

export type { CloudSelection };
