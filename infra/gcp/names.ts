/**
 * Names of the job's GCP resources that other resources must know before
 * they exist (the groups in the IAM conditions, the startup script and the
 * supervisor's configuration; the service accounts in the bindings): derived
 * from the job and the stack, so two stacks of one job never collide. Pure.
 *
 * GCP's rules: resource names (groups, network tags, Cloud Run and Cloud
 * Scheduler jobs) are RFC 1035 labels, lower case, at most 63 characters
 * (https://cloud.google.com/compute/docs/naming-resources); a service
 * account's id is 6 to 30 lower-case letters, digits and dashes
 * (https://cloud.google.com/iam/docs/service-accounts-create#creating); a
 * custom role's id is 3 to 64 letters, digits, `_` and `.`
 * (https://cloud.google.com/iam/docs/creating-custom-roles#creating).
 * Job names are already lower-case letters, digits and dashes, 2 to 40 long
 * (core/jobspec/schema.ts): only length needs care here.
 */
import { createHash } from "node:crypto";

export interface GcpNames {
  /** Object-name prefix of the job's objects in the bucket (the store is gs://bucket/prefix). */
  prefix: string;
  /** The spot (or, without `use_spot`, the on-demand) managed instance group. */
  spotGroup: string;
  /** The on-demand standby group (the spec's `spot_fallback`). */
  onDemandGroup: string;
  /** The network tag on the job's VMs: what its firewall rules target. */
  networkTag: string;
  /** The instance's service account id. */
  instanceAccount: string;
  /** The supervisor's service account id. */
  supervisorAccount: string;
  /** The custom role (resize and read of managed instance groups), bound only to the job's own groups. */
  groupRole: string;
  /** The supervisor's Cloud Run job, and the Cloud Scheduler job that runs it. */
  supervisorJob: string;
}

const RESOURCE_MAX = 63;
/** Cloud Run names are at most 49 characters for a service; the job's is kept within the same bound. */
const CLOUD_RUN_MAX = 49;
const ACCOUNT_MAX = 30;

/** The first `max` characters of a name, without a dash at the end (a label may not end with one). */
function cut(name: string, max: number): string {
  return name.slice(0, max).replace(/-+$/, "");
}

/** `projects/P/regions/R/instanceGroupManagers/N`: how the runtime, the supervisor and the IAM conditions name a regional group. */
export { formatGroupPath as groupPath } from "../../core/wire/gcp-group-path";

export function gcpNames(jobName: string, stack: string): GcpNames {
  const suffix = createHash("sha256").update(`${stack}\n${jobName}`).digest("hex").slice(0, 6);
  // "spotjob-" + job + "-" + suffix + "-ondemand" stays within 63.
  const base = `spotjob-${cut(jobName, RESOURCE_MAX - "spotjob-".length - "-123456".length - "-ondemand".length)}-${suffix}`;
  const account = (role: string) => `sj-${cut(jobName, ACCOUNT_MAX - "sj-".length - "-123456".length - role.length - 1)}-${suffix}-${role}`;
  return {
    prefix: `jobs/${jobName}`,
    spotGroup: `${base}-spot`,
    onDemandGroup: `${base}-ondemand`,
    networkTag: base,
    instanceAccount: account("vm"),
    supervisorAccount: account("sv"),
    groupRole: `spotjob_${jobName.replace(/-/g, "_")}_${suffix}_groups`,
    supervisorJob: `spotjob-${cut(jobName, CLOUD_RUN_MAX - "spotjob-".length - "-123456".length - "-sup".length)}-${suffix}-sup`,
  };
}
