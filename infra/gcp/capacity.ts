import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { instanceFlexibility, scheduling, type GroupPlan } from "./capacity-plan";

/**
 * The Deep Learning VM image: CUDA and the NVIDIA driver for Ubuntu, no
 * framework (the job's setup installs its own), the newest of the family at
 * each launch (https://cloud.google.com/deep-learning-vm/docs/images).
 */
export const DEFAULT_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu129-ubuntu-2404-nvidia-580";

/** The only scope a VM needs: IAM decides what it may do (the default scopes would make Storage read-only). */
export const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/** How `compute.getImage` finds an image given as a family or image path (`projects/P/global/images/[family/]X`), `family/X` or a name. Pure. */
export function imageLookup(image: string): { project?: string; family?: string; name?: string } {
  const m = /^(?:(?:https:\/\/(?:www|compute)\.googleapis\.com\/compute\/v1\/)?projects\/([^/]+)\/global\/images\/)?(family\/)?([^/]+)$/.exec(image);
  if (!m) throw new pulumi.RunError(`spotjob:image ${image} is not an image: give projects/PROJECT/global/images/NAME, projects/PROJECT/global/images/family/FAMILY, or an image name in the stack's project`);
  const [, project, family, rest] = m;
  return { ...(project ? { project } : {}), ...(family ? { family: rest } : { name: rest }) };
}

/** The boot disk: the spec's `disk_size`, raised to the image's size when that is larger (a smaller disk fails every launch). Pure. */
export function bootDiskGb(diskSizeGb: number, imageGb: number | undefined): { sizeGb: number; raisedFrom?: number } {
  const sizeGb = Math.max(diskSizeGb, imageGb ?? 0);
  return { sizeGb, ...(sizeGb > diskSizeGb ? { raisedFrom: diskSizeGb } : {}) };
}

export interface CapacityGroupArgs {
  /** The group's name (known in advance: the IAM conditions, the startup script and the supervisor name it). */
  name: string;
  plan: GroupPlan;
}

export interface JobCapacityArgs {
  project: pulumi.Input<string>;
  region: string;
  /** An image path or family (`spotjob:image`). Default `DEFAULT_IMAGE`. */
  image?: string;
  serviceAccountEmail: pulumi.Input<string>;
  network: pulumi.Input<string>;
  subnetwork?: pulumi.Input<string | undefined>;
  networkTag: string;
  /** The zones of the region the groups may use (capacity-plan.ts `groupZones`). */
  zones: pulumi.Input<string[]>;
  /** Boot disk, GB (the spec's `disk_size`). */
  diskSizeGb: number;
  /** The startup script (`startup-script` metadata): the only job value in the VM's metadata. */
  startupScript: pulumi.Input<string>;
  /** An SSH key to install (the spec's `ssh.public_key`), only with `ssh`. */
  sshPublicKey?: string;
  /** The spot notice GCP is asked to give ahead of the soft-off (Preview; an opt-in). */
  preemptionNoticeSeconds?: number;
  /** The job's group: one VM, spot (recreated by the group after a preemption) or, without `use_spot`, on-demand. */
  primary: CapacityGroupArgs;
  /** On-demand standby at zero; the supervisor resizes it to one when spot stays away (the spec's `spot_fallback`). */
  onDemand?: CapacityGroupArgs;
  labels?: Record<string, string>;
}

/**
 * The job's VMs: one regional instance template per market and a regional
 * managed instance group of at most one VM each. Every zone of the region
 * (or the spec's `zones`) is in the group, with the target shape
 * ANY_SINGLE_ZONE: when the group grows from zero GCP picks the zone that has
 * the capacity (https://cloud.google.com/compute/docs/instance-groups/regional-mig-distribution-shape);
 * that shape needs proactive redistribution off. Updates are opportunistic
 * with no surge (a changed template reaches the next VM the group creates,
 * and two copies of one job never run at once), and a repaired VM takes the
 * template as it is. Pulumi sets the groups up; afterwards their target size
 * belongs to the supervisor and the VM (zero when the job ends), so a later
 * `pulumi up` leaves it alone.
 */
export class JobCapacity extends pulumi.ComponentResource {
  readonly primaryGroupName: pulumi.Output<string>;
  readonly onDemandGroupName: pulumi.Output<string | undefined>;
  /** The boot disk the templates ask for. */
  readonly bootDisk: pulumi.Output<{ sizeGb: number; raisedFrom?: number }>;

  constructor(name: string, args: JobCapacityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spotjob:gcp:JobCapacity", name, {}, opts);
    const imagePath = args.image ?? DEFAULT_IMAGE;
    // The image's size, read at preview: a boot disk smaller than the image fails every launch.
    const image = gcp.compute.getImageOutput(imageLookup(imagePath), { parent: this });
    this.bootDisk = image.diskSizeGb.apply((imageGb) => {
      const disk = bootDiskGb(args.diskSizeGb, imageGb);
      if (disk.raisedFrom !== undefined)
        pulumi.log.warn(`spotjob: disk_size ${disk.raisedFrom} GB is smaller than the image ${imagePath} (${imageGb} GB): the boot disk is ${disk.sizeGb} GB; set disk_size: ${disk.sizeGb} or more to silence this`, this);
      return disk;
    });
    const metadata: Record<string, pulumi.Input<string>> = {
      "startup-script": args.startupScript,
      // The Deep Learning VM installs the NVIDIA driver at first boot when asked (https://cloud.google.com/deep-learning-vm/docs/cli#creating_an_instance_with_one_or_more_gpus).
      "install-nvidia-driver": "True",
      // Project-wide SSH keys never reach the job's VMs; only the spec's, with `ssh`.
      "block-project-ssh-keys": "TRUE",
      ...(args.sshPublicKey ? { "ssh-keys": `spotjob:${args.sshPublicKey}` } : {}),
    };
    const template = (role: "spot" | "on-demand", g: CapacityGroupArgs) =>
      new gcp.compute.RegionInstanceTemplate(
        `${name}-${role}`,
        {
          project: args.project,
          region: args.region,
          description: `spotjob: ${role} VMs of ${g.name}`,
          machineType: g.plan.machineTypes[0],
          disks: [{ boot: true, autoDelete: true, sourceImage: image.selfLink, diskSizeGb: this.bootDisk.sizeGb, diskType: "pd-balanced" }],
          ...(g.plan.attach ? { guestAccelerators: [{ type: g.plan.attach.type, count: g.plan.attach.count }] } : {}),
          scheduling: scheduling(g.plan.market, g.plan.market === "spot" ? args.preemptionNoticeSeconds : undefined),
          // vTPM and integrity monitoring; Secure Boot stays off, as GCP's default has it: it refuses unsigned kernel modules, and the driver is installed at first boot.
          shieldedInstanceConfig: { enableSecureBoot: false, enableVtpm: true, enableIntegrityMonitoring: true },
          serviceAccount: { email: args.serviceAccountEmail, scopes: [CLOUD_PLATFORM_SCOPE] },
          metadata,
          // An ephemeral external address for outbound traffic only: the job's firewall rules refuse inbound connections.
          networkInterfaces: [{ network: args.network, subnetwork: args.subnetwork, accessConfigs: [{}] }],
          tags: [args.networkTag],
          labels: args.labels,
        },
        { parent: this },
      );
    const zones = pulumi.output(args.zones);
    const group = (role: "spot" | "on-demand", g: CapacityGroupArgs, targetSize: number) => {
      return new gcp.compute.RegionInstanceGroupManager(
        `${name}-${role}`,
        {
          project: args.project,
          region: args.region,
          name: g.name,
          description: `spotjob: at most one ${role} VM of the job`,
          baseInstanceName: `${args.networkTag}-${role === "spot" ? "s" : "o"}`,
          versions: [{ name: role, instanceTemplate: template(role, g).selfLink }],
          targetSize,
          distributionPolicyZones: zones,
          distributionPolicyTargetShape: "ANY_SINGLE_ZONE",
          // A regional group's fixed surge and unavailability are 0 or at least its number of zones.
          updatePolicy: zones.apply((z) => ({ type: "OPPORTUNISTIC", minimalAction: "REPLACE", instanceRedistributionType: "NONE", maxSurgeFixed: 0, maxUnavailableFixed: z.length })),
          instanceLifecyclePolicy: { defaultActionOnFailure: "REPAIR", forceUpdateOnRepair: "YES" },
          ...(instanceFlexibility(g.plan) ? { instanceFlexibilityPolicy: instanceFlexibility(g.plan) } : {}),
          // `pulumi up` returns at once; capacity arrives when the market has it.
          waitForInstances: false,
        },
        { parent: this, ignoreChanges: ["targetSize"] },
      );
    };
    this.primaryGroupName = group(args.primary.plan.market, args.primary, 1).name;
    this.onDemandGroupName = args.onDemand ? group("on-demand", args.onDemand, 0).name : pulumi.output(undefined);
    this.registerOutputs({ primaryGroupName: this.primaryGroupName, onDemandGroupName: this.onDemandGroupName });
  }
}
