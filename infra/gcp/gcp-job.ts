import * as pulumi from "@pulumi/pulumi";
import type { ResolvedSpec } from "../../core/jobspec/load";
import type { CloudSelection } from "../../core/offers/select";
import { formatObjectStoreUrl } from "../../core/wire/store-url";
import { supervisorPolicy, type SupervisorConfig } from "../../core/wire/supervisor-config";
import { gcpLabels, JobComponent } from "../shared/component";
import { JobBucket } from "./bucket";
import { JobCapacity } from "./capacity";
import * as gcp from "@pulumi/gcp";
import { groupPlan, groupZones, type GroupPlan } from "./capacity-plan";
import { JobGroupRole, JobServiceAccount, type KnownScope } from "./identity";
import { gcpNames, groupPath } from "./names";
import { JobNetwork } from "./network";
import { gcpJobObjects } from "./objects";
import { groupPaths, instanceGrants, supervisorGrants, type GcpGrant } from "./policy";
import { renderGcpStartupScript } from "./startup-script";
import { JobSupervisor } from "./supervisor";

export interface GcpJobArgs {
  /** The validated spec. */
  spec: ResolvedSpec;
  /** Directory of the spec file (its `workdir` is relative to it). */
  specDir: string;
  /** The offer chosen for the spec (`selectOffers`), on GCP. */
  selection: CloudSelection;
  /** The stack's name: part of every fixed resource name, so stacks of one job never collide. */
  stack: string;
  /** The project the job runs in (the stack's `gcp:project`, or the provider's). */
  project: pulumi.Input<string>;
  /** The bundled runtime (dist/runtime.cjs): uploaded for the VM, and the supervisor's code. */
  runtimeBundle: string;
  /** The spec's `gcpsm:` references (their `ref`s): the only secrets the VM may read. */
  secrets: string[];
  /** Use this existing bucket (an earlier stack's results) instead of creating one. */
  existingBucket?: string;
  /** Delete the bucket and its results on `pulumi destroy`. Default false: results outlive the stack. */
  deleteResultsOnDestroy?: boolean;
  /** An image path or family instead of the Deep Learning VM image. */
  image?: string;
  /** A subnetwork instead of the default network's. */
  subnetwork?: string;
  /** Ask GCP for this many seconds of preemption notice (Preview; an opt-in). */
  preemptionNoticeSeconds?: number;
}

/**
 * One job on GCP: its bucket and uploads, two service accounts (the VM's
 * and the supervisor's, each confined to the job's objects, groups and
 * secrets), the firewall rules of its network tag, capacity (a spot group
 * and, when the spec asks, an on-demand standby) and the supervisor that
 * stops billing when the job ends, hangs, or spends its budget.
 */
export class GcpJob extends JobComponent {
  readonly bucket: pulumi.Output<string>;
  readonly prefix: string;
  readonly store: pulumi.Output<string>;
  /** The groups' paths, `projects/P/regions/R/instanceGroupManagers/N`. */
  readonly groups: pulumi.Output<string[]>;
  readonly supervisor: pulumi.Output<string>;
  readonly instanceGrants: pulumi.Output<GcpGrant[]>;
  readonly supervisorGrants: pulumi.Output<GcpGrant[]>;
  /** Keys of what the VM fetches at boot (runtime, spec, workdir). */
  readonly uploads: pulumi.Output<string[]>;
  /** What each group launches. */
  readonly plans: { primary: GroupPlan; onDemand?: GroupPlan };

  constructor(name: string, args: GcpJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:Job", name, opts);
    const { spec, selection } = args;
    const names = gcpNames(spec.name, args.stack);
    const labels = gcpLabels({ job: spec.name, stack: args.stack });
    const region = selection.chosen.region;
    const project = pulumi.output(args.project);
    const parent = this.child();

    const primary = groupPlan(selection, selection.market);
    const onDemand = selection.fallback ? groupPlan(selection, "on-demand") : undefined;
    this.plans = { primary, ...(onDemand ? { onDemand } : {}) };
    // The primary group is named for its market: without `use_spot` it is the on-demand one (and there is no standby).
    const primaryName = selection.market === "spot" ? names.spotGroup : names.onDemandGroup;
    const groupNames = [primaryName, ...(onDemand ? [names.onDemandGroup] : [])];
    const paths = project.apply((p) => groupPaths({ project: p, region, groupNames }));

    const bucket = new JobBucket(name, { location: region, project, prefix: names.prefix, existingBucket: args.existingBucket, deleteOnDestroy: args.deleteResultsOnDestroy, labels }, parent);
    const objects = gcpJobObjects(name, { bucket: bucket.bucketName, prefix: names.prefix, runtimeBundle: args.runtimeBundle, spec, specDir: args.specDir }, parent);
    const role = new JobGroupRole(this.childName("groups"), { roleId: names.groupRole, project }, parent);
    // What both identities are confined to.
    const known: KnownScope = { region, prefix: names.prefix, groupNames };
    const late = pulumi.all([project, bucket.bucketName, role.roleName]).apply(([p, b, r]) => ({ project: p, bucket: b, groupRole: r }));
    const instance = new JobServiceAccount(
      this.childName("instance"),
      { accountId: names.instanceAccount, displayName: `spotjob VM of ${spec.name}`, project, known, late, grants: (s) => instanceGrants({ ...s, secrets: args.secrets }) },
      parent,
    );
    const network = new JobNetwork(name, { project, region, networkTag: names.networkTag, subnetwork: args.subnetwork, ssh: spec.ssh ? { cidrs: spec.ssh.cidrs } : undefined }, parent);
    const startupScript = pulumi.all([project, bucket.bucketName, objects.runtimeKey, objects.specKey, objects.workdirKey, paths]).apply(([p, bucketName, runtimeKey, specKey, workdirKey, groups]) => {
      try {
        return renderGcpStartupScript({ jobName: spec.name, project: p, bucket: bucketName, prefix: names.prefix, runtimeKey, specKey, workdirKey, groupPaths: groups });
      } catch (e) {
        throw new pulumi.RunError(`spotjob: ${(e as Error).message}`);
      }
    });
    // Every zone of the region that is up, unless the spec names its zones.
    const zones = spec.zones?.length
      ? pulumi.output(groupZones(spec.zones, []))
      : gcp.compute.getZonesOutput({ project, region, status: "UP" }, parent).names.apply((up) => groupZones(undefined, up));
    new JobCapacity(
      name,
      {
        project,
        region,
        zones,
        image: args.image,
        serviceAccountEmail: instance.email,
        network: network.network,
        subnetwork: network.subnetwork,
        networkTag: names.networkTag,
        diskSizeGb: spec.disk_size,
        startupScript,
        sshPublicKey: spec.ssh?.public_key,
        preemptionNoticeSeconds: args.preemptionNoticeSeconds,
        primary: { name: primaryName, plan: primary },
        onDemand: onDemand ? { name: names.onDemandGroup, plan: onDemand } : undefined,
        labels,
      },
      // No VM boots before its permissions and files are in place.
      this.child({ dependsOn: [...instance.bindings, objects] }),
    );

    // Every job has a budget (default $5), and only the supervisor can enforce it against a hung job (as on AWS).
    const supervisorAccount = new JobServiceAccount(
      this.childName("supervisor"),
      { accountId: names.supervisorAccount, displayName: `spotjob supervisor of ${spec.name}`, project, known, late, grants: supervisorGrants },
      parent,
    );
    const config = pulumi.all([project, bucket.bucketName]).apply(
      ([p, bucketName]): SupervisorConfig => ({
        store: formatObjectStoreUrl("gs", bucketName, names.prefix),
        spot: { name: groupPath(p, region, primaryName), pricePerHour: primary.maxPricePerHour },
        onDemand: onDemand ? { name: groupPath(p, region, names.onDemandGroup), pricePerHour: onDemand.maxPricePerHour } : undefined,
        policy: supervisorPolicy(spec, onDemand !== undefined),
      }),
    );
    const supervisor = new JobSupervisor(
      name,
      {
        project,
        region,
        jobName: names.supervisorJob,
        serviceAccountEmail: supervisorAccount.email,
        member: supervisorAccount.member,
        bucket: bucket.bucketName,
        runtimeKey: objects.runtimeKey,
        config,
        labels,
      },
      this.child({ dependsOn: [...supervisorAccount.bindings, objects] }),
    );

    this.bucket = bucket.bucketName;
    this.prefix = names.prefix;
    this.store = bucket.bucketName.apply((b) => formatObjectStoreUrl("gs", b, names.prefix));
    this.groups = paths;
    this.supervisor = supervisor.jobName;
    this.instanceGrants = instance.grants;
    this.supervisorGrants = supervisorAccount.grants;
    this.uploads = pulumi.all([objects.runtimeKey, objects.specKey, objects.workdirKey]).apply((keys) => keys.filter((k): k is string => k !== undefined));
    this.registerOutputs({ bucket: this.bucket, store: this.store, groups: this.groups, supervisor: this.supervisor, uploads: this.uploads });
  }
}
