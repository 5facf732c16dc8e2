import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { CloudSelection } from "../../core/offers/select";
import type { ResolvedSpec } from "../../core/jobspec/load";
import { formatObjectStoreUrl } from "../../core/wire/store-url";
import { supervisorPolicy, type SupervisorConfig } from "../../core/wire/supervisor-config";
import { awsTags, JobComponent } from "../shared/component";
import { JobBucket } from "./bucket";
import { JobCapacity } from "./capacity";
import { JobIdentity } from "./identity";
import { awsNames } from "./names";
import type { JobScope } from "./policy";
import { JobNetwork } from "./network";
import { awsJobObjects } from "./objects";
import { renderStartupScript } from "./startup-script";
import { JobSupervisor } from "./supervisor";

export interface AwsJobArgs {
  /** The validated spec. */
  spec: ResolvedSpec;
  /** Directory of the spec file (its `workdir` is relative to it). */
  specDir: string;
  /** The offer chosen for the spec (`selectOffer`), on AWS. */
  selection: CloudSelection;
  /** The stack's name: part of every fixed resource name, so stacks of one job never collide. */
  stack: string;
  /** The bundled runtime (dist/runtime.cjs): uploaded for the instance, and the supervisor's code. */
  runtimeBundle: string;
  /** SSM parameter names / Secrets Manager ARNs the spec references (read at boot, never in user data). */
  secrets: string[];
  /** Use this existing bucket (an earlier stack's results) instead of creating one. */
  existingBucket?: string;
  /** Delete the bucket and its results on `pulumi destroy`. Default false: results outlive the stack. */
  deleteResultsOnDestroy?: boolean;
  /** AMI id or `resolve:ssm:` parameter. Default: the Deep Learning Base AMI. */
  imageId?: string;
  /** Subnets to use instead of the default VPC's. */
  subnetIds?: string[];
}

/** Instance types cheapest first in one market, among the feasible offers in the chosen region. */
function typesIn(selection: CloudSelection, market: "spot" | "on-demand"): { types: string[]; maxPrice: number } {
  const offers = selection.feasible
    .filter((o) => o.region === selection.chosen.region)
    .sort((a, b) => (market === "spot" ? a.spotPerHour - b.spotPerHour : a.onDemandPerHour - b.onDemandPerHour));
  const price = (o: (typeof offers)[number]) => (market === "spot" ? o.spotPerHour : o.onDemandPerHour);
  return { types: [...new Set(offers.map((o) => o.instanceType))], maxPrice: Math.max(...offers.map(price)) };
}

/**
 * One job on AWS: its bucket and uploads, identity, network, capacity
 * (spot, with an on-demand fallback when the spec asks) and the supervisor
 * that stops billing when the job ends, hangs, or spends its budget.
 */
export class AwsJob extends JobComponent {
  readonly bucket: pulumi.Output<string>;
  readonly prefix: string;
  readonly store: pulumi.Output<string>;
  readonly groups: pulumi.Output<string[]>;
  readonly supervisor: pulumi.Output<string>;
  readonly instancePolicy: pulumi.Output<unknown>;
  /** Keys of what the instance fetches at boot (runtime, spec, workdir). */
  readonly uploads: pulumi.Output<string[]>;

  constructor(name: string, args: AwsJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:Job", name, opts);
    const { spec, selection } = args;
    const names = awsNames(spec.name, args.stack);
    const tags = awsTags({ job: spec.name, stack: args.stack });
    const parent = this.child();
    const identityFacts = { partition: aws.getPartitionOutput({}, parent).partition, region: aws.getRegionOutput({}, parent).region, accountId: aws.getCallerIdentityOutput({}, parent).accountId };

    const primaryMarket = selection.market;
    const primary = typesIn(selection, primaryMarket);
    const fallback = selection.fallback ? typesIn(selection, "on-demand") : undefined;
    const groupNames = [names.spotGroup, ...(fallback ? [names.onDemandGroup] : [])];

    const bucket = new JobBucket(name, { jobName: spec.name, prefix: names.prefix, existingBucket: args.existingBucket, deleteOnDestroy: args.deleteResultsOnDestroy, tags }, parent);
    const objects = awsJobObjects(name, { bucket: bucket.bucketName, prefix: names.prefix, runtimeBundle: args.runtimeBundle, spec, specDir: args.specDir, tags }, parent);
    // What both roles are confined to.
    const scope = pulumi
      .all([identityFacts.partition, identityFacts.region, identityFacts.accountId, bucket.bucketName])
      .apply(([partition, region, accountId, bucketName]): JobScope => ({ partition, region, accountId, bucket: bucketName, prefix: names.prefix, groupNames }));
    const identity = new JobIdentity(name, { scope, secrets: args.secrets, tags }, parent);
    const network = new JobNetwork(name, { subnetIds: args.subnetIds, zones: spec.zones, ssh: spec.ssh ? { publicKey: spec.ssh.public_key, cidrs: spec.ssh.cidrs } : undefined, tags }, parent);
    const userData = pulumi.all([identityFacts.region, bucket.bucketName, objects.runtimeKey, objects.specKey, objects.workdirKey]).apply(([region, bucketName, runtimeKey, specKey, workdirKey]) =>
      renderStartupScript({ jobName: spec.name, region, bucket: bucketName, prefix: names.prefix, runtimeKey, specKey, workdirKey, groupNames }),
    );
    new JobCapacity(
      name,
      {
        imageId: args.imageId,
        instanceProfileArn: identity.instanceProfileArn,
        securityGroupId: network.securityGroupId,
        subnetIds: network.subnetIds,
        keyName: network.keyName,
        diskSizeGb: spec.disk_size,
        userData,
        primary: { name: names.spotGroup, instanceTypes: primary.types, market: primaryMarket },
        onDemand: fallback ? { name: names.onDemandGroup, instanceTypes: fallback.types } : undefined,
        tags,
      },
      // No instance boots before its permissions and files are in place.
      this.child({ dependsOn: [identity.rolePolicy, objects] }),
    );

    // Every AWS job has a budget (default $5) and only the supervisor can enforce it against a hung job.
    const config: Omit<SupervisorConfig, "store"> = {
      spot: { name: names.spotGroup, pricePerHour: primary.maxPrice },
      onDemand: fallback ? { name: names.onDemandGroup, pricePerHour: fallback.maxPrice } : undefined,
      policy: supervisorPolicy(spec, fallback !== undefined),
    };
    const supervisor = new JobSupervisor(
      name,
      { functionName: names.supervisorFunction, logGroupName: names.supervisorLogGroup, runtimeBundle: args.runtimeBundle, scope, config, tags },
      parent,
    );

    this.bucket = bucket.bucketName;
    this.prefix = names.prefix;
    this.store = bucket.bucketName.apply((b) => formatObjectStoreUrl("s3", b, names.prefix));
    this.groups = pulumi.output(groupNames);
    this.supervisor = supervisor.functionName;
    this.instancePolicy = identity.policy;
    this.uploads = pulumi.all([objects.runtimeKey, objects.specKey, objects.workdirKey]).apply((keys) => keys.filter((k): k is string => k !== undefined));
    this.registerOutputs({ bucket: this.bucket, store: this.store, groups: this.groups, supervisor: this.supervisor, uploads: this.uploads });
  }
}
