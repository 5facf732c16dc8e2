/**
 * The stack outputs, typed per provider: a stack exports exactly its
 * provider's fields, never an `undefined` one (the engine warns about each on
 * every preview, and `pulumi stack output` would list fields that mean nothing).
 */
import type * as pulumi from "@pulumi/pulumi";

/** What every stack exports. */
export interface JobOutputs {
  job: string;
  provider: string;
  /** The instance and market, or "this machine". */
  chosen: string;
  pricePerHour: number;
  /** `null` when neither the spec nor the budget caps the runtime. */
  runtimeCapMinutes: number | null;
  /** The store URL `spotjob status --store` takes. */
  store: pulumi.Output<string>;
}

/** Launch-specific outputs of a `provider: local` stack. */
export interface LocalOutputs {
  log: string;
  /** What the start script printed (the runtime's pid and log). */
  started: pulumi.Output<string>;
}

/** Launch-specific outputs of a cloud stack (`provider: aws` or `gcp`). */
export interface CloudOutputs {
  bucket: pulumi.Output<string>;
  prefix: string;
  /** The job's groups: Auto Scaling group names (AWS), managed instance group paths `projects/P/regions/R/instanceGroupManagers/N` (GCP). */
  groups: pulumi.Output<string[]>;
  /** The supervisor: its Lambda function (AWS) or Cloud Run job (GCP). */
  supervisor: pulumi.Output<string>;
  uploads: pulumi.Output<string[]>;
  /** The commands that follow the job. */
  watch: pulumi.Output<string>;
}

export type AwsOutputs = CloudOutputs;
export type GcpOutputs = CloudOutputs;

export type StackOutputs = JobOutputs & (LocalOutputs | CloudOutputs);
