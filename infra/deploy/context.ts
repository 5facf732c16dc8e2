/**
 * What a deployer gets: the job's plan and the stack's settings, all read
 * by the entry file (infra/index.ts, the only place config is read).
 */
import type { CloudSelection } from "../../core/offers/select";
import type { Plan } from "../../core/plan/plan";
import type { JobOutputs } from "../outputs";
import type { AwsStackSettings } from "../aws/provider-args";
import type * as pulumi from "@pulumi/pulumi";

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
  /** `spotjob:image`/`spotjob:ami`: a machine image instead of the Deep Learning image. */
  imageId?: string;
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
