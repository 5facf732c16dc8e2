import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

/** The Deep Learning Base AMI (NVIDIA driver, Docker, NVIDIA container toolkit), resolved by EC2 at launch. */
export const DEFAULT_IMAGE = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id";

/** What the launch template needs to know about its image: where the root volume goes and how small it may be. */
export interface ImageRoot {
  imageId: string;
  /** The AMI's root device name (`/dev/sda1` on Ubuntu images, `/dev/xvda` on Amazon Linux and many custom ones). */
  rootDeviceName: string;
  /** Size of the root device's snapshot, GB: a root volume smaller than this fails every launch. */
  snapshotGb?: number;
}

/** The root device of an AMI as `aws.ec2.getAmi` describes it (its `ebs` map's keys are the provider's snake_case). */
export function imageRoot(image: { id: string; rootDeviceName: string; blockDeviceMappings?: { deviceName: string; ebs?: Record<string, string> }[] }): ImageRoot {
  const root = image.blockDeviceMappings?.find((m) => m.deviceName === image.rootDeviceName);
  const size = Number(root?.ebs?.volume_size ?? root?.ebs?.volumeSize);
  return { imageId: image.id, rootDeviceName: image.rootDeviceName, snapshotGb: Number.isFinite(size) && size > 0 ? size : undefined };
}

/** The root volume the template asks for: the spec's `disk_size`, raised to the image's snapshot size when that is larger. */
export function rootVolume(diskSizeGb: number, root: ImageRoot): { deviceName: string; sizeGb: number; raisedFrom?: number } {
  const sizeGb = Math.max(diskSizeGb, root.snapshotGb ?? 0);
  return { deviceName: root.rootDeviceName, sizeGb, ...(sizeGb > diskSizeGb ? { raisedFrom: diskSizeGb } : {}) };
}

/**
 * Resolves the image at preview, as EC2 would at launch: a `resolve:ssm:` parameter to its AMI id, the id to the
 * image (its root device and snapshot). An image that does not exist fails the preview instead of every launch.
 */
export function resolveImage(image: string, opts: pulumi.InvokeOutputOptions): pulumi.Output<ImageRoot> {
  // `insecureValue`: an AMI id is no secret, and `value` would mark the root volume secret in the preview.
  const id = image.startsWith("resolve:ssm:") ? aws.ssm.getParameterOutput({ name: image.slice("resolve:ssm:".length), withDecryption: false }, opts).insecureValue : pulumi.output(image);
  return id.apply((imageId) =>
    aws.ec2
      .getAmiOutput({ filters: [{ name: "image-id", values: [imageId] }], includeDeprecated: true }, opts)
      .apply((ami) => imageRoot({ id: ami.id || imageId, rootDeviceName: ami.rootDeviceName, blockDeviceMappings: ami.blockDeviceMappings })),
  );
}

export interface CapacityGroupArgs {
  /** The group's name (known in advance: the instance policy and the user data name it). */
  name: string;
  /** Instance types the group may launch, preferred first. */
  instanceTypes: string[];
}

export interface JobCapacityArgs {
  /** An AMI id, or `resolve:ssm:<parameter>`. Default `DEFAULT_IMAGE`. */
  imageId?: string;
  instanceProfileArn: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
  subnetIds: pulumi.Input<string[]>;
  keyName?: pulumi.Input<string | undefined>;
  /** Root volume, GB (the spec's `disk_size`). */
  diskSizeGb: number;
  /** The startup script (plain text; encoded here). */
  userData: pulumi.Input<string>;
  /** The job's group: one instance, all spot (replaced by Auto Scaling after a preemption) or, without `use_spot`, on-demand. */
  primary: CapacityGroupArgs & { market: "spot" | "on-demand" };
  /** On-demand standby at zero; the supervisor scales it to one when spot stays away (the spec's `spot_fallback`). */
  onDemand?: CapacityGroupArgs;
  tags?: Record<string, string>;
}

/**
 * The job's instances: one launch template (IMDSv2 only, encrypted root) and
 * Auto Scaling groups of at most one instance each. Pulumi sets the groups up;
 * afterwards their desired capacity belongs to the supervisor and the instance
 * (set to zero when the job ends), so a later `pulumi up` leaves it alone.
 */
export class JobCapacity extends pulumi.ComponentResource {
  readonly launchTemplateId: pulumi.Output<string>;
  readonly primaryGroupName: pulumi.Output<string>;
  readonly onDemandGroupName: pulumi.Output<string | undefined>;
  /** The root volume the template asks for (the image's root device; `disk_size` or the snapshot's size if larger). */
  readonly rootVolume: pulumi.Output<{ deviceName: string; sizeGb: number; raisedFrom?: number }>;

  constructor(name: string, args: JobCapacityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:aws:JobCapacity", name, {}, opts);
    const image = args.imageId ?? DEFAULT_IMAGE;
    // The image's own root device and snapshot size, read at preview: a mapping on another device adds an empty
    // volume instead of sizing the root, and a root smaller than the snapshot fails every launch.
    const root = resolveImage(image, { parent: this }).apply((r) => {
      const volume = rootVolume(args.diskSizeGb, r);
      if (volume.raisedFrom !== undefined)
        pulumi.log.warn(`spotjob: disk_size ${volume.raisedFrom} GB is smaller than the image's root snapshot (${r.imageId}, ${r.snapshotGb} GB): the root volume is ${volume.sizeGb} GB; set disk_size: ${volume.sizeGb} or more to silence this`, this);
      return volume;
    });
    this.rootVolume = root;
    const tagList = (extra: Record<string, string>) => Object.entries({ ...args.tags, ...extra }).map(([key, value]) => ({ key, value, propagateAtLaunch: true }));
    const template = new aws.ec2.LaunchTemplate(
      name,
      {
        imageId: image,
        iamInstanceProfile: { arn: args.instanceProfileArn },
        vpcSecurityGroupIds: [args.securityGroupId],
        keyName: args.keyName,
        userData: pulumi.output(args.userData).apply((script) => Buffer.from(script).toString("base64")),
        // IMDSv2 only; hop limit 2 so a container on the instance can still read the spot notice.
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
        blockDeviceMappings: [root.apply((v) => ({ deviceName: v.deviceName, ebs: { volumeSize: v.sizeGb, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }))],
        // The instance shuts itself down on no account; if it does, it is gone rather than a stopped, billed volume.
        instanceInitiatedShutdownBehavior: "terminate",
        tagSpecifications: ["instance", "volume"].map((resourceType) => ({ resourceType, tags: args.tags })),
        updateDefaultVersion: true,
        tags: args.tags,
      },
      { parent: this },
    );
    const group = (role: "spot" | "on-demand", g: CapacityGroupArgs, desired: number) =>
      new aws.autoscaling.Group(
        `${name}-${role}`,
        {
          name: g.name,
          minSize: 0,
          maxSize: 1,
          desiredCapacity: desired,
          vpcZoneIdentifiers: args.subnetIds,
          // Two copies of one job must not run at once: no launch-before-terminate rebalancing.
          capacityRebalance: false,
          mixedInstancesPolicy: {
            instancesDistribution:
              role === "spot"
                ? { onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: "price-capacity-optimized" }
                : { onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 100, onDemandAllocationStrategy: "prioritized" },
            launchTemplate: { launchTemplateSpecification: { launchTemplateId: template.id, version: "$Latest" }, overrides: g.instanceTypes.map((instanceType) => ({ instanceType })) },
          },
          // `pulumi up` returns at once; capacity arrives when the market has it.
          waitForCapacityTimeout: "0",
          tags: tagList({ "spotjob:market": role }),
        },
        { parent: this, ignoreChanges: ["desiredCapacity"] },
      );
    this.launchTemplateId = template.id;
    this.primaryGroupName = group(args.primary.market, args.primary, 1).name;
    this.onDemandGroupName = args.onDemand ? group("on-demand", args.onDemand, 0).name : pulumi.output(undefined);
    this.registerOutputs({ launchTemplateId: this.launchTemplateId, primaryGroupName: this.primaryGroupName, onDemandGroupName: this.onDemandGroupName });
  }
}
