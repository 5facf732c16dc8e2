/**
 * What every job component on every cloud shares: its type token, the
 * job's labels (AWS tags, GCP labels: `spotjob-job`, `spotjob-stack`), the
 * options each child gets (`{ parent: this }`, and `retainOnDelete` for what
 * must outlive the stack), and child names derived from the component's.
 */
import * as pulumi from "@pulumi/pulumi";

export interface JobIdentityLabels {
  /** The job's name (spec.name). */
  job: string;
  /** The Pulumi stack's name. */
  stack: string;
}

export abstract class JobComponent extends pulumi.ComponentResource {
  /** This component's name: every child's is `${name}-<part>`. */
  protected readonly baseName: string;

  constructor(type: string, name: string, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, {}, opts);
    this.baseName = name;
  }

  /** `${name}-${part}`: children's names derive from the component's, so two jobs in one stack never collide. */
  protected childName(part: string): string {
    return `${this.baseName}-${part}`;
  }

  /** Options for a child: parented here; `retain` keeps it (and what it holds) when the stack is destroyed. */
  protected child(opts: pulumi.CustomResourceOptions & { retain?: boolean } = {}): pulumi.CustomResourceOptions {
    const { retain, ...rest } = opts;
    return { ...rest, parent: this, ...(retain ? { retainOnDelete: true } : {}) };
  }
}

/** AWS tags: `spotjob:job`, `spotjob:stack`. */
export function awsTags(l: JobIdentityLabels): Record<string, string> {
  return { "spotjob:job": l.job, "spotjob:stack": l.stack };
}

/**
 * GCP labels: keys and values are lower-case letters, digits, `_` and `-`,
 * at most 63 characters (https://cloud.google.com/compute/docs/labeling-resources#requirements).
 */
export function gcpLabels(l: JobIdentityLabels): Record<string, string> {
  const value = (v: string) =>
    v
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, "-")
      .slice(0, 63);
  return { "spotjob-job": value(l.job), "spotjob-stack": value(l.stack) };
}
